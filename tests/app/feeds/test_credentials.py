"""Feed credentials: the feed's own variable, then the kind's, from the environment first,
then the secrets file."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.feeds.base import FeedRefused
from app.feeds.credentials import Credentials, env_name, read_secrets_file
from app.feeds.kinds import BUILDERS
from app.store.feeds import KINDS


def test_lookup_order(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.env"
    secrets.write_text(
        "# mounted by the orchestrator\n"
        "HASHWALL_STOPNCII_FETCH_KEY='from-file'\n"
        "export HASHWALL_FEED_EU_2_FEEDBACK_KEY=own-feedback\n"
    )
    environ = {"HASHWALL_STOPNCII_SUBSCRIPTION_KEY": "from-env", "HASHWALL_FEED_EU_2_FETCH_KEY": ""}
    credentials = Credentials("eu-2", "stopncii", secrets, environ)
    assert credentials.names("FETCH_KEY") == (
        "HASHWALL_FEED_EU_2_FETCH_KEY",
        "HASHWALL_STOPNCII_FETCH_KEY",
    )
    assert credentials.get("SUBSCRIPTION_KEY") == "from-env"
    assert credentials.get("FETCH_KEY") == "from-file"  # an empty variable counts as unset
    assert credentials.get("FEEDBACK_KEY") == "own-feedback"
    with pytest.raises(FeedRefused, match="HASHWALL_STOPNCII_TOKEN"):
        credentials.require("TOKEN")
    with pytest.raises(FeedRefused, match="cannot be read"):
        read_secrets_file(tmp_path / "missing")
    assert env_name("feed", "a.b c") == "HASHWALL_FEED_A_B_C"


def test_every_kind_has_an_adapter() -> None:
    assert set(BUILDERS) == set(KINDS)
