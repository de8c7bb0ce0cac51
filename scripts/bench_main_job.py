#!/usr/bin/env python
"""Benchmark: the main job (``bash eval_models.sh``) with a phase breakdown of its CPU and wall time.

Runs ``scripts/main_job.py`` in this process (every model and dataset it would evaluate, 10 seeds,
all negatives, the reports) on a **cold** synthetic cache (a fresh ``$VSSLEVAL_CACHE`` in a
temporary folder, so the benchmark is generated as on a fresh machine; ``--cache DIR`` reuses one)
and prints, per phase, the CPU seconds (user + system of the whole process, all threads) and the
wall seconds spent in it, then the totals from the process's own resource usage, imports included.

Phases are timed by wrapping the functions that do them (``PHASES``); time is charged to the
innermost phase running on the main thread, so the rows add up to the total ("other" is the rest:
imports, argument parsing, run folders). What is wrapped is read, never changed.

``--baseline-tree DIR``: also run the job with the code of another checkout (e.g. a ``git
worktree`` of an earlier commit), each job in its own process, alternately, ``--repeat`` times,
and print CPU ratios between the two measured in this run. The machine is shared or not: the load
average is printed before and after each job, and only ratios from one run mean anything.

    .venv/bin/python scripts/bench_main_job.py                       # this checkout, cold cache
    .venv/bin/python scripts/bench_main_job.py --baseline-tree /tmp/base --repeat 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

T_START = time.perf_counter()
ROOT = Path(__file__).resolve().parents[1]

#: (phase, module, attribute): the function whose calls are charged to the phase.
PHASES = [
    ("synthetic data generation", "vssleval.data.synthetic.generate", "synth"),
    ("dataset reading", "vssleval.data.registry", "load_dataset"),
    ("model build", "vssleval.models", "build_model"),
    ("fingerprint (hashing)", "vssleval.fingerprint", "compute"),
    ("image loading", "vssleval.frontends.pipeline", "ImagePipeline.load"),
    ("audio reading", "vssleval.frontends.pipeline", "AudioPipeline.waveform"),
    ("noise generation", "vssleval.data.negatives", "noise"),
    ("audio front-end", "vssleval.frontends.pipeline", "AudioPipeline.features"),
    ("model forwards", "vssleval.engine.contract", "CheckedModel._call"),
    ("store writes", "vssleval.engine.store.heatmap", "HeatmapStore.write_shard"),
    ("maps (engine, rest)", "vssleval.engine.runner", "Engine.run"),
    ("bootstrap", "vssleval.metrics.resampling", "bootstrap_intervals"),
    ("scoring (rest)", "vssleval.engine.scoring", "score_run"),
    ("run outputs", "vssleval.report.single", "write_run_outputs"),
    ("figures (savefig)", "vssleval.report.figures", "save_figure"),
    ("report (rest)", "vssleval.api.reporting", "report"),
]


def cpu_seconds() -> float:
    """User + system CPU seconds of this process (all threads) and its finished children."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class PhaseClock:
    """Exclusive CPU and wall seconds per phase: a stack of the phases open on the main thread."""

    def __init__(self):
        self.cpu: dict[str, float] = {}
        self.wall: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.stack: list[str] = []
        self.mark = (cpu_seconds(), time.perf_counter())
        self.main = threading.main_thread()

    def _charge(self) -> None:
        now = (cpu_seconds(), time.perf_counter())
        phase = self.stack[-1] if self.stack else "other"
        self.cpu[phase] = self.cpu.get(phase, 0.0) + now[0] - self.mark[0]
        self.wall[phase] = self.wall.get(phase, 0.0) + now[1] - self.mark[1]
        self.mark = now

    def wrap(self, phase: str, fn):
        clock = self

        def timed(*args, **kwargs):
            if threading.current_thread() is not clock.main:  # a worker thread's share is its caller's
                return fn(*args, **kwargs)
            clock._charge()
            clock.stack.append(phase)
            clock.calls[phase] = clock.calls.get(phase, 0) + 1
            try:
                return fn(*args, **kwargs)
            finally:
                clock._charge()
                clock.stack.pop()

        timed.__wrapped__ = fn
        return timed

    def close(self) -> None:
        self._charge()


