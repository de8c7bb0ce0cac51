"""What a run cost, phase by phase, and how it was called: the ``timing`` and ``command`` entries of
``metrics.json`` and the last console line of ``evaluate``, ``infer`` and ``rescore``
(docs/metrics.md §7.1, docs/api.md §3).

One :class:`PhaseTimer` measures one run. :func:`run_timer` opens it, or joins the one already open:
the CLI opens a timer when a command starts (so the seconds spent importing torch and the engine
count, as ``start-up``), the API functions join it or open their own. The code marks its phases with
``with timing.phase("model"):`` (or :func:`iterate` for the batches a data loader yields), which does
nothing when no run is being timed, so every library function still works alone. A leaf module: it
imports only the standard library, so ``metrics``, ``report`` and the engine may all mark phases.

Each phase adds up the wall seconds (``time.perf_counter``) and the CPU seconds of this process
(``time.process_time``: every thread, torch's included) of every time it is entered. Phases nest
exclusively: the time spent in an inner phase is not counted in the outer one, so the phases add up
to at most the total. Phases are marked on the main thread; another thread's phases are kept apart
(a stack per thread) but their CPU seconds, which ``process_time`` counts for the whole process,
would be counted twice. The total also counts the CPU seconds of the finished child processes
(DataLoader workers with ``--workers``), whose own phases are not seen.

The timing describes this process, not the run's maps: it is not part of the run's identity, and a
resumed or rescored run records its own.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

#: The phases, in the order the summary lists them, and what each counts.
PHASES = {
    "start-up": "importing torch and the engine, from the command's start to the run's (CLI runs)",
    "data": "reading the dataset (annotations, file checks, audio rates), drawing the offscreen clips and "
            "fingerprinting the inputs",
    "front-end": "waiting for the model inputs: reading each clip and picture and running the audio and image "
                 "front-ends (with --workers, the data loader's processes do that work)",
    "model": "building the model (reading its weights) and every encode / localize call",
    "store": "creating the heatmap store and writing its shards",
    "scoring": "reading the store back and computing every metric, the bootstrap excluded",
    "bootstrap": "the bootstrap resamples of the confidence intervals",
    "figures": "drawing the overlay figures",
}
#: The ``metrics.json`` entries that describe the process that wrote it, not the run: two runs with the
#: same results (a resumed run and an uninterrupted one, a rescore and the original) differ in them.
PROCESS_KEYS = ("timing", "command")
#: Phases shorter than this are left out of the console summary (they stay in metrics.json).
SUMMARY_MIN_SECONDS = 0.05


@dataclass
class _Frame:
    """A phase being timed: when it was entered, and the time its inner phases took."""

    name: str
    wall: float
    cpu: float
    inner_wall: float = 0.0
    inner_cpu: float = 0.0


def _children_cpu() -> float:
    """CPU seconds of this process's finished (waited for) child processes; 0 where unknown."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class PhaseTimer:
    """Wall and CPU seconds per phase of one run, and in all since the timer was made."""

    def __init__(self) -> None:
        self._start = (time.perf_counter(), time.process_time(), _children_cpu())
        self._totals: dict[str, list[float]] = {}  # phase -> [wall s, cpu s]
        self._lock = threading.Lock()
        self._local = threading.local()

    def _stack(self) -> list[_Frame]:
        if not hasattr(self._local, "stack"):
            self._local.stack = []
        return self._local.stack

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Count the block's time in phase ``name``, less the time of the phases inside it."""
        stack = self._stack()
        frame = _Frame(name, time.perf_counter(), time.process_time())
        stack.append(frame)
        try:
            yield
        finally:
            stack.pop()
            wall, cpu = time.perf_counter() - frame.wall, time.process_time() - frame.cpu
            if stack:
                stack[-1].inner_wall += wall
                stack[-1].inner_cpu += cpu
            self.add(name, wall - frame.inner_wall, cpu - frame.inner_cpu)

    def add(self, name: str, wall: float, cpu: float) -> None:
        """Add ``wall`` and ``cpu`` seconds to phase ``name``."""
        with self._lock:
            total = self._totals.setdefault(name, [0.0, 0.0])
            total[0] += max(wall, 0.0)
            total[1] += max(cpu, 0.0)

    def elapsed(self) -> tuple[float, float, float]:
        """``(wall s, CPU s of this process, CPU s of its finished children)`` since the timer was made."""
        wall0, cpu0, children0 = self._start
        return time.perf_counter() - wall0, time.process_time() - cpu0, _children_cpu() - children0

    def settle(self, name: str) -> None:
        """Count in phase ``name`` the time elapsed so far that no phase holds (a CLI run's start-up)."""
        wall, cpu, _ = self.elapsed()
        with self._lock:
            self._totals.setdefault(name, [0.0, 0.0])
            done = [sum(t[i] for t in self._totals.values()) for i in (0, 1)]
        self.add(name, wall - done[0], cpu - done[1])

    def record(self) -> dict[str, Any]:
        """``{"total": {"wall_s", "cpu_s"}, "phases": {phase: {"wall_s", "cpu_s"}}}`` (seconds, 3 decimals;
        the phases in :data:`PHASES` order, then any other). The total's CPU counts this process and its
        finished child processes."""
        wall, cpu, children = self.elapsed()
        cpu += children
        with self._lock:
            totals = {k: list(v) for k, v in self._totals.items()}
        order = [p for p in PHASES if p in totals] + [p for p in totals if p not in PHASES]
        return {"total": _seconds(wall, cpu), "phases": {p: _seconds(*totals[p]) for p in order}}


