"""Registry of the modules that define ORM models (used by Alembic and the tests)."""

from __future__ import annotations

import importlib

MODEL_MODULES = (
    "arverne.security.models",
    "arverne.people.models",
    "arverne.dispatch.models",
    "arverne.analysis.models",
)


def import_all_models() -> None:
    """Import every module that defines tables so ``Base.metadata`` knows them all."""
    for name in MODEL_MODULES:
        importlib.import_module(name)
