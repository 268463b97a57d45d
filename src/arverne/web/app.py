"""Application factory."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

import arverne
from arverne.config import Settings, get_settings
from arverne.dispatch.city import CityModel
from arverne.dispatch.citypack import load_city
from arverne.dispatch.publish import checks_for
from arverne.security.audit import write_batch_rows
from arverne.security.principal import PrincipalCache, install_credential_watch
from arverne.store.batch import GroupCommit
from arverne.store.gate import gate_of
from arverne.store.session import make_engine, make_sessionmaker
from arverne.web import problems, scheduler
from arverne.web.console import mount_console
from arverne.web.events import EventHub
from arverne.web.middleware import RequestContextMiddleware
from arverne.web.routes import (
    analysis,
    audit,
    auth,
    dutylog,
    eido,
    eido_retrieval,
    eido_ws,
    events,
    geo,
    health,
    incidents,
    kpi,
    links,
    offences,
    officers,
    places,
    units,
    users,
)

# Every router of the API, in the order they are mounted (the RBAC test walks them).
# A request is matched against the routes in this order, route by route (about 2 us
# each): the dispatch routes that take the load come first.
ROUTERS = (
    incidents.router,
    units.router,
    health.router,
    auth.router,
    auth.roles_router,
    users.router,
    audit.router,
    links.router,
    places.router,
    eido.router,
    eido_retrieval.router,
    officers.router,
    dutylog.router,
    kpi.router,
    offences.router,
    events.router,
    geo.router,
    analysis.router,
)


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    session_factory: sessionmaker[Session] | None = None,
    city: CityModel | None = None,
) -> FastAPI:
    """Build the web application.

    Parameters
    ----------
    settings
        Platform settings; read from the environment when omitted.
    engine
        Database engine; made from ``settings.database_url`` when omitted.
    session_factory
        Session factory; tests pass one bound to a connection they roll back.
    city
        City model for geocoding and travel times; loaded from ``settings.city_pack``
        when omitted (straight-line estimates when no pack is configured).
    """
    settings = settings or get_settings()
    engine = engine or make_engine(settings.database_url, echo=settings.sql_echo)
    factory = session_factory or make_sessionmaker(engine)
    owns_engine = session_factory is None
    install_credential_watch()  # cached principals are dropped when credentials change
    hub = EventHub(factory)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        tasks = []
        if owns_engine and settings.purge_interval_hours > 0:
            tasks.append(asyncio.create_task(scheduler.purge_forever(factory, settings)))
        if owns_engine and checks_for(settings):
            tasks.append(asyncio.create_task(scheduler.checks_forever(factory, settings)))
        if settings.demo_live:
            from arverne.demo.live import LiveShift

            live = LiveShift(
                factory,
                settings,
                app.state.city,
                speed=settings.demo_speed,
                rate_per_hour=settings.demo_rate_per_hour,
                auto_dispatch_s=settings.demo_auto_dispatch_s,
            )
            tasks.append(asyncio.create_task(live.run()))
        yield
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await hub.stop()
        if app.state.group_commit is not None:
            await app.state.group_commit.aclose()
        if owns_engine:
            engine.dispose()

    app = FastAPI(
        title="Arverne",
        version=arverne.__version__,
        summary="Open-source police operations platform",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = factory
    app.state.hub = hub
    app.state.principal_cache = PrincipalCache(settings.auth_cache_seconds)
    app.state.group_commit = _group_commit(factory, engine) if owns_engine else None
    app.state.city = city or load_city(settings)
    logging.getLogger("arverne").setLevel(settings.log_level)

    problems.install(app)
    app.add_middleware(RequestContextMiddleware)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(eido_ws.router)  # a WebSocket: outside ROUTERS and the OpenAPI schema
    mount_console(app)  # HTML pages and /static, outside ROUTERS and the OpenAPI schema
    return app


def _group_commit(factory: sessionmaker[Session], engine: Engine) -> GroupCommit | None:
    """Write requests share transactions (group commit): every short write route on a
    gated SQLite file, intakes on PostgreSQL. Not with a caller's session factory (tests
    bind theirs to a transaction they roll back)."""
    gate = gate_of(engine)
    if gate is None and engine.dialect.name != "postgresql":
        return None  # an in-memory SQLite database, say
    return GroupCommit(factory, engine, gate=gate, finish=write_batch_rows)


def create_served_app() -> FastAPI:
    """Build the application as ``arverne serve`` runs it, one per worker process.

    After the build (modules imported, city loaded) the objects alive are moved out of
    the garbage collector's reach (:func:`gc.freeze`): they live as long as the process,
    and a full collection over them took about 100 ms, a pause every request in flight
    then waited for. Objects made later are collected as usual.
    """
    app = create_app()
    gc.collect()
    gc.freeze()
    return app
