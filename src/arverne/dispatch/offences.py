"""The offence reference (NATINF-like): import, search, and the check made on closure.

Codes are never deleted: closed incidents name them. A code that leaves the official
list is *retired* (``valid_to`` set to the day before the list's date) and stays
readable; a retired code that comes back is *restored*. Each import is one transaction,
recorded in the audit log with its counts and the file's SHA-256; a file with any bad
row changes nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import bindparam, case, func, or_, select, update
from sqlalchemy.orm import Session

from arverne.dispatch.models import OffenceCode
from arverne.dispatch.offence_file import (
    COLUMNS,
    OffenceFile,
    OffenceRow,
    RowProblem,
    read_offence_file,
    search_key,
)
from arverne.errors import InvalidInputError
from arverne.security.audit import AuditContext, record
from arverne.store.bulk import insert_rows

__all__ = [
    "Change",
    "ImportPlan",
    "OffenceImportError",
    "apply_import",
    "check_codes",
    "import_offences",
    "in_force",
    "offence_dict",
    "plan_import",
    "search_offences",
]

CHUNK = 1000
MAX_PROBLEMS_SHOWN = 50
_FIELDS = tuple(c for c in COLUMNS if c != "code")
Progress = Callable[[int, int], None]


class OffenceImportError(InvalidInputError):
    """The file has rows that cannot be imported; nothing was written."""

    def __init__(self, problems: Sequence[RowProblem]) -> None:
        shown = list(problems[:MAX_PROBLEMS_SHOWN])
        more = len(problems) - len(shown)
        super().__init__(
            "file",
            f"{len(problems)} problem(s), nothing imported: "
            + "; ".join(str(p) for p in shown[:3])
            + (f"; and {len(problems) - 3} more" if len(problems) > 3 else ""),
        )
        self.problems = list(problems)
        self.details = [
            {"field": f"line {p.line}: {p.column}" if p.line else p.column, "message": p.message}
            for p in shown
        ]
        if more:
            self.details.append({"field": "file", "message": f"{more} more problem(s) not shown"})


@dataclasses.dataclass(frozen=True)
class Change:
    """A stored code whose values the file changes: field -> (stored, new)."""

    code: str
    fields: dict[str, tuple[Any, Any]]


@dataclasses.dataclass
class ImportPlan:
    """What an import would do; :func:`apply_import` does it."""

    found: OffenceFile
    as_of: dt.date
    retire_missing: bool
    added: list[OffenceRow] = dataclasses.field(default_factory=list)
    changed: list[Change] = dataclasses.field(default_factory=list)
    unchanged: int = 0
    retired: list[str] = dataclasses.field(default_factory=list)
    restored: list[str] = dataclasses.field(default_factory=list)
    not_in_file: list[str] = dataclasses.field(default_factory=list)
    problems: list[RowProblem] = dataclasses.field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Counts and the first codes of each kind, as the CLI, the API and the audit
        log show them."""

        def first(codes: Sequence[str]) -> list[str]:
            return list(codes[:10])

        return {
            "layout": self.found.layout,
            "encoding": self.found.encoding,
            "columns": list(self.found.columns),
            "rows": len(self.found.rows),
            "as_of": self.as_of.isoformat(),
            "retire_missing": self.retire_missing,
            "added": len(self.added),
            "changed": len(self.changed),
            "unchanged": self.unchanged,
            "retired": len(self.retired),
            "restored": len(self.restored),
            "not_in_file": len(self.not_in_file) if not self.retire_missing else 0,
            "examples": {
                "added": first([r.code for r in self.added]),
                "changed": [
                    {
                        "code": c.code,
                        "fields": {
                            k: [_jsonable(a), _jsonable(b)] for k, (a, b) in c.fields.items()
                        },
                    }
                    for c in self.changed[:10]
                ],
                "retired": first(self.retired),
                "restored": first(self.restored),
                "not_in_file": first(self.not_in_file) if not self.retire_missing else [],
            },
        }


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def in_force(offence: OffenceCode, on: dt.date) -> bool:
    """Whether ``offence`` was in force on ``on`` (both bounds included, ``None`` open)."""
    return (offence.valid_from is None or offence.valid_from <= on) and (
        offence.valid_to is None or on <= offence.valid_to
    )


