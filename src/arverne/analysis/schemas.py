"""Wire schemas of the analysis domain."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ForecastIn(BaseModel):
    """A forecast request; the reason is logged with the run."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["naive", "decay", "kde", "prospective", "etas", "gbm"] = "decay"
    reason: str = Field(min_length=3, max_length=500, description="Why it is run (logged)")
    train_days: float = Field(default=365, ge=14, le=3660)
    horizon_days: float = Field(default=7, ge=1, le=90)
    cell_m: float = Field(default=200, ge=25, le=2000)
    coverage: float = Field(default=0.05, gt=0, le=0.5)
    categories: list[str] | None = None


class ForecastRunOut(BaseModel):
    """A stored forecast run."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: dt.datetime
    created_by: str
    reason: str
    method: str
    status: str
    error: str | None
    train_start: dt.datetime | None
    train_end: dt.datetime | None
    horizon_end: dt.datetime | None
    cell_m: float
    coverage: float
    n_training_events: int
    categories: list[str]
    excluded: dict[str, int]
    record: dict[str, Any]
    top_cells: dict[str, Any] | None


Method = Literal["naive", "decay", "kde", "prospective", "etas", "gbm"]


class BacktestIn(BaseModel):
    """A backtest request: rolling-origin windows, bounded so it runs within the request."""

    model_config = ConfigDict(extra="forbid")

    methods: list[Method] = Field(min_length=1, max_length=6, description="Methods to compare")
    train_days: float = Field(
        default=365, ge=14, le=1096, description="Training days per window (at most 3 years)"
    )
    horizon_days: float = Field(default=7, ge=1, le=90)
    windows: int = Field(default=4, ge=1, le=12, description="Rolling windows (1..12)")
    cell_m: float = Field(default=200, ge=25, le=2000)
    categories: list[str] | None = None
    reason: str = Field(min_length=3, max_length=500, description="Why it is run (logged)")


class BacktestRunOut(BaseModel):
    """A stored backtest: who ran it and why, its settings and its status."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: dt.datetime
    created_by: str
    reason: str
    status: str
    error: str | None
    train_start: dt.datetime | None
    train_end: dt.datetime | None
    horizon_end: dt.datetime | None
    cell_m: float
    n_training_events: int
    categories: list[str]
    excluded: dict[str, int]
    record: dict[str, Any]
