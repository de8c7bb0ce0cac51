#!/usr/bin/env python
"""Benchmark: the main job (``bash eval_models.sh``), its total wall and CPU time and where the CPU goes.

Two measurements, each on a **cold** synthetic cache (a fresh ``$VSSLEVAL_CACHE`` in a temporary
folder, so the benchmark is generated as on a fresh machine; ``--cache DIR`` reuses one):

1. **The job as eval_models.sh runs it** once the venv exists: ``python scripts/main_job.py`` in a
   child process (its worker processes included), wall seconds and CPU seconds (user + system of
   the whole process tree, from ``getrusage``).
2. **Phase breakdown**: the same runs in this process, one at a time (``--jobs 1``) on one torch
   thread, as each worker of (1) runs them; per phase the CPU seconds (user + system of the process,
   all threads) and the wall seconds spent in it. Phases are timed by wrapping the functions that
   do them (``PHASES``); time is charged to the innermost phase running on the main thread, so the
   rows add up to the total ("other": imports, argument parsing, run folders). What is wrapped is
   read, never changed.

``--baseline-tree DIR``: (1) also for another checkout (e.g. ``git archive`` of an earlier commit
unpacked in a folder), alternately with this one, ``--repeat`` times, and the CPU and wall ratios
between the two measured in this run. The load average is printed before and after each
measurement; the machine may be shared, so only numbers from one run are compared.

    .venv/bin/python scripts/bench_main_job.py                       # this checkout, cold cache
    .venv/bin/python scripts/bench_main_job.py --baseline-tree /tmp/base --repeat 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

T_START = time.perf_counter()
ROOT = Path(__file__).resolve().parents[1]

#: (phase, module, attribute): the function whose calls are charged to the phase (a phase may name
#: several: an older checkout has one of them).
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
    ("report.html frames", "vssleval.report.gallery", "Gallery._write_frame"),
    ("report.html map tiles", "vssleval.report.gallery", "Gallery.maps"),
    ("report.html (rest)", "vssleval.api.html_report", "add_run"),  # the code before the one-pass report
    ("report.html (rest)", "vssleval.api.html_report", "RunFeed.__call__"),
    ("report.html page", "vssleval.api.html_report", "write_page"),
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
    missing, found = [], set()
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
        found.add(phase)
        timed = clock.wrap(phase, original)
        setattr(owner, name, timed)
        if not cls:  # `from module import name` copies elsewhere
            for m in list(sys.modules.values()):
                if getattr(m, "__name__", "").startswith("vssleval") and getattr(m, name, None) is original:
                    setattr(m, name, timed)
    return list(dict.fromkeys(p for p in missing if p not in found))


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


def run_job(tree: Path, cache: str | None, seeds: int, threads: int) -> dict:
    """The main job's runs of checkout ``tree`` in this process, one at a time on ``threads`` torch
    threads; the phase table as a dict."""
    clock = PhaseClock()
    sys.path.insert(0, str(tree))
    os.environ["PYTHONPATH"] = os.pathsep.join([str(tree), os.environ.get("PYTHONPATH", "")])
    work = Path(tempfile.mkdtemp(prefix="bench-main-job-"))
    os.environ["VSSLEVAL_CACHE"] = cache or str(work / "cache")
    load_before = load_average()
    import torch  # (imports are charged to "other", as in the real job)

    torch.set_num_threads(threads)
    missing = install(clock)
    sys.path.insert(0, str(tree / "scripts"))
    import main_job

    argv = ["--out", str(work / "runs"), "--seeds", str(seeds)]
    argv += ["--jobs", "1"] if "--jobs" in Path(main_job.__file__).read_text() else []
    rc = main_job.main(argv)
    clock.close()
    shutil.rmtree(work, ignore_errors=True)
    return {"tree": str(tree), "rc": rc, "cpu": clock.cpu, "wall": clock.wall, "calls": clock.calls,
            "total_cpu": cpu_seconds(), "total_wall": time.perf_counter() - T_START, "missing": missing,
            "load_before": load_before, "load_after": load_average(), "threads": torch.get_num_threads(),
            "cold_cache": cache is None}


def whole_job(tree: Path, cache: str | None, seeds: int) -> dict:
    """``python <tree>/scripts/main_job.py`` in a child process (what eval_models.sh runs once the
    venv exists): exit status, wall seconds, CPU seconds of the child and its workers."""
    work = Path(tempfile.mkdtemp(prefix="bench-main-job-"))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tree), os.environ.get("PYTHONPATH", "")]),
               VSSLEVAL_CACHE=cache or str(work / "cache"))
    load_before = load_average()
    before = cpu_seconds()
    t0 = time.perf_counter()
    with open(work / "job.log", "w") as log:
        rc = subprocess.run([sys.executable, str(tree / "scripts" / "main_job.py"), "--out", str(work / "runs"),
                             "--seeds", str(seeds)], env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - before
    tail = (work / "job.log").read_text().strip().splitlines()[-1:]
    shutil.rmtree(work, ignore_errors=True)
    return {"tree": str(tree), "rc": rc, "wall": wall, "cpu": cpu, "load_before": load_before,
            "load_after": load_average(), "last_line": tail[0] if tail else ""}


def print_table(results: list[dict]) -> None:
    phases = list(dict.fromkeys(p for p, _, _ in PHASES)) + ["other"]
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


def breakdown_in_child(tree: Path, args) -> dict:
    """:func:`run_job` in a fresh process (imports and caches as in a real run)."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        path = f.name
    cmd = [sys.executable, __file__, "--breakdown-only", "--tree", str(tree), "--json", path,
           "--seeds", str(args.seeds), "--threads", str(args.threads)]
    cmd += ["--cache", args.cache] if args.cache else []
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    result = json.loads(Path(path).read_text())
    os.unlink(path)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", default=str(ROOT), help="checkout whose code runs (default: this one)")
    parser.add_argument("--baseline-tree", help="another checkout whose whole job runs alternately, for ratios")
    parser.add_argument("--repeat", type=int, default=1, help="whole jobs per checkout")
    parser.add_argument("--cache", help="synthetic cache folder to reuse (default: a cold one per job)")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the phase breakdown (default 1: "
                        "as each worker of the job on a 2-core machine)")
    parser.add_argument("--no-breakdown", action="store_true", help="only the whole jobs")
    parser.add_argument("--breakdown-only", action="store_true", help="only the phase breakdown, in this process")
    parser.add_argument("--json", help="with --breakdown-only: write the result here")
    args = parser.parse_args()
    tree = Path(args.tree).resolve()
    if args.breakdown_only:
        result = run_job(tree, args.cache, args.seeds, args.threads)
        if args.json:
            Path(args.json).write_text(json.dumps(result))
        print_table([result])
        return int(result["rc"])
    print(f"machine: {cpu_model()}, {os.cpu_count()} CPUs; python {platform.python_version()}")
    trees = ([Path(args.baseline_tree).resolve()] if args.baseline_tree else []) + [tree]
    jobs: list[dict] = []
    for _ in range(args.repeat):
        for t in trees:
            r = whole_job(t, args.cache, args.seeds)
            jobs.append(r)
            print(f"whole job  {t}: exit {r['rc']}, wall {r['wall']:.1f} s, CPU {r['cpu']:.1f} s "
                  f"(load average {r['load_before']} -> {r['load_after']})", flush=True)
    if args.baseline_tree:
        for i in range(0, len(jobs), 2):
            base, new = jobs[i], jobs[i + 1]
            print(f"round {i // 2 + 1}: CPU {base['cpu']:.1f} s -> {new['cpu']:.1f} s ({base['cpu'] / new['cpu']:.2f}x "
                  f"less); wall {base['wall']:.1f} s -> {new['wall']:.1f} s ({base['wall'] / new['wall']:.2f}x less)")
    if not args.no_breakdown:
        print_table([breakdown_in_child(tree, args)])
    return 0 if all(r["rc"] == 0 for r in jobs) else 1


if __name__ == "__main__":
    sys.exit(main())
