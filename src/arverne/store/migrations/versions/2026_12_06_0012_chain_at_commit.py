"""Audit entries and live events are chained inside the commit (PostgreSQL).

Until now every write transaction ended, on PostgreSQL, with four statements under the
audit-chain head's row lock (lock the head, insert the entries, insert the events, move
the head) before its ``COMMIT``: the lock stayed held across four round trips to an
application whose event loop, under load, served other requests between them, and
every write of every server process queued behind it.

Now a transaction inserts its entries into ``audit_entries_staging`` and its events into
``events_staging``, without any lock. Constraint triggers deferred to the commit
(``DEFERRABLE INITIALLY DEFERRED``) then lock the head, number and hash each entry in
insertion order with the same canonical text as :func:`arverne.security.audit.entry_hash`
(its parts around the previous hash and the number come from the application), move
the rows to ``audit_entries`` and ``events`` and delete them from the staging tables.
The head lock is taken and released inside ``COMMIT``.

The staging tables exist on SQLite too (the models are the same everywhere) but stay
unused there: a SQLite transaction already holds the database's only write lock.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# Lock the chain head (creating it on a database's first use) into head_seq, head_hash.
_LOCK_HEAD = """
    SELECT seq, hash INTO head_seq, head_hash FROM audit_head WHERE id = 1 FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, repeat('0', 64))
        ON CONFLICT (id) DO NOTHING;
        SELECT seq, hash INTO head_seq, head_hash FROM audit_head WHERE id = 1 FOR UPDATE;
    END IF;
"""

_CHAIN_AUDIT_ENTRY = """
CREATE OR REPLACE FUNCTION arverne_chain_audit_entry() RETURNS trigger AS $$
DECLARE
    head_seq bigint;
    head_hash varchar(64);
    new_hash varchar(64);
BEGIN
    -- lock the head
    head_seq := head_seq + 1;
    new_hash := encode(sha256(convert_to(
        NEW.hash_head || head_hash || NEW.hash_mid || head_seq::text || '}', 'UTF8')), 'hex');
    INSERT INTO audit_entries (seq, at, actor_id, actor, action, object_type, object_id,
                               reason, request_id, client_addr, details, prev_hash, hash)
    VALUES (head_seq, NEW.at, NEW.actor_id, NEW.actor, NEW.action, NEW.object_type,
            NEW.object_id, NEW.reason, NEW.request_id, NEW.client_addr, NEW.details,
            head_hash, new_hash);
    UPDATE audit_head SET seq = head_seq, hash = new_hash WHERE id = 1;
    DELETE FROM audit_entries_staging WHERE id = NEW.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
""".replace("    -- lock the head\n", _LOCK_HEAD)

_PUBLISH_EVENT = """
CREATE OR REPLACE FUNCTION arverne_publish_event() RETURNS trigger AS $$
DECLARE
    head_seq bigint;
    head_hash varchar(64);
BEGIN
    -- lock the head
    INSERT INTO events (at, kind, permission, payload)
    VALUES (NEW.at, NEW.kind, NEW.permission, NEW.payload);
    DELETE FROM events_staging WHERE id = NEW.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
""".replace("    -- lock the head\n", _LOCK_HEAD)

_TRIGGERS = (
    ("audit_entries_chained", "audit_entries_staging", "arverne_chain_audit_entry"),
    ("events_published", "events_staging", "arverne_publish_event"),
)


def upgrade() -> None:
    """Create the staging tables and, on PostgreSQL, their deferred triggers."""
    op.create_table(
        "audit_entries_staging",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=64), nullable=True),
        sa.Column("object_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("client_addr", sa.String(length=64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("hash_head", sa.Text(), nullable=False),
        sa.Column("hash_mid", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries_staging")),
    )
    op.create_table(
        "events_staging",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("permission", sa.String(length=48), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events_staging")),
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_CHAIN_AUDIT_ENTRY)
    op.execute(_PUBLISH_EVENT)
    for trigger, table, function in _TRIGGERS:
        op.execute(
            f"CREATE CONSTRAINT TRIGGER {trigger} AFTER INSERT ON {table} "
            f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {function}()"
        )


def downgrade() -> None:
    """Drop the triggers, their functions and the staging tables."""
    if op.get_bind().dialect.name == "postgresql":
        for trigger, table, function in _TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    op.drop_table("events_staging")
    op.drop_table("audit_entries_staging")