def install(clock: PhaseClock) -> list[str]:
    """Wrap every function of :data:`PHASES` in its module and wherever it was imported by name.
    Returns the phases whose function this checkout does not have (an older tree)."""
    import importlib

    for mod in ("vssleval.cli", "vssleval.api.evaluation", "vssleval.api.reporting", "vssleval.engine.runner",
                "vssleval.data.synthetic.cache", "vssleval.engine.inputs"):
        importlib.import_module(mod)
    missing = []
    for phase, module, attr in PHASES:
        try:
            owner = importlib.import_module(module)
            *cls, name = attr.split(".")
            if cls:
                owner = getattr(owner, cls[0])
            original = getattr(owner, name)
        except (ImportError, AttributeError):
            missing.append(phase)
            continue
        timed = clock.wrap(phase, original)
        setattr(owner, name, timed)
        if not cls:  # `from module import name` copies elsewhere
            for m in list(sys.modules.values()):
                if getattr(m, "__name__", "").startswith("vssleval") and getattr(m, name, None) is original:
                    setattr(m, name, timed)
    return missing


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_job(tree: Path, cache: str | None, seeds: int) -> dict:
    """The main job of checkout ``tree`` in this process; the phase table as a dict."""
    clock = PhaseClock()
    sys.path.insert(0, str(tree))
    os.environ["PYTHONPATH"] = os.pathsep.join([str(tree), os.environ.get("PYTHONPATH", "")])
    work = Path(tempfile.mkdtemp(prefix="bench-main-job-"))
    os.environ["VSSLEVAL_CACHE"] = cache or str(work / "cache")
    load_before = load_average()
    import torch  # noqa: F401  (imports are charged to "other", as in the real job)

    missing = install(clock)
    sys.path.insert(0, str(tree / "scripts"))
    import main_job

    rc = main_job.main(["--out", str(work / "runs"), "--seeds", str(seeds)])
    clock.close()
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    return {"tree": str(tree), "rc": rc, "cpu": clock.cpu, "wall": clock.wall, "calls": clock.calls,
            "total_cpu": cpu_seconds(), "total_wall": time.perf_counter() - T_START, "missing": missing,
            "load_before": load_before, "load_after": load_average(), "threads": torch.get_num_threads(),
            "cold_cache": cache is None}


def print_table(results: list[dict]) -> None:
    phases = [p for p, _, _ in PHASES] + ["other"]
    heads = [f"{Path(r['tree']).name or r['tree']}" for r in results]
    print(f"\n{'phase':<28}" + "".join(f"{h[:16]:>18}{'':>10}" for h in heads))
    print(f"{'':<28}" + "".join(f"{'CPU s':>18}{'wall s':>10}" for _ in heads))
    for p in phases:
        if all(r["cpu"].get(p, 0.0) < 0.05 and r["wall"].get(p, 0.0) < 0.05 for r in results):
            continue
        print(f"{p:<28}" + "".join(f"{r['cpu'].get(p, 0.0):>18.1f}{r['wall'].get(p, 0.0):>10.1f}" for r in results))
    print(f"{'TOTAL (process)':<28}" + "".join(f"{r['total_cpu']:>18.1f}{r['total_wall']:>10.1f}" for r in results))
    for r in results:
        print(f"  {r['tree']}: exit {r['rc']}, torch threads {r['threads']}, cache "
              f"{'cold' if r['cold_cache'] else 'given'}, load average {r['load_before']} -> {r['load_after']}"
              + (f"; not timed separately: {', '.join(r['missing'])}" if r["missing"] else ""))


def child(tree: Path, args) -> dict:
    """One job in a fresh process (imports and caches as in a real run)."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        path = f.name
    cmd = [sys.executable, __file__, "--tree", str(tree), "--json", path, "--seeds", str(args.seeds)]
    cmd += ["--cache", args.cache] if args.cache else []
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL if not args.verbose else None)
    result = json.loads(Path(path).read_text())
    os.unlink(path)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", default=str(ROOT), help="checkout whose code runs (default: this one)")
    parser.add_argument("--baseline-tree", help="another checkout to run alternately, for CPU ratios")
    parser.add_argument("--repeat", type=int, default=1, help="jobs per checkout with --baseline-tree")
    parser.add_argument("--cache", help="synthetic cache folder to reuse (default: a cold one per job)")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--json", help="write the result here (used by --baseline-tree)")
    parser.add_argument("--verbose", action="store_true", help="show the jobs' output with --baseline-tree")
    args = parser.parse_args()
    print(f"machine: {cpu_model()}, {os.cpu_count()} CPUs; python {platform.python_version()}")
    if not args.baseline_tree:
        result = run_job(Path(args.tree).resolve(), args.cache, args.seeds)
        if args.json:
            Path(args.json).write_text(json.dumps(result))
        print_table([result])
        return int(result["rc"])
    pairs = []
    for _ in range(args.repeat):
        base = child(Path(args.baseline_tree).resolve(), args)
        new = child(Path(args.tree).resolve(), args)
        print_table([base, new])
        pairs.append((base, new))
    for i, (base, new) in enumerate(pairs):
        print(f"run {i + 1}: CPU {base['total_cpu']:.1f} s -> {new['total_cpu']:.1f} s "
              f"({base['total_cpu'] / new['total_cpu']:.2f}x less); wall {base['total_wall']:.1f} s -> "
              f"{new['total_wall']:.1f} s ({base['total_wall'] / new['total_wall']:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
