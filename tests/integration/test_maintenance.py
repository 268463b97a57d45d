"""Retention purges: AVL history after two months, old events and idempotency keys."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from typer.testing import CliRunner

from arverne.cli import app
from arverne.dispatch import service
from arverne.dispatch.models import Event, UnitPosition
from arverne.dispatch.schemas import PositionIn, UnitIn
from arverne.dispatch.status import UnitType
from arverne.security import audit
from arverne.security.models import AuditEntry
from arverne.store.session import make_engine, make_sessionmaker
from arverne.store.types import utcnow
from arverne.web.scheduler import purge_once
from tests.conftest import make_settings
from tests.data import TEST_CTX

runner = CliRunner()


def _seed(url: str) -> int:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        unit = service.create_unit(
            session, TEST_CTX, UnitIn(call_sign="V-1", unit_type=UnitType.CAR)
        )
        now = utcnow()
        for days in (90, 62, 60, 1, 0):
            at = now - dt.timedelta(days=days)
            service.record_position(session, TEST_CTX, unit, PositionIn(lon=3.08, lat=45.77, at=at))
        audit.write_pending(session)  # events are otherwise written at commit
        old = session.scalars(select(Event)).first()
        assert old is not None
        old.at = now - dt.timedelta(days=30)
        session.commit()
        unit_id = unit.id
    engine.dispose()
    return unit_id


def test_cli_purge_keeps_two_months_and_the_last_position(migrated_database_url: str) -> None:
    unit_id = _seed(migrated_database_url)
    result = runner.invoke(
        app,
        ["maintenance", "purge"],
        env={"ARVERNE_DATABASE_URL": migrated_database_url, "COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "unit positions" in result.output
    engine = make_engine(migrated_database_url)
    with make_sessionmaker(engine)() as session:
        kept = session.scalars(select(UnitPosition.at).order_by(UnitPosition.at)).all()
        assert len(kept) == 3  # 60, 1 and 0 days old; 90 and 62 went
        unit = service.get_unit(session, unit_id)
        assert unit.last_position_at is not None
        assert (
            session.scalar(
                select(func.count())
                .select_from(Event)
                .where(Event.at < utcnow() - dt.timedelta(days=8))
            )
            == 0
        )
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "maintenance.purge")
        ).one()
        assert entry.details["positions"] == 2
        assert entry.details["events"] == 1
    engine.dispose()


def test_scheduled_purge_uses_the_settings(migrated_database_url: str) -> None:
    _seed(migrated_database_url)
    settings = make_settings(migrated_database_url, position_retention_days=30)
    engine = make_engine(migrated_database_url)
    report = purge_once(make_sessionmaker(engine), settings)
    assert report["positions"] == 3
    assert purge_once(make_sessionmaker(engine), settings)["positions"] == 0
    engine.dispose()
