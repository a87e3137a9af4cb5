"""`hashwall keys`: create, list and revoke API keys."""

from __future__ import annotations

import json
from typing import Any

import click

from app.auth import SCOPES, create_key, list_keys, revoke_key
from app.config import Settings
from app.console import cli_actor, database, fail, show
from app.errors import HashwallError


@click.group()
def keys() -> None:
    """API keys."""


@keys.command("create")
@click.option("--name", required=True)
@click.option("--scopes", required=True, help=f"Comma-separated: {', '.join(sorted(SCOPES))}.")
@click.option("--json", "as_json", is_flag=True, help='Print {"key": ...} as JSON.')
def keys_create(name: str, scopes: str, as_json: bool) -> None:
    """Create a key. Its secret is printed once and cannot be shown again."""
    scope_list = [s.strip() for s in scopes.split(",") if s.strip()]
    try:
        with database(Settings()) as session:
            secret = create_key(session, name, scope_list, cli_actor())
    except HashwallError as error:
        fail(error.detail)
    if as_json:
        click.echo(json.dumps({"key": secret, "name": name, "scopes": sorted(scope_list)}))
    else:
        click.echo(secret)


@keys.command("list")
@click.option("--json", "as_json", is_flag=True)
def keys_list(as_json: bool) -> None:
    """List keys (names, prefixes and scopes, never secrets)."""
    with database(Settings()) as session:
        rows: list[dict[str, Any]] = [
            {
                "name": k.name,
                "prefix": k.prefix,
                "scopes": k.scopes,
                "created_at": k.created_at.isoformat(),
                "revoked": k.revoked_at is not None,
            }
            for k in list_keys(session)
        ]
    show(
        rows,
        as_json,
        "{name}\t{prefix}…\t{scope_list}\t{state}",
        "no keys yet: create one with `hashwall keys create`",
        scope_list=lambda r: ",".join(r["scopes"]),
        state=lambda r: "revoked" if r["revoked"] else "active",
    )


@keys.command("revoke")
@click.argument("name")
def keys_revoke(name: str) -> None:
    """Revoke a key; it stops working on its next request."""
    try:
        with database(Settings()) as session:
            revoke_key(session, name, cli_actor())
    except HashwallError as error:
        fail(error.detail)
    click.echo(f"key {name} revoked")
