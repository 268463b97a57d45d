"""``arverne user``: manage accounts from the server's shell."""

from __future__ import annotations

import secrets
import sys
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from arverne.cli._common import cli_context, console, db_session, domain_errors, fail, load_settings
from arverne.security import auth, service
from arverne.security.models import User
from arverne.security.policy import Role
from arverne.security.schemas import UserCreate

app = typer.Typer(
    help="Accounts: add, list, disable, unlock, reset passwords.", no_args_is_help=True
)

PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]


def _read_password(from_stdin: bool, *, generate: bool = False) -> tuple[str, bool]:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n"), False
    if generate:
        return secrets.token_urlsafe(12), True
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password, False


def _find(session: Session, username: str) -> User:
    user = service.get_by_username(session=session, username=username)
    if user is None:
        raise fail(f"no account called {username!r}; see `arverne user list`")
    return user


@app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="Login name (lower case, digits, . _ -).")],
    name: Annotated[str, typer.Option("--name", help="Full name.")],
    role: Annotated[list[Role], typer.Option("--role", help="Role; repeat for several.")],
    email: Annotated[str | None, typer.Option(help="E-mail address.")] = None,
    password_stdin: PasswordStdin = False,
    generate: Annotated[
        bool,
        typer.Option(help="Generate a password and print it; its owner replaces it at sign-in."),
    ] = False,
) -> None:
    """Create an account."""
    settings = load_settings()
    password, generated = _read_password(password_stdin, generate=generate)
    try:
        user_in = UserCreate(
            username=username, full_name=name, email=email, password=password, roles=role
        )
    except ValueError as exc:
        raise fail(str(exc).replace("\n", " ")) from exc
    with domain_errors(), db_session(settings) as session:
        user = service.create(
            session=session, ctx=cli_context(), user_in=user_in, temporary=generated
        )
        console.print(f"created {user.username} ({', '.join(user.roles)}), id {user.id}")
    if generated:
        console.print(f"password: [bold]{password}[/]")


@app.command("list")
def list_(
    role: Annotated[Role | None, typer.Option(help="Only this role.")] = None,
) -> None:
    """List accounts."""
    settings = load_settings()
    with db_session(settings) as session:
        users = service.list_users(session=session, role=role.value if role else None)
        signed_in = service.last_sign_ins(session=session, user_ids=[u.id for u in users])
        table = Table(
            "id", "username", "name", "roles", "active", "2FA", "locked until", "last sign-in"
        )
        for user in users:
            last = signed_in.get(user.id)
            table.add_row(
                str(user.id),
                user.username,
                user.full_name,
                ", ".join(user.roles),
                "yes" if user.is_active else "no",
                "on" if user.totp_enabled else "off",
                user.locked_until.isoformat(timespec="minutes") if user.locked_until else "",
                last.isoformat(timespec="minutes") if last else "never",
            )
        from arverne.security import audit

        audit.record(
            session,
            cli_context(),
            action="user.list",
            object_type="user",
            details={"count": len(users)},
        )
    console.print(table)


@app.command("disable")
def disable(username: str) -> None:
    """Disable an account and revoke its sessions and API tokens."""
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        user = _find(session, username)
        service.set_active(session=session, ctx=cli_context(), user=user, active=False)
    console.print(f"{username} disabled; its sessions and tokens are revoked")


@app.command("enable")
def enable(username: str) -> None:
    """Enable a disabled account."""
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        user = _find(session, username)
        service.set_active(session=session, ctx=cli_context(), user=user, active=True)
    console.print(f"{username} enabled")


@app.command("reset-password")
def reset_password(
    username: str,
    password_stdin: PasswordStdin = False,
    generate: Annotated[
        bool,
        typer.Option(help="Generate a password and print it; its owner replaces it at sign-in."),
    ] = False,
) -> None:
    """Set a new password, clear a lockout and revoke the account's sessions and tokens."""
    settings = load_settings()
    password, generated = _read_password(password_stdin, generate=generate)
    with domain_errors(), db_session(settings) as session:
        user = _find(session, username)
        service.reset_password(
            session=session, ctx=cli_context(), user=user, password=password, temporary=generated
        )
    console.print(f"password of {username} reset")
    if generated:
        console.print(f"password: [bold]{password}[/]")


@app.command("unlock")
def unlock(username: str) -> None:
    """Lift the lockout that failed sign-ins put on an account (its password is kept)."""
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        service.unlock(session=session, ctx=cli_context(), user=_find(session, username))
    console.print(f"{username} unlocked")


@app.command("end-sessions")
def end_sessions(username: str) -> None:
    """Sign an account out of every console session (a lost phone); tokens are kept."""
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        user = _find(session, username)
        ended = service.end_sessions(
            session=session,
            ctx=cli_context(),
            user=user,
            idle_minutes=settings.session_idle_minutes,
        )
    console.print(f"{ended} session(s) of {username} ended")


@app.command("reset-mfa")
def reset_mfa(username: str) -> None:
    """Remove an account's second factor (lost phone); it enrols again at next sign-in."""
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        service.reset_mfa(session=session, ctx=cli_context(), user=_find(session, username))
    console.print(f"two-factor authentication of {username} removed")


@app.command("token")
def token(
    username: str,
    name: Annotated[str, typer.Option(help="What the token is for.")],
    days: Annotated[int | None, typer.Option(min=1, max=3650, help="Validity in days.")] = None,
) -> None:
    """Create an API token for an account and print it (shown only once)."""
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        row, secret = auth.create_api_token(
            session=session,
            settings=settings,
            ctx=cli_context(),
            user=_find(session, username),
            name=name,
            days=days,
        )
        expires = row.expires_at
    console.print(f"token for {username} (expires {expires:%Y-%m-%d}): [bold]{secret}[/]")
