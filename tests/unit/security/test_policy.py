"""The policy table is pure and complete."""

from __future__ import annotations

import pytest

from arverne.security.policy import (
    PERMISSIONS,
    POLICY,
    ROLE_DESCRIPTIONS,
    Role,
    is_allowed,
    permissions_for,
    roles_requiring_mfa,
)


def test_every_role_has_a_policy_and_description() -> None:
    assert set(POLICY) == set(Role)
    assert set(ROLE_DESCRIPTIONS) == set(Role)


def test_policy_grants_only_known_permissions() -> None:
    for role, perms in POLICY.items():
        assert perms <= PERMISSIONS, f"{role} grants unknown permissions {perms - PERMISSIONS}"


def test_admin_has_everything_and_trainer_cannot_dispatch() -> None:
    assert permissions_for([Role.ADMIN]) == PERMISSIONS
    assert not is_allowed([Role.TRAINER], "incident:dispatch")
    assert is_allowed([Role.DISPATCHER], "incident:dispatch")


def test_roles_combine() -> None:
    combined = permissions_for([Role.TRAINER, Role.ANALYST])
    assert "training:manage" in combined
    assert "forecast:run" in combined
    assert "incident:dispatch" not in combined


def test_analysts_never_see_callers_personal_data() -> None:
    # Analytics are place-based: analysts get no access to callers' identities.
    assert not is_allowed([Role.ANALYST], "call:read_personal")


def test_audit_log_is_for_admin_and_supervisor_only() -> None:
    readers = {role for role in Role if is_allowed([role], "audit:read")}
    assert readers == {Role.ADMIN, Role.SUPERVISOR}


def test_unknown_permission_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown permission"):
        is_allowed([Role.ADMIN], "incident:teleport")


def test_unknown_role_is_refused() -> None:
    with pytest.raises(ValueError, match="chief"):
        permissions_for(["chief"])


def test_mfa_roles() -> None:
    assert roles_requiring_mfa([Role.SUPERVISOR])
    assert not roles_requiring_mfa([Role.DISPATCHER, Role.OFFICER])
