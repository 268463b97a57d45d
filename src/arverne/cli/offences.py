"""``arverne offences``: import the offence reference (NATINF list) and search it.

An import reads the whole file first and lists every problem (line, column, what to
fix); a file with any problem exits with code 2 and changes nothing. Otherwise codes
are added, updated, retired and restored in one transaction, recorded in the audit log.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from arverne.cli._common import cli_context, console, db_session, fail, load_settings

app = typer.Typer(
    help="Offence reference (NATINF-like): import the official list, search it.",
    no_args_is_help=True,
)

FileArg = Annotated[
    Path,
    typer.Argument(
        help="CSV: the Ministry of Justice's NATINF list (';', Windows-1252) or Arverne's "
        "layout (code,label,category[,defined_by,punished_by,valid_from,valid_to,replaced_by]).",
        show_default=False,
    ),
]


def _date(text: str | None, option: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise fail(f"{option} {text!r} is not a date; write YYYY-MM-DD") from None


def _report(summary: dict[str, Any]) -> None:
    console.print(f"[bold]Offence reference[/] from {summary['source']}", highlight=False)
    table = Table(show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    for key in ("rows", "added", "changed", "unchanged", "retired", "restored"):
        table.add_row(key.replace("_", " "), str(summary[key]))
    if summary["not_in_file"]:
        table.add_row("in force, not in the file", str(summary["not_in_file"]))
    console.print(table)
    examples = summary["examples"]
    for kind in ("added", "retired", "restored", "not_in_file"):
        if examples[kind]:
            console.print(f"{kind.replace('_', ' ')}: {', '.join(examples[kind])}", highlight=False)
    for change in examples["changed"]:
        fields = "; ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in change["fields"].items())
        console.print(f"changed {change['code']}: {fields}", highlight=False)
    if summary["not_in_file"]:
        console.print(
            f"{summary['not_in_file']} code(s) in force are not in this file and stay in force; "
            "--retire-missing retires them (for the complete official list).",
            highlight=False,
        )
    console.print(
        f"layout {summary['layout']}, encoding {summary['encoding']}, list of {summary['as_of']}"
        + (" — dry run: nothing written" if summary["dry_run"] else ""),
        highlight=False,
    )


@app.command("import")
def import_command(
    file: FileArg,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Date of the list, YYYY-MM-DD (default: today).")
    ] = None,
    retire_missing: Annotated[
        bool,
        typer.Option(
            "--retire-missing", help="Retire codes in force that the file lacks (complete list)."
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would change; write nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Import the offence reference; every problem is listed and a bad file changes nothing."""
    from arverne.dispatch import offences

    settings = load_settings()
    day = _date(as_of, "--as-of") or settings.today()
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror or exc}") from exc
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=as_json,
    ) as bar:
        task = bar.add_task("checking, then writing", total=None)
        with db_session(settings) as session:
            try:
                summary = offences.import_offences(
                    session,
                    cli_context(),
                    data,
                    source=file.name,
                    as_of=day,
                    retire_missing=retire_missing,
                    dry_run=dry_run,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
            except offences.OffenceImportError as exc:
                bar.stop()
                _problems(exc.problems)
                raise fail(f"{file}: {len(exc.problems)} problem(s); nothing was imported") from exc
    if as_json:
        console.print_json(json.dumps(summary))
    else:
        _report(summary)


def _problems(problems: list[Any]) -> None:
    from arverne.dispatch.offences import MAX_PROBLEMS_SHOWN

    table = Table(title="Problems (fix them and import again)")
    table.add_column("line", justify="right")
    table.add_column("column")
    table.add_column("problem")
    for p in problems[:MAX_PROBLEMS_SHOWN]:
        table.add_row(str(p.line or ""), p.column, p.message)
    if len(problems) > MAX_PROBLEMS_SHOWN:
        table.add_row("", "", f"... and {len(problems) - MAX_PROBLEMS_SHOWN} more")
    console.print(table)


@app.command("list")
def list_command(
    query: Annotated[
        str | None, typer.Argument(help="Words in the code or label (accents ignored).")
    ] = None,
    include_retired: Annotated[
        bool, typer.Option("--all", help="Also codes no longer in force.")
    ] = False,
    limit: Annotated[int, typer.Option(help="At most this many.", min=1, max=5000)] = 50,
) -> None:
    """Search the offence reference (codes in force today, unless --all)."""
    from arverne.dispatch import offences

    settings = load_settings()
    today = settings.today()
    with db_session(settings) as session:
        found = offences.search_offences(
            session, query=query, on=None if include_retired else today, limit=limit
        )
        table = Table(title=f"Offence codes{f' matching {query!r}' if query else ''}")
        for column in ("code", "category", "label", "in force"):
            table.add_column(column)
        for o in found:
            status = "yes" if offences.in_force(o, today) else f"until {o.valid_to}"
            if o.replaced_by:
                status += f" → {o.replaced_by}"
            table.add_row(o.code, o.category, o.label, status)
    console.print(table)
    if not found:
        console.print("no code found; `arverne offences import FILE` loads the reference")


@app.command("show")
def show_command(code: Annotated[str, typer.Argument(help="The offence code.")]) -> None:
    """Show one code: label, category, articles, validity, replacement."""
    from arverne.dispatch import offences
    from arverne.dispatch.models import OffenceCode

    settings = load_settings()
    with db_session(settings) as session:
        offence = session.get(OffenceCode, code)
        if offence is None:
            raise fail(
                f"offence code {code} does not exist; `arverne offences list WORDS` finds codes"
            )
        shown = offences.offence_dict(offence, on=settings.today())
    table = Table(show_header=False, title=f"Offence {code}")
    table.add_column(style="bold")
    table.add_column()
    for key, value in shown.items():
        table.add_row(key.replace("_", " "), "" if value is None else str(value))
    console.print(table)
