"""Errors raised by the analytics package; each subclasses a builtin and says what to fix.

The CLI turns them into a one-line message and exit code 2. Messages name the argument
or column at fault and the change that would make the call succeed.
"""

from __future__ import annotations

from collections.abc import Iterable


def _listing(values: Iterable[object], *, limit: int = 12) -> str:
    items = [str(v) for v in values]
    shown = ", ".join(items[:limit])
    return shown + (f", ... ({len(items)} in all)" if len(items) > limit else "")


class ColumnNotFoundError(ValueError):
    """A column named by the caller is not in the input table."""

    def __init__(self, option: str, column: str, available: Iterable[str]) -> None:
        self.option = option
        self.column = column
        self.available = list(available)
        super().__init__(
            f"{option}: column {column!r} is not in the input; available columns are "
            f"{_listing(self.available, limit=40)}; pass one of them"
        )


class DateParseError(ValueError):
    """Too many values of the time column cannot be read as dates."""

    def __init__(self, column: str, examples: Iterable[str], expected: str) -> None:
        self.column = column
        self.examples = list(examples)
        super().__init__(
            f"time column {column!r}: cannot read values such as {_listing(self.examples)} "
            f"as dates; expected {expected}; pass the right --time-format "
            "(strftime codes, e.g. '%m/%d/%Y %H:%M') or another --time-col"
        )


class CoordinateError(ValueError):
    """Coordinates are missing, not numbers, or far from where the CRS says they are."""

    def __init__(self, problem: str, fix: str) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}; {fix}")


class PersonFieldError(ValueError):
    """A column describes a person; place-based models never see such fields."""

    def __init__(self, columns: Iterable[str]) -> None:
        self.columns = sorted(columns)
        super().__init__(
            f"columns {_listing(self.columns)} describe people (names, ages, ethnicity, "
            "sex, identifiers of suspects, victims or arrestees, arrest flags); Arverne "
            "forecasts places, not people: drop these columns before calling the model "
            "(allowed fields are listed in arverne.analytics.schema.MODEL_FIELDS)"
        )


class FieldNotAllowedError(ValueError):
    """A column is not on the allow-list of fields a model may see."""

    def __init__(self, columns: Iterable[str], allowed: Iterable[str]) -> None:
        self.columns = sorted(columns)
        super().__init__(
            f"columns {_listing(self.columns)} are not on the allow-list of model fields "
            f"({_listing(sorted(allowed), limit=40)}); drop them or rename a place "
            "attribute to one of the allowed names"
        )


class CategoryMappingError(ValueError):
    """A category mapping file cannot be read or names an unknown platform category."""

    def __init__(self, source: str, problem: str) -> None:
        self.source = source
        super().__init__(
            f"category mapping {source}: {problem}; fix the file (a JSON or YAML object "
            "mapping source values to platform categories) or run "
            "`arverne data default-mapping FILE` to start from the default"
        )


class GridError(ValueError):
    """A grid cannot be built from the given study area or cell size."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(f"{problem}; {fix}")


class NotEnoughDataError(ValueError):
    """There are too few events (or too short a history) for the requested analysis."""

    def __init__(self, what: str, have: int, need: int, fix: str) -> None:
        self.have = have
        self.need = need
        super().__init__(f"{what}: {have} available, at least {need} needed; {fix}")


class NotFittedError(ValueError, AttributeError):
    """``predict`` was called on a forecaster before ``fit``."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"{name} is not fitted yet; call fit(events, grid=..., start=..., end=...)"
        )


class ParameterError(ValueError):
    """A forecaster or analysis parameter is out of range."""

    def __init__(self, name: str, value: object, expected: str) -> None:
        self.name = name
        super().__init__(f"{name}={value!r} is invalid: expected {expected}")


#: Errors that mean "the input or the options are wrong" (the CLI exits with code 2).
INPUT_ERRORS: tuple[type[Exception], ...] = (
    ColumnNotFoundError,
    DateParseError,
    CoordinateError,
    PersonFieldError,
    FieldNotAllowedError,
    CategoryMappingError,
    GridError,
    NotEnoughDataError,
    ParameterError,
)
