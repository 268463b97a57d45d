"""The order of blocking database work on a process's event loop: best priority first."""

from __future__ import annotations

import asyncio

from arverne.store.turns import READ, WRITE, Turns
from tests.conftest import run_in_new_loop


def test_a_free_loop_is_taken_at_once_and_a_released_one_a_little_later() -> None:
    async def scenario() -> list[int]:
        turns = Turns()
        waited = []
        async with turns.turn(WRITE):
            waited.append(turns.waited)
        # Released: the next job is chosen a little later, among all who asked meanwhile.
        async with turns.turn(READ):
            waited.append(turns.waited)
        await asyncio.sleep(0.01)
        async with turns.turn(READ):  # nobody held it meanwhile: free again
            waited.append(turns.waited)
        return waited

    assert run_in_new_loop(scenario) == [0, 1, 1]


async def _job(turns: Turns, order: list[str], name: str, priority: int) -> None:
    async with turns.turn(priority):
        order.append(name)


def test_waiting_jobs_go_by_priority_then_arrival() -> None:
    async def scenario() -> tuple[list[str], int]:
        turns = Turns()
        order: list[str] = []

        holder = turns.turn(WRITE)
        await holder.__aenter__()  # a job is running: the others queue up
        tasks = [
            asyncio.create_task(_job(turns, order, name, priority))
            for name, priority in (("w1", WRITE), ("w2", WRITE), ("r1", READ), ("w3", WRITE))
        ]
        for _ in range(3):
            await asyncio.sleep(0)
        late = asyncio.create_task(_job(turns, order, "r2", READ))  # arrives while they wait
        await asyncio.sleep(0)
        await holder.__aexit__(None, None, None)
        await asyncio.gather(*tasks, late)
        return order, turns.waited

    order, waited = run_in_new_loop(scenario)
    assert order == ["r1", "r2", "w1", "w2", "w3"]
    assert waited == 5


def test_a_cancelled_job_never_holds_the_loop() -> None:
    async def scenario() -> list[str]:
        turns = Turns()
        order: list[str] = []

        holder = turns.turn(WRITE)
        await holder.__aenter__()
        gone = asyncio.create_task(_job(turns, order, "gone", READ))
        given = asyncio.create_task(_job(turns, order, "given", READ))
        kept = asyncio.create_task(_job(turns, order, "kept", WRITE))
        await asyncio.sleep(0)
        gone.cancel()  # cancelled while waiting: skipped
        await holder.__aexit__(None, None, None)  # a read waits: handed to "given" at once...
        given.cancel()  # ...which is cancelled before it runs: it passes the turn on
        results = await asyncio.gather(gone, given, kept, return_exceptions=True)
        assert isinstance(results[0], asyncio.CancelledError)
        assert isinstance(results[1], asyncio.CancelledError)
        async with turns.turn(WRITE):  # the loop is free again
            order.append("after")
        return order

    assert run_in_new_loop(scenario) == ["kept", "after"]


def test_a_waiting_read_is_given_the_turn_at_once_a_write_after_the_loop_has_looked() -> None:
    async def scenario() -> list[tuple[str, bool]]:
        turns = Turns()
        handed: list[tuple[str, bool]] = []  # (who, given as the holder released it)

        async def waiting(name: str, priority: int) -> None:
            holder = turns.turn(WRITE)
            await holder.__aenter__()
            task = asyncio.create_task(_job(turns, [], name, priority))
            await asyncio.sleep(0)  # it asks and waits
            future = turns._waiting[0][2]
            await holder.__aexit__(None, None, None)
            handed.append((name, future.done()))
            await task

        await waiting("read", READ)
        await waiting("write", WRITE)
        return handed

    assert run_in_new_loop(scenario) == [("read", True), ("write", False)]
