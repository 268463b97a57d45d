"""Who may do what: one pure table from role to permissions.

Nothing here touches the database. Routes declare the permission they need
(``require("incident:dispatch")``) and this table decides.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Role(StrEnum):
    """The roles of a city police force using Arverne."""

    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    DISPATCHER = "dispatcher"
    OFFICER = "officer"
    ANALYST = "analyst"
    INVESTIGATOR = "investigator"
    EVIDENCE_CUSTODIAN = "evidence_custodian"
    COMMUNITY_OFFICER = "community_officer"
    TRAINER = "trainer"


ROLE_DESCRIPTIONS: dict[Role, str] = {
    Role.ADMIN: "Platform administrator: accounts, roles, settings, audit log.",
    Role.SUPERVISOR: "Shift supervisor: dispatch, duty log, approval of plans, KPIs, audit log.",
    Role.DISPATCHER: "Takes calls, creates incidents, recommends and dispatches units.",
    Role.OFFICER: "Patrol officer: own unit's status, checks and positions, incidents, duty log.",
    Role.ANALYST: "Crime analyst: statistics, hotspots, forecasts, KPIs (place-based only).",
    Role.INVESTIGATOR: "Detective: cases and investigations, evidence, footage review.",
    Role.EVIDENCE_CUSTODIAN: "Keeps evidence and footage with chain of custody and retention.",
    Role.COMMUNITY_OFFICER: "Neighbourhood officer: concerns, tips, public updates, outreach.",
    Role.TRAINER: "Training unit: officers' training and certifications.",
}

# Every permission the platform knows, "<object>:<action>".
PERMISSIONS: frozenset[str] = frozenset(
    {
        "user:read",
        "user:manage",
        "audit:read",
        "incident:read",
        "incident:create",
        "incident:update",
        "incident:dispatch",
        "incident:close",
        "call:read_personal",
        "unit:read",
        "unit:manage",
        "unit:status",
        "unit:status_any",
        "unit:position",
        "dutylog:read",
        "dutylog:write",
        "kpi:read",
        "geo:read",
        "analytics:read",
        "forecast:run",
        "plan:read",
        "plan:approve",
        "simulation:run",
        "case:read",
        "case:manage",
        "evidence:read",
        "evidence:manage",
        "footage:read",
        "footage:extract",
        "community:read",
        "community:manage",
        "officer:read",
        "officer:manage",
        "training:read",
        "training:manage",
        "reference:manage",
    }
)

_DISPATCH_FLOOR = {
    "incident:read",
    "incident:create",
    "incident:update",
    "incident:dispatch",
    "incident:close",
    "call:read_personal",
    "unit:read",
    "unit:status",
    "unit:status_any",
    "unit:position",
    "dutylog:read",
    "dutylog:write",
    "geo:read",
    "kpi:read",
}

POLICY: dict[Role, frozenset[str]] = {
    Role.ADMIN: PERMISSIONS,
    Role.SUPERVISOR: frozenset(
        _DISPATCH_FLOOR
        | {
            "user:read",
            "audit:read",
            "unit:manage",
            "analytics:read",
            "forecast:run",
            "plan:read",
            "plan:approve",
            "simulation:run",
            "case:read",
            "community:read",
            "officer:read",
            "training:read",
        }
    ),
    Role.DISPATCHER: frozenset(_DISPATCH_FLOOR),
    Role.OFFICER: frozenset(
        {
            "incident:read",
            "incident:create",
            "incident:update",
            "unit:read",
            "unit:status",
            "unit:position",
            "dutylog:read",
            "dutylog:write",
            "geo:read",
            "plan:read",
            "community:read",
        }
    ),
    Role.ANALYST: frozenset(
        {
            "incident:read",
            "unit:read",
            "dutylog:read",
            "geo:read",
            "kpi:read",
            "analytics:read",
            "forecast:run",
            "plan:read",
            "simulation:run",
        }
    ),
    Role.INVESTIGATOR: frozenset(
        {
            "incident:read",
            "call:read_personal",
            "dutylog:read",
            "geo:read",
            "case:read",
            "case:manage",
            "evidence:read",
            "footage:read",
        }
    ),
    Role.EVIDENCE_CUSTODIAN: frozenset(
        {"case:read", "evidence:read", "evidence:manage", "footage:read", "footage:extract"}
    ),
    Role.COMMUNITY_OFFICER: frozenset(
        {"incident:read", "geo:read", "community:read", "community:manage", "plan:read"}
    ),
    Role.TRAINER: frozenset({"officer:read", "training:read", "training:manage"}),
}

# Roles whose accounts must use a second factor when ARVERNE_REQUIRE_MFA=true.
MFA_REQUIRED_ROLES: frozenset[Role] = frozenset({Role.ADMIN, Role.SUPERVISOR})


def permissions_for(roles: Iterable[Role | str]) -> frozenset[str]:
    """Return the union of the permissions of ``roles``.

    Parameters
    ----------
    roles
        Role values; unknown names raise ``ValueError``.
    """
    granted: set[str] = set()
    for role in roles:
        granted |= POLICY[Role(role)]
    return frozenset(granted)


def is_allowed(roles: Iterable[Role | str], permission: str) -> bool:
    """Tell whether any of ``roles`` grants ``permission``.

    Raises
    ------
    ValueError
        If ``permission`` is not one of :data:`PERMISSIONS` (a typo in a route).
    """
    if permission not in PERMISSIONS:
        msg = f"unknown permission {permission!r}; add it to security.policy.PERMISSIONS"
        raise ValueError(msg)
    return permission in permissions_for(roles)


def roles_requiring_mfa(roles: Iterable[Role | str]) -> bool:
    """Tell whether a user with ``roles`` must use a second factor when MFA is enforced."""
    return any(Role(role) in MFA_REQUIRED_ROLES for role in roles)
