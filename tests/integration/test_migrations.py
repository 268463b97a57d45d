"""Alembic is the only way the schema changes, and it matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from arverne.store import migrate
from arverne.store.base import Base
from arverne.store.models import import_all_models
from arverne.store.session import make_engine


def test_migrations_match_the_models(engine: Engine) -> None:
    import_all_models()
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == [], f"models and migrations differ; add a revision: {diff}"


def test_database_is_at_head(engine: Engine) -> None:
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_upgrade_downgrade_upgrade(fresh_database_url: str) -> None:
    eng = make_engine(fresh_database_url)
    try:
        assert migrate.current_revision(eng) is None
        migrate.upgrade(eng)
        assert "audit_entries" in inspect(eng).get_table_names()
        migrate.downgrade(eng, "base")
        assert "audit_entries" not in inspect(eng).get_table_names()
        migrate.upgrade(eng)
        assert migrate.current_revision(eng) == migrate.head_revision()
    finally:
        eng.dispose()


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path: object) -> None:
    eng = make_engine(f"sqlite:///{tmp_path}/wal.db")
    try:
        with eng.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        eng.dispose()
