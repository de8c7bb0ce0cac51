"""The phase timer of a run (:mod:`vssleval.timing`), on a clock the test moves by hand.

No test here measures real time: the timer reads ``time.perf_counter`` and ``time.process_time``,
which a fake clock replaces, so every second below is exact. The runs' records (``metrics.json``
``timing`` and ``command``, the console's last line) are checked in tests/report/test_run_timing.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vssleval import timing


class Clock:
    """``perf_counter`` and ``process_time`` that move only when told: wall ``w``, CPU ``c`` seconds."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def tick(self, wall: float, cpu: float | None = None) -> None:
        self.wall += wall
        self.cpu += wall if cpu is None else cpu

    def perf_counter(self) -> float:
        return self.wall

    def process_time(self) -> float:
        return self.cpu


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(timing.time, "perf_counter", c.perf_counter)
    monkeypatch.setattr(timing.time, "process_time", c.process_time)
    monkeypatch.setattr(timing, "_children_cpu", lambda: 0.0)
    return c


def test_nested_phases_are_exclusive_and_add_up(clock):
    """model [0, 5] holds front-end [1, 3]: model 3 s, front-end 2 s; a second model entry adds on."""
    timer = timing.PhaseTimer()
    with timer.phase("model"):
        clock.tick(1, 0.5)
        with timer.phase("front-end"):
            clock.tick(2, 1.0)
        clock.tick(2, 2.0)
    clock.tick(1)  # outside any phase: in the total only
    with timer.phase("model"):
        clock.tick(0.5, 0.25)
    rec = timer.record()
    assert rec["phases"] == {"front-end": {"wall_s": 2.0, "cpu_s": 1.0}, "model": {"wall_s": 3.5, "cpu_s": 2.75}}
    assert rec["total"] == {"wall_s": 6.5, "cpu_s": 4.75}
    assert list(rec["phases"]) == [p for p in timing.PHASES if p in rec["phases"]]  # the declared order


def test_settle_gives_the_unassigned_time_to_one_phase(clock):
    """The CLI's start-up: what elapsed before the run began, less the phases already counted."""
    timer = timing.PhaseTimer()
    clock.tick(3, 2)
    with timer.phase("data"):
        clock.tick(1)
    timer.settle("start-up")
    assert timer.record()["phases"]["start-up"] == {"wall_s": 3.0, "cpu_s": 2.0}


def test_iterate_counts_producing_each_item(clock):
    """Each ``next()`` of the wrapped iterable is counted in the phase; the loop body is not."""
    def batches():
        for i in range(3):
            clock.tick(2)  # the loader's work for batch i
            yield i

    with timing.run_timer() as timer:
        seen = []
        for item in timing.iterate("front-end", batches()):
            clock.tick(10)  # the model's work, outside the phase
            seen.append(item)
    assert seen == [0, 1, 2]
    assert timer.record()["phases"] == {"front-end": {"wall_s": 6.0, "cpu_s": 6.0}}


def test_without_a_run_timer_phases_do_nothing():
    assert timing.current() is None and timing.run_record() == {}
    with timing.phase("model"):
        pass
    assert list(timing.iterate("front-end", [1, 2])) == [1, 2]


def test_the_callers_command_wins_and_the_timer_is_shared(clock):
    """The CLI opens the timer with its command line; the API function it calls joins that timer and
    keeps that command, and counts what came before as start-up."""
    cli = timing.cli_command("vssleval", ["evaluate", "--model", "center"])

    @timing.timed_run("evaluate")
    def evaluate(model, **options):
        with timing.phase("model"):
            clock.tick(1)
        return timing.run_record()

    with timing.run_timer(cli):
        clock.tick(4, 3)  # importing torch
        rec = evaluate("center", seeds=1)
    assert rec["command"] == {"argv": ["vssleval", "evaluate", "--model", "center"]}
    assert rec["timing"]["phases"] == {"start-up": {"wall_s": 4.0, "cpu_s": 3.0}, "model": {"wall_s": 1.0, "cpu_s": 1.0}}
    alone = evaluate("center", seeds=1)  # an API call: its own timer, no start-up
    assert alone["command"] == {"call": "vssleval.evaluate('center', seeds=1)"}
    assert list(alone["timing"]["phases"]) == ["model"]
    assert timing.current() is None


class Tiny:
    pass


def test_api_call_is_written_as_the_call():
    call = timing.api_call("evaluate", (Tiny(), "synthetic-is3"),
                           {"out": Path("runs/x"), "neg": ("silence",), "preset": {"map": {"raw": "identity"}},
                            "seeds": [1, 2], "verbose": False, "threshold": None})
    assert call == {"call": "vssleval.evaluate(<Tiny>, 'synthetic-is3', out='runs/x', neg=('silence',), "
                            "preset={'map': {'raw': 'identity'}}, seeds=[1, 2], verbose=False, threshold=None)"}


def test_summary_line_lists_the_phases_that_took_time():
    rec = {"total": {"wall_s": 12.34, "cpu_s": 20.06},
           "phases": {"data": {"wall_s": 0.01, "cpu_s": 0.0}, "front-end": {"wall_s": 8.06, "cpu_s": 15.0},
                      "scoring": {"wall_s": 2.0, "cpu_s": 2.0}}}
    assert timing.summary_line(rec) == "done in 12.3 s wall, 20.1 s CPU: front-end 8.1 s, scoring 2.0 s"
