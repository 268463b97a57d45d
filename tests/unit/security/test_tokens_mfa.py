"""CSRF tokens, encryption at rest, TOTP steps and password rules."""

from __future__ import annotations

import pytest

from arverne.errors import InvalidInputError
from arverne.security import mfa, tokens
from arverne.security.passwords import check_password_rules, hash_password, verify_password


def test_csrf_token_is_bound_to_session_and_secret() -> None:
    token = tokens.csrf_token("k1", "session-a")
    assert tokens.csrf_matches("k1", "session-a", token)
    assert not tokens.csrf_matches("k1", "session-b", token)
    assert not tokens.csrf_matches("k2", "session-a", token)
    assert not tokens.csrf_matches("k1", "session-a", None)


def test_encryption_round_trip_and_wrong_key() -> None:
    sealed = tokens.encrypt("key-one", "JBSWY3DPEHPK3PXP")
    assert "JBSWY3DP" not in sealed
    assert tokens.decrypt("key-one", sealed) == "JBSWY3DPEHPK3PXP"
    with pytest.raises(ValueError, match="ARVERNE_SECRET_KEY changed"):
        tokens.decrypt("key-two", sealed)


def test_api_tokens_are_unique_and_stored_as_digest() -> None:
    a, b = tokens.new_api_token(), tokens.new_api_token()
    assert a != b
    assert a.startswith(tokens.API_TOKEN_PREFIX)
    assert len(tokens.token_digest(a)) == 64
    assert tokens.token_digest(a) != a


def test_totp_step_matching_with_drift() -> None:
    secret = mfa.new_secret()
    now = 1_800_000_000.0
    code = mfa.current_code(secret, now=now)
    assert mfa.matching_step(secret, code, now=now) == int(now // 30)
    # One step of clock drift is tolerated, three are not.
    assert mfa.matching_step(secret, code, now=now + 30) == int(now // 30)
    assert mfa.matching_step(secret, code, now=now + 90) is None
    assert mfa.matching_step(secret, "000000" if code != "000000" else "111111", now=now) is None


def test_password_rules_name_the_field() -> None:
    with pytest.raises(InvalidInputError) as info:
        check_password_rules("short")
    assert info.value.field == "password"
    with pytest.raises(InvalidInputError, match="username"):
        check_password_rules("dispatcher1", username="Dispatcher1")
    check_password_rules("a long enough passphrase", username="x")


def test_argon2_hash_and_verify() -> None:
    hashed = hash_password("a long enough passphrase")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "a long enough passphrase")
    assert not verify_password(hashed, "another passphrase")
    assert not verify_password(None, "a long enough passphrase")
