"""The demo's on-scene requalifications name real types and escalate or calm down."""

from __future__ import annotations

import numpy as np

from arverne.demo.history import TYPE_MIX
from arverne.demo.scene import FOUND_ON_SCENE, found_on_scene
from arverne.dispatch.taxonomy import TYPES_BY_CODE


def test_every_rule_is_between_known_types_of_the_demo() -> None:
    for found, (chance, new_type, priority, reason) in FOUND_ON_SCENE.items():
        assert found in TYPE_MIX, found  # the demo takes such calls
        assert new_type in TYPES_BY_CODE, new_type
        assert new_type != found
        assert 0.0 < chance < 0.5
        assert 1 <= priority <= 4
        assert reason


def test_the_chance_is_the_rule_s_and_other_types_stay() -> None:
    rng = np.random.default_rng(1)
    draws = [found_on_scene(rng, "fight") for _ in range(4000)]
    share = sum(d is not None for d in draws) / len(draws)
    assert abs(share - FOUND_ON_SCENE["fight"][0]) < 0.03
    update = next(d for d in draws if d is not None)
    assert (update.type_code, update.priority) == ("disturbance", 3)
    assert update.reason == FOUND_ON_SCENE["fight"][3]
    assert all(found_on_scene(rng, "theft") is None for _ in range(100))
