"""Seed the demo accounts (and the officer behind ``agent``); idempotent, all fictional."""

from __future__ import annotations

import dataclasses

from sqlalchemy import select
from sqlalchemy.orm import Session

from arverne.people import service as people
from arverne.people.models import Officer
from arverne.people.schemas import OfficerIn
from arverne.security import service as users
from arverne.security.audit import AuditContext
from arverne.security.policy import Role
from arverne.security.schemas import UserCreate

DEMO_PASSWORD = "arverne-demo"  # noqa: S105 - printed for the demo, never used outside it


@dataclasses.dataclass(frozen=True, slots=True)
class DemoAccount:
    """One demo login."""

    username: str
    full_name: str
    roles: tuple[Role, ...]


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("admin", "Alix Admin (fictif)", (Role.ADMIN,)),
    DemoAccount("superviseur", "Sacha Superviseur (fictif)", (Role.SUPERVISOR,)),
    DemoAccount("operateur", "Dominique Opérateur (fictif)", (Role.DISPATCHER,)),
    DemoAccount("agent", "Camille Agent (fictif)", (Role.OFFICER,)),
    DemoAccount("analyste", "Andrea Analyste (fictif)", (Role.ANALYST,)),
    DemoAccount("enqueteur", "Eden Enquêteur (fictif)", (Role.INVESTIGATOR,)),
    DemoAccount("scelles", "Stéphane Scellés (fictif)", (Role.EVIDENCE_CUSTODIAN,)),
    DemoAccount("proximite", "Paule Proximité (fictif)", (Role.COMMUNITY_OFFICER,)),
    DemoAccount("formateur", "Florian Formateur (fictif)", (Role.TRAINER,)),
)


def seed_accounts(*, session: Session, ctx: AuditContext) -> list[str]:
    """Create the demo accounts that do not exist yet; return the usernames created."""
    created: list[str] = []
    for account in DEMO_ACCOUNTS:
        if users.get_by_username(session=session, username=account.username) is not None:
            continue
        users.create(
            session=session,
            ctx=ctx,
            user_in=UserCreate(
                username=account.username,
                full_name=account.full_name,
                email=None,
                password=DEMO_PASSWORD,
                roles=list(account.roles),
            ),
        )
        created.append(account.username)
    return created


#: The officer the demo's ``agent`` account is (on no crew: sign on from /console/crew).
DEMO_AGENT_BADGE = "DEMO-AGENT"


def seed_agent_officer(*, session: Session, ctx: AuditContext) -> bool:
    """Link the demo account ``agent`` to a fictional officer; True when created now."""
    if session.scalar(select(Officer.id).where(Officer.badge == DEMO_AGENT_BADGE)) is not None:
        return False
    agent = users.get_by_username(session=session, username="agent")
    if agent is None:
        return False
    officer = people.create_officer(
        session,
        ctx,
        OfficerIn(badge=DEMO_AGENT_BADGE, first_name="Camille", last_name="Agent (fictif)"),
    )
    officer.synthetic = True
    people.link_user(session, ctx, officer, agent)
    return True
