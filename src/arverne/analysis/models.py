"""Stored forecast runs: what was fitted, on which data, by whom and why."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from arverne.store.base import Base
from arverne.store.types import UTCDateTime, utcnow


class ForecastRun(Base):
    """One forecast run (place-based; no person data ever enters a model)."""

    __tablename__ = "forecast_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    created_by: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # "ok" or "failed"
    error: Mapped[str | None] = mapped_column(Text)
    train_start: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    train_end: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    horizon_end: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    cell_m: Mapped[float] = mapped_column(Float)
    coverage: Mapped[float] = mapped_column(Float)
    n_training_events: Mapped[int] = mapped_column(Integer, default=0)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    excluded: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    record: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    top_cells: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    flagged: Mapped[list[list[int]]] = mapped_column(JSON, default=list)  # [row, col] pairs
    backtest: Mapped[dict[str, Any] | None] = mapped_column(JSON)
