"""Offence reference: the articles of law, and a search key.

``offence_codes.defined_by`` and ``punished_by`` keep the articles that define the
offence and set its penalty (the NATINF list's "Définie par" and "Réprimée par");
``search_key`` is the code and label in lower case without accents, which searches
match the same way on SQLite and PostgreSQL. Existing rows get their key here.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 09:45:00
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _key(code: str, label: str) -> str:
    text = unicodedata.normalize("NFKD", f"{code} {label}").encode("ascii", "ignore").decode()
    return " ".join(text.lower().split())


def upgrade() -> None:
    """Add the columns and compute the key of the codes already stored."""
    with op.batch_alter_table("offence_codes") as batch:
        batch.add_column(sa.Column("defined_by", sa.Text(), nullable=True))
        batch.add_column(sa.Column("punished_by", sa.Text(), nullable=True))
        batch.add_column(sa.Column("search_key", sa.Text(), nullable=False, server_default=""))
    bind = op.get_bind()
    codes = sa.table(
        "offence_codes", sa.column("code"), sa.column("label"), sa.column("search_key")
    )
    rows = bind.execute(sa.select(codes.c.code, codes.c.label)).all()
    if rows:
        bind.execute(
            codes.update().where(codes.c.code == sa.bindparam("b_code")),
            [{"b_code": code, "search_key": _key(str(code), str(label))} for code, label in rows],
        )


def downgrade() -> None:
    """Drop the columns."""
    with op.batch_alter_table("offence_codes") as batch:
        batch.drop_column("search_key")
        batch.drop_column("punished_by")
        batch.drop_column("defined_by")
