"""The content ledger (upload hashes) and the takedown sweep: its hits and its state.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ledger",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("content_id", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signal_type", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("quality", sa.Integer(), nullable=True),
        sa.Column("candidate", sa.String(length=64), nullable=True),
        sa.Column("detailed", sa.Boolean(), nullable=True),
        sa.Column("seen_seq", sa.BigInteger(), nullable=False),
        sa.Column("matched", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_content_id", ["content_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ledger_recorded_at"), ["recorded_at"], unique=False)

    op.create_table(
        "ledger_forgets",
        sa.Column("content_id", sa.String(length=200), nullable=False),
        sa.Column("forgotten_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("content_id"),
    )
    with op.batch_alter_table("ledger_forgets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_forgets_forgotten_at"), ["forgotten_at"], unique=False
        )

    op.create_table(
        "sweep_hits",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("content_id", sa.String(length=200), nullable=False),
        sa.Column("hash_id", sa.BigInteger(), nullable=False),
        sa.Column("bank", sa.String(length=100), nullable=False),
        sa.Column("signal_type", sa.String(length=16), nullable=False),
        sa.Column("distance", sa.Integer(), nullable=False),
        sa.Column("candidate", sa.String(length=64), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("change_seq", sa.BigInteger(), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("sweep_hits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sweep_hits_found_at"), ["found_at"], unique=False)
        batch_op.create_index("uq_sweep_hits", ["content_id", "hash_id", "verdict"], unique=True)

    op.create_table(
        "sweep_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("change_seq", sa.BigInteger(), nullable=False),
        sa.Column("review_seq", sa.BigInteger(), nullable=False),
        sa.Column("ledger_seq", sa.BigInteger(), nullable=False),
        sa.Column("hashes_swept", sa.BigInteger(), nullable=False),
        sa.Column("contents_found", sa.BigInteger(), nullable=False),
        sa.Column("last_sweep_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sweep_seconds", sa.Float(), nullable=True),
        sa.Column("banks", sa.JSON(), nullable=True),
        sa.Column("lag", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("sweep_state")
    with op.batch_alter_table("sweep_hits", schema=None) as batch_op:
        batch_op.drop_index("uq_sweep_hits")
        batch_op.drop_index(batch_op.f("ix_sweep_hits_found_at"))

    op.drop_table("sweep_hits")
    with op.batch_alter_table("ledger_forgets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_forgets_forgotten_at"))

    op.drop_table("ledger_forgets")
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_recorded_at"))
        batch_op.drop_index("ix_ledger_content_id")

    op.drop_table("ledger")
