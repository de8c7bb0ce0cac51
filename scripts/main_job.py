#!/usr/bin/env python
"""The main job (README command (a), via eval_models.sh / infer_models.sh).

Evaluates, on every configured dataset, the embedded model (``synth-ezvsl``, shipped in
``checkpoints/``), the audio-agnostic baselines (``center``, ``full``, ``random``) and every zoo
model whose official checkpoint file is present in ``checkpoints/``, with all negatives, then
writes one comparative report per dataset. With nothing configured it runs on the embedded synthetic
benchmark (VGG-SS and IS3 layouts, generated on first use), so a fresh machine needs no download.

Real datasets: set ``VSSLEVAL_DATA_<NAME>`` to a dataset root, e.g. ``VSSLEVAL_DATA_VGGSS=/data/vggss``
or ``VSSLEVAL_DATA_IS3=/data/is3`` (names as in ``vssleval datasets``); each one found is added.

On a CPU the runs go to ``--jobs`` worker processes (default: 2, or 1 with one core or on a GPU),
each with ``cores // jobs`` torch threads: the job is mostly small tensor and NumPy work per
sample, which one thread per process does with less CPU time than two threads in one process
(docs/performance.md §10). The runs of a model that hears audio (not a baseline) go to one worker,
one dataset after the other, so its later runs reuse the noise features of its first (the noise of
a sample depends on its position and seed, not on the dataset: vssleval/engine/noise_memo.py); the
other worker starts with the baselines on another dataset, so the datasets are generated side by
side. Each run's output is printed whole when its task finishes, in task order.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import multiprocessing
import os
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EMBEDDED = ["synth-ezvsl"]
BASELINES = ["center", "full", "random"]
SYNTHETIC = ["synthetic-vggss", "synthetic-is3"]


def available_models(checkpoints: Path | None = None) -> list[tuple[str, str | None]]:
    """(model, checkpoint) pairs: embedded and baselines, plus zoo models whose files are present
    in ``checkpoints`` (default: the user lookup, ``$VSSLEVAL_CHECKPOINTS`` then ``./checkpoints``)."""
    from vssleval.models import list_models, load_model_config
    from vssleval.resources import find_checkpoint

    chosen: list[tuple[str, str | None]] = [(m, None) for m in EMBEDDED + BASELINES if m in list_models()]
    for name in list_models():
        if name in EMBEDDED + BASELINES or name == "ogl":
            continue
        ck = load_model_config(name).get("checkpoint") or {}
        lookup = find_checkpoint(ck, dirs=[checkpoints] if checkpoints is not None else None)
        if lookup.found:
            chosen.append((name, lookup.checkpoint))
    return chosen


def configured_datasets() -> list[tuple[str, str | None]]:
    from vssleval.data import list_datasets

    found = [(name, os.environ[f"VSSLEVAL_DATA_{name.upper().replace('-', '_')}"]) for name in list_datasets()
             if f"VSSLEVAL_DATA_{name.upper().replace('-', '_')}" in os.environ]
    return found or [(name, None) for name in SYNTHETIC]


#: glibc ``mallopt`` parameters: allocations up to this size come from the heap (not fresh ``mmap``s),
#: and up to this much freed memory stays there for the next batch.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
KEEP_BYTES = (512 << 20, 256 << 20)


def keep_freed_memory() -> None:
    """Let glibc keep freed memory for reuse (no-op elsewhere).

    The runs allocate and free arrays of 10-70 MB per batch (a batch's noise inputs, a baseline's
    maps for every seed); by default glibc gives each back to the system and the next batch
    faults it in again page by page. Keeping it cut the job's system time from about 8 to 2
    CPU-seconds for 0.1 GB more peak memory (docs/performance.md §10). Forked workers inherit it.
    """
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(M_TRIM_THRESHOLD, KEEP_BYTES[0])
        libc.mallopt(M_MMAP_THRESHOLD, KEEP_BYTES[1])
    except (OSError, AttributeError):  # not glibc: its allocator's defaults
        pass


def default_jobs(device: str) -> int:
    """Worker processes: 2 on a CPU with at least two cores, else 1 (a GPU runs one job at a time)."""
    cores = os.cpu_count() or 1
    if cores < 2 or device not in ("auto", "cpu"):
        return 1
    if device == "auto":
        import torch

        if torch.cuda.is_available():
            return 1
    return 2


#: What every run and report imports (torch and the engine through the API modules; matplotlib).
#: Not scipy.signal: the spectrogram front-end builds its window itself, and nothing else of the job
#: imports it (importing it, with scipy.stats, cost about a CPU-second).
PRELOAD = ("vssleval.api.evaluation", "vssleval.api.reporting", "matplotlib.figure",
           "matplotlib.backends.backend_agg", "matplotlib.backends.backend_pdf")


def preload(models: list[str] = ()) -> None:
    """Import :data:`PRELOAD` and the code of ``models`` once, here: forked workers share these
    modules instead of each importing them again (several CPU-seconds each; a model on ResNet
    imports ``torchvision.models``, about 2 CPU-seconds, in every worker that builds it)."""
    import importlib

    from vssleval.errors import VsslevalError
    from vssleval.models.registry import get_entry

    for name in PRELOAD:
        importlib.import_module(name)
    for name in models:
        try:
            get_entry(name).resolve()
        except VsslevalError:  # its run says so, in its own output
            pass


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def run_captured(cmd: list[str]) -> tuple[int, str]:
    """``vssleval cmd`` in this process, its console output captured: ``(exit status, output)``."""
    from vssleval.cli import main as vssleval

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        try:
            rc = vssleval(cmd)
        except Exception:  # noqa: BLE001 - one failed run must not take the others down
            traceback.print_exc()
            rc = 1
    return rc, buf.getvalue()


def run_group(cmds: list[list[str]]) -> list[tuple[int, str]]:
    """:func:`run_captured` of each command, one after the other in this process."""
    return [run_captured(cmd) for cmd in cmds]


def tasks(runs: list[tuple[str, str | None, str, str | None]]) -> list[list[int]]:
    """The runs (indices into ``runs``) as worker tasks: all runs of a model that hears audio, one
    per dataset, form one task, so they run in one process and its later runs take the noise features
    of its first (``vssleval/engine/noise_memo.py``: the noise of a sample depends on its position
    and seed, not on the dataset); a baseline's run is a task of its own. The grouped tasks come
    first, then the others with the datasets in reverse order: while a group's process generates
    the first dataset, the other starts on another one instead of generating the same in parallel."""
    grouped: dict[str, list[int]] = {}
    single: list[int] = []
    for i, (model, _, _, _) in enumerate(runs):
        if model in BASELINES:
            single.append(i)
        else:
            grouped.setdefault(model, []).append(i)
    datasets = list(dict.fromkeys(d for _, _, d, _ in runs))
    single.sort(key=lambda i: (-datasets.index(runs[i][2]), i))
    return list(grouped.values()) + [[i] for i in single]


def run_all(cmds: list[list[str]], jobs: int, models: list[str] = (),
            groups: list[list[int]] | None = None) -> list[int]:
    """Run the ``vssleval`` commands, ``jobs`` at a time; print each one's output as it finishes, in
    task order; return the exit statuses in the order of ``cmds``. ``models``: the models they build
    (their code is imported before the workers start). ``groups``: indices of ``cmds`` that one worker
    runs one after the other (default: each command alone); one process runs them all in order."""
    from vssleval.cli import main as vssleval

    if jobs <= 1:
        out = []
        for cmd in cmds:
            print(f"\n[main] vssleval {' '.join(cmd)}", flush=True)
            out.append(vssleval(cmd))
        return out
    groups = groups if groups is not None else [[i] for i in range(len(cmds))]
    threads = max(1, (os.cpu_count() or 1) // jobs)
    preload(models)
    # fork: the workers inherit the imported modules; this process has run no torch operation,
    # so no OpenMP thread pool is copied half-alive into them
    rcs: dict[int, int] = {}
    with multiprocessing.get_context("fork").Pool(jobs, _init_worker, (threads,)) as pool:
        for group, results in zip(groups, pool.imap(run_group, [[cmds[i] for i in g] for g in groups])):
            for i, (rc, text) in zip(group, results):
                print(f"\n[main] vssleval {' '.join(cmds[i])}\n{text}", end="", flush=True)
                rcs[i] = rc
    return [rcs[i] for i in range(len(cmds))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "runs" / "main"), help="where runs and the report go")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--checkpoints", help="folder of zoo checkpoints (default: $VSSLEVAL_CHECKPOINTS, "
                        "then ./checkpoints; eval_models.sh runs from the repository root)")
    parser.add_argument("--infer-only", action="store_true", help="dump heatmaps and overlays, no metrics")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--jobs", type=int, help="runs at a time, each in its own process (default: 2 on a CPU "
                        "with two or more cores, else 1)")
    args = parser.parse_args(argv)
    keep_freed_memory()

    out = Path(args.out)
    models = available_models(Path(args.checkpoints) if args.checkpoints else None)
    datasets = configured_datasets()
    jobs = max(1, args.jobs if args.jobs is not None else default_jobs(args.device))
    print(f"[main] models: {', '.join(m for m, _ in models)}")
    print(f"[main] datasets: {', '.join(d + (f' ({p})' if p else ' (embedded)') for d, p in datasets)}")
    print(f"[main] {len(models) * len(datasets)} runs, {jobs} at a time")
    t0 = time.perf_counter()
    runs = [(model, checkpoint, dataset, data_dir) for model, checkpoint in models for dataset, data_dir in datasets]
    cmds = []
    for model, checkpoint, dataset, data_dir in runs:
        cmd = ["infer" if args.infer_only else "evaluate", "--model", model, "--dataset", dataset,
               "--seeds", str(args.seeds), "--neg", "all", "--out", str(out / f"{model}-{dataset}"),
               "--device", args.device, "--resume", "--overwrite"]  # reuse a finished identical run, replace a stale one
        cmd += ["--data-dir", data_dir] if data_dir else []
        cmd += ["--checkpoint", checkpoint] if checkpoint else []
        cmds.append(cmd)
    done: dict[str, list[Path]] = {}
    failed: list[str] = []
    # a model's runs after its first take that run's noise features (vssleval/engine/noise_memo.py)
    from vssleval.engine.noise_memo import NOISE_MEMO

    NOISE_MEMO.enable()
    statuses = run_all(cmds, jobs, [m for m, _ in models], tasks(runs))
    NOISE_MEMO.enable(False)
    for (model, _, dataset, _), cmd, rc in zip(runs, cmds, statuses):
        if rc != 0:
            print(f"[main] {model} on {dataset} failed (exit {rc}); continuing with the others", file=sys.stderr)
            failed.append(f"{model} on {dataset}")
            continue
        done.setdefault(dataset, []).append(out / f"{model}-{dataset}")
    if not args.infer_only and done:  # one models x metrics table per dataset
        # report.html too: the per-sample browser of each dataset (docs/report.md, "report.html")
        reports = [["report", *map(str, dirs), "--out", str(out / f"report-{dataset}"), "--format", "md,latex,csv,html"]
                   for dataset, dirs in done.items()]
        bad = [rc for rc in run_all(reports, min(jobs, len(reports))) if rc != 0]
        if bad:
            return bad[0]
    n = sum(len(d) for d in done.values())
    print(f"\n[main] done in {time.perf_counter() - t0:.0f} s: {n} runs in {out}")
    if failed:  # the reports hold the runs that worked; the exit status says the job is incomplete
        print(f"[main] {len(failed)} run(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0 if n else 1


if __name__ == "__main__":
    sys.exit(main())
