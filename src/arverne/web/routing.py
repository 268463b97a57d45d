"""Routes that commit their transaction in the thread that ran them.

FastAPI runs a synchronous endpoint in one worker thread and the teardown of its
dependencies (here: the commit of the request's session) in another, after a trip
through the event loop. On SQLite the write lock is held from the first write until the
commit, so that trip, queued behind other requests, lengthened every write transaction
several times over. :class:`TransactionalRoute` commits the session as the endpoint
returns, in the endpoint's own thread; the dependency's commit then finds nothing to do.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from arverne.store.session import begin_read_phase
from arverne.web.deps import SAFE_METHODS


def commit_on_return(endpoint: Callable[..., Any], *, read_only: bool) -> Callable[..., Any]:
    """Wrap a synchronous endpoint so it commits its sessions before returning.

    With ``read_only`` (GET/HEAD routes) a session not yet in a transaction begins a
    deferred one. Coroutine endpoints are returned unchanged (they run on the event loop,
    where no database work happens). An exception skips the commit: the dependency rolls
    back.
    """
    if inspect.iscoroutinefunction(endpoint):
        return endpoint

    @functools.wraps(endpoint)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if read_only:
            for value in kwargs.values():
                if isinstance(value, Session):
                    begin_read_phase(value)
        result = endpoint(*args, **kwargs)
        for value in kwargs.values():
            if isinstance(value, Session) and value.in_transaction():
                value.commit()
        return result

    return wrapper


class TransactionalRoute(APIRoute):
    """An API route whose synchronous endpoint commits in its own thread."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        methods = {m.upper() for m in kwargs.get("methods") or ("GET",)}
        read_only = methods <= SAFE_METHODS
        super().__init__(path, commit_on_return(endpoint, read_only=read_only), **kwargs)
