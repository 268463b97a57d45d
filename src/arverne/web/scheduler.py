"""Background work while the server runs: retention purges and status-check expiries."""

from __future__ import annotations

import asyncio
import logging

import anyio
from sqlalchemy.orm import Session, sessionmaker

from arverne.config import Settings
from arverne.dispatch.checks import raise_due_checks
from arverne.maintenance import service
from arverne.security.audit import SYSTEM
from arverne.store.session import session_scope

logger = logging.getLogger("arverne.maintenance")
FIRST_RUN_DELAY_S = 60.0
# Status-check expiries reach the duty log within this delay (consoles show them at once).
CHECK_INTERVAL_S = 10.0


def purge_once(factory: sessionmaker[Session], settings: Settings) -> dict[str, int]:
    """Run one retention purge in its own transaction and log what went."""
    with session_scope(factory) as session:
        report = service.purge(session, settings, SYSTEM)
    logger.info("retention purge: %s", report.as_dict())
    return report.as_dict()


async def purge_forever(factory: sessionmaker[Session], settings: Settings) -> None:
    """Purge a minute after start, then every ``settings.purge_interval_hours``."""
    interval = settings.purge_interval_hours * 3600
    await asyncio.sleep(min(FIRST_RUN_DELAY_S, interval))
    while True:
        try:
            await anyio.to_thread.run_sync(purge_once, factory, settings)
        except Exception:  # a failed purge must not stop the server; it retries next time
            logger.exception("retention purge failed")
        await asyncio.sleep(interval)


def check_once(factory: sessionmaker[Session], settings: Settings) -> int:
    """Log the status-check timers that ran out since the last call; return how many."""
    with session_scope(factory) as session:
        raised = raise_due_checks(session, settings)
        names = [unit.call_sign for unit in raised]
    if names:
        logger.info("status checks due: %s", ", ".join(names))
    return len(names)


async def checks_forever(factory: sessionmaker[Session], settings: Settings) -> None:
    """Every ``CHECK_INTERVAL_S``, write the status-check expiries to the duty log."""
    while True:
        await asyncio.sleep(CHECK_INTERVAL_S)
        try:
            await anyio.to_thread.run_sync(check_once, factory, settings)
        except Exception:  # e.g. the database restarting: the next round catches up
            logger.exception("status-check round failed")