def _values(row: OffenceRow, columns: Sequence[str]) -> dict[str, Any]:
    return {c: getattr(row, c) for c in columns if c != "code"}


def plan_import(
    session: Session, found: OffenceFile, *, as_of: dt.date, retire_missing: bool = False
) -> ImportPlan:
    """Compare a read file with the stored reference.

    Parameters
    ----------
    session
        Where the reference is stored.
    found
        The file, from :func:`~arverne.dispatch.offence_file.read_offence_file`.
    as_of
        The date of the list: codes it lacks are retired from this day (with
        ``retire_missing``), retired codes it holds are in force again.
    retire_missing
        Retire the codes in force that the file does not list (the official list holds
        every offence in force; a partial file should not retire the rest).

    Returns
    -------
    ImportPlan
        Codes added, changed, unchanged, retired and restored, and the problems that
        stop the import (the file's own, and ``replaced_by`` codes that exist nowhere).
    """
    plan = ImportPlan(found=found, as_of=as_of, retire_missing=retire_missing)
    plan.problems.extend(found.problems)
    stored = {o.code: o for o in session.scalars(select(OffenceCode))}
    in_file = {r.code for r in found.rows}
    known = in_file | stored.keys()
    columns = found.columns
    for row in found.rows:
        if row.replaced_by is not None and row.replaced_by not in known:
            plan.problems.append(
                RowProblem(
                    row.line, "replaced_by", f"{row.replaced_by} is neither in the file nor stored"
                )
            )
        offence = stored.get(row.code)
        if offence is None:
            plan.added.append(row)
            continue
        restored = (
            "valid_to" not in columns and offence.valid_to is not None and offence.valid_to < as_of
        )
        if restored:
            plan.restored.append(row.code)  # listed again: in force again
        new = _values(row, columns)
        diff = {k: (getattr(offence, k), v) for k, v in new.items() if getattr(offence, k) != v}
        if diff:
            plan.changed.append(Change(row.code, diff))
        elif not restored:
            plan.unchanged += 1
    missing = sorted(
        code
        for code, offence in stored.items()
        if code not in in_file
        and (offence.valid_to is None or offence.valid_to >= as_of)
        and (offence.valid_from is None or offence.valid_from <= as_of)  # not one to come
    )
    if retire_missing:
        plan.retired = missing
    else:
        plan.not_in_file = missing
    return plan


