"""Accounts: passwords set by somebody else are temporary.

``users.must_change_password``: true once an administrator (or ``arverne user ... --generate``)
has set the password; the owner must choose their own at the next sign-in before doing
anything else. False for every existing account.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the flag, false for the accounts that exist."""
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column(
                "must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )


def downgrade() -> None:
    """Drop the flag."""
    with op.batch_alter_table("users") as batch:
        batch.drop_column("must_change_password")
