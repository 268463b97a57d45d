"""The parts the database's chaining trigger hashes give exactly an entry's hash."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import types
from typing import Any

import pytest

from arverne.security.audit import GENESIS_HASH, entry_hash, hash_parts

AWKWARD = [
    None,
    "",
    "Hôtel de police, 2 rue Pélissier",
    'say "hi"',
    ',"prev_hash":""',  # the split's mark, inside a string
    '","seq":0}',
    "\\u0000 and \x00 and \n",
    "emoji 🚓",
]


def _entry(rng: random.Random) -> Any:
    details: dict[str, Any] = {
        "prev_hash": "",  # the mark, unescaped, in nested JSON
        "seq": rng.randint(0, 10**9),
        "nested": {"prev_hash": rng.choice(AWKWARD), "list": [1, 2.5, None, True]},
        "text": rng.choice(AWKWARD),
    }
    return types.SimpleNamespace(
        at=dt.datetime(2026, 12, 6, 22, 10, rng.randint(0, 59), rng.randint(0, 999_999), dt.UTC),
        actor_id=rng.choice([None, rng.randint(1, 500)]),
        actor=rng.choice(["bench", "système", 'o"hara']),
        action=rng.choice(["incident.create", "call.read_personal"]),
        object_type=rng.choice([None, "incident", ',"prev_hash":""']),
        object_id=rng.choice([None, "42"]),
        reason=rng.choice(AWKWARD),
        request_id=rng.choice(AWKWARD),
        client_addr=rng.choice([None, "127.0.0.1"]),
        details=rng.choice([details, {}]),
    )


@pytest.mark.parametrize("seed", range(40))
def test_parts_rebuild_the_hash_for_any_number_and_previous_hash(seed: int) -> None:
    rng = random.Random(seed)
    entry = _entry(rng)
    head, mid = hash_parts(entry)
    for seq, prev in [(1, GENESIS_HASH), (rng.randint(2, 10**12), f"{rng.getrandbits(256):064x}")]:
        expected = entry_hash(seq=seq, prev_hash=prev, **vars(entry))
        rebuilt = hashlib.sha256(f"{head}{prev}{mid}{seq}}}".encode()).hexdigest()
        assert rebuilt == expected


def test_parts_do_not_depend_on_the_entrys_place_in_the_chain() -> None:
    entry = _entry(random.Random(7))
    entry.seq, entry.prev_hash = 99, "f" * 64  # ignored: the trigger supplies both
    assert hash_parts(entry) == hash_parts(_entry(random.Random(7)))
