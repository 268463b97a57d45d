"""The app built for ``arverne serve`` keeps its startup objects out of the GC's work."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from arverne.cli import serve
from arverne.web import app as app_module


def test_served_app_freezes_what_startup_built(monkeypatch: pytest.MonkeyPatch) -> None:
    built = object()
    monkeypatch.setattr(app_module, "create_app", lambda: built)
    gc.unfreeze()
    try:
        assert app_module.create_served_app() is built
        assert gc.get_freeze_count() > 1000  # modules, app, city: all frozen
    finally:
        gc.unfreeze()


def test_serve_runs_the_served_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ARVERNE_DATABASE_URL", f"sqlite:///{tmp_path / 'a.db'}")
    calls: list[tuple[object, dict[str, object]]] = []
    monkeypatch.setattr(serve.uvicorn, "run", lambda target, **kw: calls.append((target, kw)))
    monkeypatch.setattr(serve, "require_migrated", lambda _engine: None)
    serve.serve(host="127.0.0.1", port=8123, workers=2)
    assert calls[0][0] == "arverne.web.app:create_served_app"
    assert calls[0][1]["factory"] is True
    assert calls[0][1]["workers"] == 2
