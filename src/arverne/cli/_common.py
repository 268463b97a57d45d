"""Shared CLI plumbing: settings, database access, audit context, error handling."""

from __future__ import annotations

import contextlib
import getpass
import os
from collections.abc import Iterator

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.errors import ConflictError, InvalidInputError, NotFoundError
from arverne.security.audit import AuditContext
from arverne.store.migrate import current_revision, head_revision
from arverne.store.session import make_engine, make_sessionmaker, session_scope

console = Console()
err_console = Console(stderr=True)
USAGE_ERROR = 2


def fail(message: str, *, code: int = USAGE_ERROR) -> typer.Exit:
    """Print ``message`` on stderr and return the exit to raise."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def load_settings() -> Settings:
    """Read the settings, turning a bad environment variable into exit code 2."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"ARVERNE_{'_'.join(str(p) for p in err['loc']).upper() or 'SETTINGS'}: {err['msg']}"
            for err in exc.errors()
        )
        raise fail(f"invalid settings: {problems}") from exc


def engine_for(settings: Settings) -> Engine:
    """Return an engine on the configured database."""
    return make_engine(settings.database_url, echo=settings.sql_echo)


def require_migrated(engine: Engine) -> None:
    """Refuse to work on a database that is not at the newest migration."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise fail(
            f"the database is at revision {current or 'none'}, this version needs {head}: "
            "run `arverne db upgrade` first"
        )


@contextlib.contextmanager
def db_session(settings: Settings) -> Iterator[Session]:
    """Open one transaction on the configured (migrated) database."""
    engine = engine_for(settings)
    try:
        require_migrated(engine)
        with session_scope(make_sessionmaker(engine)) as session:
            yield session
    finally:
        engine.dispose()


def cli_context() -> AuditContext:
    """Audit context for CLI actions: the operating-system account that ran them."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = str(os.getuid())
    return AuditContext(actor=f"cli:{who}", client_addr="local")


@contextlib.contextmanager
def domain_errors() -> Iterator[None]:
    """Turn domain errors into a one-line message and exit code 2 (nothing is saved)."""
    try:
        yield
    except (InvalidInputError, ConflictError, NotFoundError) as exc:
        allowed = getattr(exc, "allowed", None)
        raise fail(str(exc) + (f" (allowed: {', '.join(allowed)})" if allowed else "")) from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'input'}: {err['msg']}"
            for err in exc.errors()
        )
        raise fail(f"invalid input: {problems}") from exc
