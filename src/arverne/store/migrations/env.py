"""Alembic environment: the one place where ``store`` imports the domain models."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from arverne.store.base import Base
from arverne.store.models import import_all_models
from arverne.store.session import make_engine

import_all_models()
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run migrations on the connection handed over by the caller, or a new one."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as new_connection:
        _run(new_connection)
    engine.dispose()


if context.is_offline_mode():
    msg = "offline (SQL script) migrations are not supported; run `arverne db upgrade`"
    raise SystemExit(msg)
run_migrations_online()
