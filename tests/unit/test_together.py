"""Read requests waiting at the same moment are answered by one call of their handler."""

from __future__ import annotations

import asyncio
from typing import Any

from arverne.store.together import ReadsTogether
from arverne.store.turns import WRITE, Turns
from tests.conftest import run_in_new_loop

Calls = list[list[Any]]


def _reads(calls: Calls) -> tuple[Turns, ReadsTogether]:
    turns = Turns()

    def run_read(work: Any) -> Any:
        return work(None)  # the handler's session: none needed here

    return turns, ReadsTogether(turns, run_read)


def _double(calls: Calls) -> Any:
    def together(_session: Any, items: list[Any]) -> list[Any]:
        calls.append(list(items))
        if "boom" in items and len(items) > 1:
            raise RuntimeError("the whole call failed")
        return [ValueError(item) if item == "bad" else item * 2 for item in items]

    return together


async def _while_busy(turns: Turns, *jobs: Any) -> list[Any]:
    """Start ``jobs`` while a write holds the loop's turn, then release it."""
    holder = turns.turn(WRITE)
    await holder.__aenter__()
    tasks = [asyncio.ensure_future(job) for job in jobs]
    await asyncio.sleep(0)  # they all ask
    await holder.__aexit__(None, None, None)
    return list(await asyncio.gather(*tasks, return_exceptions=True))


def test_requests_waiting_together_are_answered_by_one_call() -> None:
    calls: Calls = []

    async def scenario() -> tuple[list[Any], Any]:
        turns, reads = _reads(calls)
        together = _double(calls)
        answers = await _while_busy(turns, *(reads.read(together, x) for x in ("a", "bad", "c")))
        later = await reads.read(together, "d")  # asked after: a call of its own
        return [*answers, later], (reads.calls, reads.items, reads.largest)

    answers, stats = run_in_new_loop(scenario)
    assert [answers[0], answers[2], answers[3]] == ["aa", "cc", "dd"]
    assert isinstance(answers[1], ValueError)  # raised to its own caller only
    assert calls == [["a", "bad", "c"], ["d"]]
    assert stats == (2, 4, 3)


def test_a_failed_call_is_made_again_item_by_item() -> None:
    calls: Calls = []

    async def scenario() -> list[Any]:
        turns, reads = _reads(calls)
        together = _double(calls)
        return await _while_busy(turns, *(reads.read(together, x) for x in ("a", "boom")))

    answers = run_in_new_loop(scenario)
    assert answers == ["aa", "boomboom"]  # alone, "boom" does not fail
    assert calls == [["a", "boom"], ["a"], ["boom"]]


def test_the_others_are_answered_when_the_first_request_is_cancelled() -> None:
    calls: Calls = []

    async def scenario() -> list[Any]:
        turns, reads = _reads(calls)
        together = _double(calls)
        holder = turns.turn(WRITE)
        await holder.__aenter__()
        first = asyncio.ensure_future(reads.read(together, "a"))
        await asyncio.sleep(0)  # waits for the turn for the batch
        others = [asyncio.ensure_future(reads.read(together, x)) for x in ("b", "c")]
        await asyncio.sleep(0)
        first.cancel()  # its client is gone
        await asyncio.sleep(0)
        await holder.__aexit__(None, None, None)
        return list(await asyncio.gather(first, *others, return_exceptions=True))

    answers = run_in_new_loop(scenario)
    assert isinstance(answers[0], asyncio.CancelledError)
    assert answers[1:] == ["bb", "cc"]
    assert calls == [["b", "c"]]


def test_a_request_cancelled_alone_leaves_nothing_behind() -> None:
    calls: Calls = []

    async def scenario() -> Any:
        turns, reads = _reads(calls)
        together = _double(calls)
        holder = turns.turn(WRITE)
        await holder.__aenter__()
        gone = asyncio.ensure_future(reads.read(together, "a"))
        await asyncio.sleep(0)
        gone.cancel()  # the first and only request: nobody else waits for its batch
        await asyncio.sleep(0)
        await holder.__aexit__(None, None, None)
        return await reads.read(together, "b")  # the next one leads a batch of its own

    assert run_in_new_loop(scenario) == "bb"
    assert calls == [["b"]]


def test_a_handler_that_forgets_an_item_fails_the_batch_instead_of_hanging() -> None:
    async def scenario() -> list[Any]:
        turns, reads = _reads([])

        def short(_session: Any, items: list[Any]) -> list[Any]:
            return items[:1]  # one answer for two items

        return await _while_busy(turns, reads.read(short, "a"), reads.read(short, "b"))

    answers = run_in_new_loop(scenario)
    assert all(isinstance(answer, Exception) for answer in answers)
