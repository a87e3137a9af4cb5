"""Images banked from media: the parts (crops, caption bands, small rotations) of each.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hash_parts",
        sa.Column("hash_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("quality", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["hash_id"], ["hashes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("hash_id", "position"),
    )


def downgrade() -> None:
    op.drop_table("hash_parts")