def _seconds(wall: float, cpu: float) -> dict[str, float]:
    return {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3)}


_TIMER: contextvars.ContextVar[PhaseTimer | None] = contextvars.ContextVar("vssleval_timer", default=None)
_COMMAND: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("vssleval_command", default=None)


@contextlib.contextmanager
def run_timer(command: Mapping[str, Any] | None = None) -> Iterator[PhaseTimer]:
    """The timer of the run the block performs: the one already open (a CLI command's), else a new one
    open until the block ends. ``command``: how the run was called (:func:`cli_command`,
    :func:`api_call`), kept unless a caller already gave one (the CLI's command line wins over the
    API call it makes)."""
    timer = _TIMER.get()
    tokens = [] if timer is not None else [(_TIMER, _TIMER.set(timer := PhaseTimer()))]
    if command is not None and _COMMAND.get() is None:
        tokens.append((_COMMAND, _COMMAND.set(dict(command))))
    try:
        yield timer
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


@contextlib.contextmanager
def separate_run() -> Iterator[None]:
    """A block whose runs time themselves: the timer already open (a CLI command's) is set aside
    until the block ends, so each run of a sweep records its own seconds, not the sweep's so far
    (how the runs were called, :func:`command`, is kept)."""
    token = _TIMER.set(None)
    try:
        yield
    finally:
        _TIMER.reset(token)


def current() -> PhaseTimer | None:
    """The open run timer, if any."""
    return _TIMER.get()


def command() -> dict[str, Any] | None:
    """How the run being timed was called: ``{"argv": [...]}`` or ``{"call": "vssleval.evaluate(...)"}``."""
    found = _COMMAND.get()
    return dict(found) if found is not None else None


def phase(name: str) -> contextlib.AbstractContextManager[None]:
    """``with phase("model"):`` counts the block in that phase of the open run timer (nothing without one)."""
    timer = _TIMER.get()
    return timer.phase(name) if timer is not None else contextlib.nullcontext()


def iterate(name: str, items: Iterable[Any]) -> Iterator[Any]:
    """``items``, the time spent producing each one (a data loader's next batch) counted in phase ``name``."""
    it = iter(items)
    while True:
        with phase(name):
            try:
                item = next(it)
            except StopIteration:
                return
        yield item


def cli_command(prog: str, argv: Sequence[str]) -> dict[str, Any]:
    """The command line as typed: the program's name (``vssleval``, ``python -m vssleval.evaluate``;
    not the path of the script) and the arguments as given."""
    return {"argv": [prog, *map(str, argv)]}


def _shown(value: Any) -> str:
    """An argument as written in a call: literals and paths as Python would print them, an object
    (an in-memory model) as ``<ClassName>``."""
    if isinstance(value, PurePath):
        return repr(str(value))
    if value is None or isinstance(value, (str, bool, int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        inner = ", ".join(map(_shown, value)) + ("," if isinstance(value, tuple) and len(value) == 1 else "")
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_shown(k)}: {_shown(v)}" for k, v in value.items()) + "}"
    return f"<{type(value).__name__}>"


def api_call(function: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """An API call as written: ``{"call": "vssleval.evaluate('synth-ezvsl', seeds=1, limit=8)"}``."""
    shown = [*map(_shown, args), *(f"{k}={_shown(v)}" for k, v in kwargs.items())]
    return {"call": f"vssleval.{function}({', '.join(shown)})"}


def timed_run(function: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate the API function ``vssleval.<function>``: each call is one timed run (:func:`run_timer`),
    recorded as the call it was unless the CLI made it."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def api(*args: Any, **kwargs: Any) -> Any:
            opened_by_caller = current() is not None
            with run_timer(api_call(function, args, kwargs)) as timer:
                if opened_by_caller:  # the CLI: the seconds before the run began were spent importing
                    timer.settle("start-up")
                return fn(*args, **kwargs)

        return api

    return wrap


def run_record() -> dict[str, Any]:
    """The ``timing`` and ``command`` entries of ``metrics.json`` for the run being timed (``{}`` without one)."""
    timer = _TIMER.get()
    return {} if timer is None else {"timing": timer.record(), "command": command()}


def summary_line(timing: Mapping[str, Any]) -> str:
    """``done in 12.3 s wall, 20.1 s CPU: data 0.4 s, front-end 8.1 s, model 2.0 s, ...`` (wall seconds
    of each phase of at least :data:`SUMMARY_MIN_SECONDS`)."""
    total = timing["total"]
    parts = [f"{name} {t['wall_s']:.1f} s" for name, t in timing["phases"].items() if t["wall_s"] >= SUMMARY_MIN_SECONDS]
    return f"done in {total['wall_s']:.1f} s wall, {total['cpu_s']:.1f} s CPU" + (f": {', '.join(parts)}" if parts else "")
