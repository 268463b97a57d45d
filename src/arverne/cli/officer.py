"""``arverne officer add | list | update | link | disable | enable`` and ``arverne unit crew``.

An officer linked to a login account (``officer link``) can act for the unit they crew
from the crew terminal (``/console/crew``): status, status checks, position, distress.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from arverne.cli._common import cli_context, console, db_session, domain_errors, fail, load_settings
from arverne.cli.dispatch import unit_by_ref
from arverne.dispatch import crew
from arverne.people import service as people
from arverne.people.schemas import OfficerIn, OfficerUpdate
from arverne.security import audit

app = typer.Typer(
    help="Officers: add, list, rename them, link them to login accounts.", no_args_is_help=True
)


@app.command("add")
def add(
    badge: Annotated[str, typer.Argument(help="Badge number (matricule).")],
    first_name: Annotated[str, typer.Option("--first-name", help="First name.")],
    last_name: Annotated[str, typer.Option("--last-name", help="Last name.")],
    rank: Annotated[str | None, typer.Option(help="Rank (grade).")] = None,
    user: Annotated[
        str | None, typer.Option(help="Login account to link (see `arverne user list`).")
    ] = None,
) -> None:
    """Create an officer, optionally linked to a login account."""
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        officer_in = OfficerIn(badge=badge, first_name=first_name, last_name=last_name, rank=rank)
        ctx = cli_context()
        officer = people.create_officer(session, ctx, officer_in)
        if user is not None:
            people.link_user(session, ctx, officer, people.account_named(session, user))
        linked = f", linked to {user}" if user else ""
        console.print(f"officer {officer.badge} ({officer.display_name}) created{linked}")


@app.command("list")
def list_(
    reason: Annotated[
        str, typer.Option(help="Why you read this personal data (kept in the audit log).")
    ],
) -> None:
    """List officers with their account and unit (a personal-data read: give a reason)."""
    settings = load_settings()
    if not reason.strip():
        raise fail("--reason must say why you read the list of officers")
    with db_session(settings) as session:
        officers = crew.officer_views(session)
        table = Table("badge", "name", "rank", "account", "unit", "active")
        for officer in officers:
            table.add_row(
                officer.badge,
                officer.name,
                officer.rank or "",
                officer.username or "",
                ", ".join(officer.units),
                "yes" if officer.active else "no",
            )
        audit.record(
            session,
            cli_context(),
            action="officer.list",
            object_type="officer",
            reason=reason.strip(),
            details={"count": len(officers)},
        )
    console.print(table)


@app.command("link")
def link(
    badge: Annotated[str, typer.Argument(help="Badge number (matricule).")],
    username: Annotated[str | None, typer.Argument(help="Login account.")] = None,
    unlink: Annotated[bool, typer.Option("--unlink", help="Remove the link.")] = False,
) -> None:
    """Link an officer to the login account they use (or remove the link)."""
    if (username is None) == (not unlink):
        raise fail("give a USERNAME to link, or --unlink without one")
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        officer = people.get_by_badge(session, badge)
        account = people.account_named(session, username) if username is not None else None
        people.link_user(session, cli_context(), officer, account)
        what = f"linked to {username}" if username else "unlinked"
        console.print(f"officer {officer.badge} ({officer.display_name}) {what}")


@app.command("update")
def update(
    badge: Annotated[str, typer.Argument(help="Badge number (matricule).")],
    first_name: Annotated[str | None, typer.Option("--first-name", help="New first name.")] = None,
    last_name: Annotated[str | None, typer.Option("--last-name", help="New last name.")] = None,
    rank: Annotated[str | None, typer.Option(help="New rank (grade).")] = None,
    clear_rank: Annotated[bool, typer.Option("--clear-rank", help="Remove the rank.")] = False,
) -> None:
    """Change an officer's name or rank (crew lists show the new name at once)."""
    fields: dict[str, object] = {"first_name": first_name, "last_name": last_name, "rank": rank}
    changes = {name: value for name, value in fields.items() if value is not None}
    if clear_rank:
        if rank is not None:
            raise fail("give --rank or --clear-rank, not both")
        changes["rank"] = None
    if not changes:
        raise fail("nothing to change: give --first-name, --last-name, --rank or --clear-rank")
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        checked = OfficerUpdate.model_validate(changes)
        officer = crew.rename_officer(
            session=session,
            ctx=cli_context(),
            settings=settings,
            badge=badge,
            changes={name: getattr(checked, name) for name in changes},
        )
        rank_text = f", {officer.rank}" if officer.rank else ""
        console.print(
            f"officer {officer.badge}: {officer.display_name}{rank_text}", highlight=False
        )


@app.command("disable")
def disable(badge: Annotated[str, typer.Argument(help="Badge number (matricule).")]) -> None:
    """Disable an officer who left: off every crew; their account acts for no unit."""
    _set_active(badge, active=False)


@app.command("enable")
def enable(badge: Annotated[str, typer.Argument(help="Badge number (matricule).")]) -> None:
    """Enable an officer again (on no crew until they sign on or are put on one)."""
    _set_active(badge, active=True)


def _set_active(badge: str, *, active: bool) -> None:
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        officer = crew.set_officer_active(
            session=session, ctx=cli_context(), settings=settings, badge=badge, active=active
        )
        console.print(
            f"officer {officer.badge} ({officer.display_name}) "
            + ("enabled" if active else "disabled"),
            highlight=False,
        )


def set_crew(
    unit: Annotated[str, typer.Argument(help="Unit id or call sign.")],
    badge: Annotated[
        list[str] | None, typer.Option("--badge", help="An officer's badge; repeat for each.")
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Leave the unit without a crew.")] = False,
) -> None:
    """Set a unit's crew by badge; officers on another crew move over (duty log)."""
    if not badge and not clear:
        raise fail("give the crew with --badge (repeat it), or --clear")
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        row = crew.set_crew(
            session=session,
            ctx=cli_context(),
            settings=settings,
            unit_id=unit_by_ref(session, unit).id,
            badges=[] if clear else list(badge or []),
        )
        names = ", ".join(o.display_name for o in row.crew) or "no crew"
        console.print(f"{row.call_sign}: {names}", highlight=False)