def apply_import(
    session: Session,
    ctx: AuditContext,
    plan: ImportPlan,
    *,
    source: str,
    digest: str,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Write a plan without problems in the session's transaction and audit it.

    ``progress(done, total)`` is called after each chunk of rows. Returns the summary
    recorded in the audit log.
    """
    if plan.problems:
        raise OffenceImportError(plan.problems)
    table = OffenceCode.__table__
    added = [
        {
            "code": r.code,
            **{f: getattr(r, f) for f in _FIELDS},
            "search_key": search_key(r.code, r.label),
        }
        for r in plan.added
    ]
    label_of = {r.code: r.label for r in plan.found.rows}
    changes: dict[frozenset[str], list[dict[str, Any]]] = {}
    for change in plan.changed:
        values = {k: new for k, (_, new) in change.fields.items()}
        if "label" in values:
            values["search_key"] = search_key(change.code, label_of[change.code])
        changes.setdefault(frozenset(values), []).append({"b_code": change.code, **values})
    retire_on = plan.as_of - dt.timedelta(days=1)
    retired = [{"b_code": code, "valid_to": retire_on} for code in plan.retired]
    restored = [{"b_code": code, "valid_to": None} for code in plan.restored]
    total = len(added) + len(plan.changed) + len(retired) + len(restored)
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, total)

    connection = session.connection()
    for start in range(0, len(added), CHUNK):
        chunk = added[start : start + CHUNK]
        insert_rows(connection, table, chunk)  # type: ignore[arg-type]
        advance(len(chunk))
    # SET takes the columns the parameter sets name: one group per set of columns.
    statement = update(table).where(table.c.code == bindparam("b_code"))  # type: ignore[arg-type]
    for rows in [*changes.values(), retired, restored]:
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            connection.execute(statement, chunk)
            advance(len(chunk))
    session.expire_all()
    summary = {"source": source, "sha256": digest, **plan.summary()}
    record(
        session,
        ctx,
        action="offence_codes.import",
        object_type="offence_codes",
        object_id=source,
        details=summary,
    )
    return summary


def import_offences(
    session: Session,
    ctx: AuditContext,
    data: bytes,
    *,
    source: str,
    as_of: dt.date,
    retire_missing: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Read, check and (unless ``dry_run``) store an offence reference file.

    Raises
    ------
    OffenceImportError
        The file has problems (every one is listed; nothing is written).
    """
    plan = plan_import(session, read_offence_file(data), as_of=as_of, retire_missing=retire_missing)
    if plan.problems:
        raise OffenceImportError(plan.problems)
    digest = hashlib.sha256(data).hexdigest()
    if dry_run:
        return {"source": source, "sha256": digest, **plan.summary(), "dry_run": True}
    return {
        **apply_import(session, ctx, plan, source=source, digest=digest, progress=progress),
        "dry_run": False,
    }


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_offences(
    session: Session,
    *,
    query: str | None = None,
    on: dt.date | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[OffenceCode]:
    """Find offence codes.

    Parameters
    ----------
    session
        Where the reference is stored.
    query
        Words that must all appear in the code or the label (case and accents ignored);
        a code equal to one of the words comes first, then codes starting with one.
    on
        Only the codes in force on that day; ``None`` for every code, retired ones too.
    limit, offset
        The page.

    Returns
    -------
    list of OffenceCode
    """
    statement = select(OffenceCode)
    rank: list[Any] = []
    if query and query.strip():
        terms = search_key("", query).split()
        for term in terms:
            statement = statement.where(OffenceCode.search_key.like(_like(term), escape="\\"))
        words = query.split()
        rank = [
            case(
                (OffenceCode.code.in_(words), 0),
                (or_(*(OffenceCode.code.like(_like(w)[1:], escape="\\") for w in words)), 1),
                else_=2,
            )
        ]
    if on is not None:
        statement = statement.where(
            or_(OffenceCode.valid_from.is_(None), OffenceCode.valid_from <= on),
            or_(OffenceCode.valid_to.is_(None), OffenceCode.valid_to >= on),
        )
    # Numbers in their order: 7, 8, 180 (NATINF codes are numbers).
    statement = statement.order_by(*rank, func.length(OffenceCode.code), OffenceCode.code)
    return list(session.scalars(statement.limit(limit).offset(offset)))


def offence_dict(offence: OffenceCode, *, on: dt.date) -> dict[str, Any]:
    """An offence as the API shows it (``in_force``: on the day ``on``, in the city)."""
    return {
        "code": offence.code,
        "label": offence.label,
        "category": offence.category,
        "defined_by": offence.defined_by,
        "punished_by": offence.punished_by,
        "valid_from": offence.valid_from.isoformat() if offence.valid_from else None,
        "valid_to": offence.valid_to.isoformat() if offence.valid_to else None,
        "replaced_by": offence.replaced_by,
        "in_force": in_force(offence, on),
    }


def check_codes(session: Session, codes: Sequence[str], *, on: dt.date) -> None:
    """Refuse codes that are not in the reference or were not in force on ``on``.

    Raises
    ------
    InvalidInputError
        On ``offence_codes``, naming every bad code, and for a retired one the last
        day it was in force and what replaced it.
    """
    wanted = sorted(set(codes))
    if not wanted:
        return
    stored = {
        o.code: o for o in session.scalars(select(OffenceCode).where(OffenceCode.code.in_(wanted)))
    }
    messages = []
    unknown = [c for c in wanted if c not in stored]
    if unknown:
        messages.append(
            f"unknown codes {unknown}; GET /api/v1/offence-codes?q= finds codes by number or words"
        )
    for code in wanted:
        offence = stored.get(code)
        if offence is None or in_force(offence, on):
            continue
        if offence.valid_from is not None and on < offence.valid_from:
            when = f"in force only from {offence.valid_from}"
        else:
            when = f"in force until {offence.valid_to}"
        instead = f", replaced by {offence.replaced_by}" if offence.replaced_by else ""
        messages.append(f"{code} was not in force on {on} ({when}{instead})")
    if messages:
        raise InvalidInputError("offence_codes", "; ".join(messages))
