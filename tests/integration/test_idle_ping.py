"""PostgreSQL connections are checked before use only after they have been idle."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, text

from arverne.store import session as store_session
from arverne.store.session import make_engine


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_in_use_is_not_pinged_an_idle_lost_one_is_replaced(
    database_url: str, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has no connection to lose")
    engine = make_engine(database_url, pool_size=1)
    pings: list[Any] = []
    real_ping = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(dbapi_connection)
        return bool(real_ping(dbapi_connection))

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    try:
        first = _backend_pid(engine)
        assert _backend_pid(engine) == first  # used a moment ago: handed out as it is
        assert pings == []
        admin = make_engine(database_url, pool_size=1)
        with admin.begin() as other:  # the database drops the pooled connection
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        admin.dispose()
        monkeypatch.setattr(store_session, "IDLE_PING_S", 0.0)  # it now counts as idle
        replaced = _backend_pid(engine)  # pinged, found lost, replaced: no error
        assert replaced != first
        assert len(pings) >= 1
        pings.clear()
        monkeypatch.setattr(store_session, "IDLE_PING_S", 60.0)
        assert _backend_pid(engine) == replaced
        assert pings == []
    finally:
        engine.dispose()
