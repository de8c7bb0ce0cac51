"""Several models on several datasets in one call: :func:`evaluate_many` (``vssleval evaluate --model
a,b,c --dataset x,y``; docs/api.md §9).

A sweep is a list of ordinary ``evaluate`` runs, one per (model, dataset) pair, each in its own run
folder ``OUT/<model>__<dataset>/`` (:func:`pair_folder`), laid out exactly as ``evaluate --out`` lays
one out. Around them:

* every pair is checked before the first starts (the options, the model's name or file, the protocol
  against the model and the dataset's layout: :func:`vssleval.api.evaluation.plan_evaluation`);
* ``OUT/sweep.json`` (:data:`SWEEP_FILE`) records each pair's status, error line and run folder, and is
  rewritten after every pair, so a killed sweep says where it stopped;
* a pair that fails is recorded and the others go on (Ctrl-C stops the sweep);
* ``resume=True`` skips a pair that ``sweep.json`` records as finished with the same options, when its
  folder still holds that run (:func:`_finished_hash`): nothing of it is read again or rewritten. Any
  other pair goes through ``evaluate(resume=True)``: a half-finished one keeps the shards it has, and
  the engine refuses a run whose inputs changed (the fingerprint, docs/report.md);
* the finished pairs end in one report, ``OUT/report/`` (:func:`vssleval.api.report`): the leaderboard
  has one column group per dataset. The runs of one dataset must be comparable (same data, by their
  fingerprints, same protocol and preset); datasets are put side by side as ``report --allow-mixed``
  does.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from vssleval import timing
from vssleval.api.arguments import check_path
from vssleval.api.evaluation import is_model_file, evaluate, plan_evaluation
from vssleval.api.options import DEFAULT_DATASET, options_for, resolve, signature, unknown_keyword
from vssleval.api.reporting import report
from vssleval.api.results import Results
from vssleval.engine.store import COMPLETE_FILE, OWNER_FILE, run_folder_owner, store_containing
from vssleval.errors import VsslevalError
from vssleval.io_utils import ensure_output_dir, write_json_atomic
from vssleval.report.runs import check_comparable, load_run
from vssleval.shown_paths import for_console

#: The sweep's record, in ``out``: each pair's status, error line and run folder.
SWEEP_FILE = "sweep.json"
#: The combined report's folder, in ``out``.
REPORT_DIR = "report"
#: Between the model and the dataset in a pair's folder name.
PAIR_SEPARATOR = "__"
#: Version of the layout of ``sweep.json``.
SWEEP_FORMAT = 1
#: A pair's status in ``sweep.json``: computed by this call, finished by an earlier call (not
#: recomputed), failed, started and not finished (the sweep was stopped there), not started yet.
STATUSES = ("done", "reused", "failed", "running", "pending")
#: Options of :func:`evaluate` that say how a pair runs, not what it computes: a finished pair is
#: reused whatever they are (``device`` and ``workers`` are volatile keys of the run's identity).
_HOW_IT_RUNS = ("out", "resume", "overwrite", "verbose", "max_memory", "device", "workers")
#: Options the sweep takes itself, in another form (several models, datasets, data folders).
_OWN = ("model", "dataset", "data_dir", "out")


@dataclass
class Pair:
    """One (model, dataset) pair of a sweep and how it went (a row of ``sweep.json``)."""

    model: str
    dataset: str
    folder: Path
    status: str = "pending"
    error: str | None = None
    seconds: float | None = None
    config_hash: str | None = None
    request: dict[str, Any] = field(default_factory=dict, repr=False)
    traceback: str | None = field(default=None, repr=False)

    @property
    def finished(self) -> bool:
        return self.status in ("done", "reused")

    def record(self, out: Path) -> dict[str, Any]:
        row = {"model": self.model, "dataset": self.dataset, "folder": self.folder.relative_to(out).as_posix(),
               "status": self.status, "error": self.error, "seconds": self.seconds,
               "config_hash": self.config_hash, "request": self.request}
        return {**row, "traceback": self.traceback} if self.traceback else row


@dataclass
class Sweep:
    """What :func:`evaluate_many` did.

    Attributes:
        out: the sweep's folder (one run folder per pair, ``sweep.json``, ``report/``).
        pairs: every pair, models outer, datasets inner, with its status.
        report: ``report/report.md`` of the finished pairs; None when no pair finished or the
            report could not be written (``report_error`` says why).
    """

    out: Path
    pairs: list[Pair]
    report: Path | None = None
    report_error: str | None = None

    @property
    def failed(self) -> list[Pair]:
        return [p for p in self.pairs if p.status == "failed"]

    @property
    def ok(self) -> bool:
        """Every pair finished and the report was written (the CLI's exit status 0)."""
        return not self.failed and self.report_error is None and self.report is not None

    def results(self, model: str, dataset: str) -> Results:
        """The finished run of ``model`` on ``dataset``, opened (:meth:`Results.open`)."""
        for p in self.pairs:
            if (p.model, p.dataset) == (model, dataset):
                if not p.finished:
                    raise VsslevalError(f"the pair {model} on {dataset} did not finish ({p.status}: {p.error})")
                return Results.open(p.folder)
        raise VsslevalError(f"{model} on {dataset} is no pair of this sweep")


def pair_folder(model: str, dataset: str) -> str:
    """The run folder name of a pair, ``<model>__<dataset>``: a model file ``path.py:Class`` is named by
    its class, lower-cased (as the CLI's default ``--out``); a character other than a letter, a digit,
    ``.``, ``_`` or ``-`` becomes ``-``."""
    name = model.rsplit(":", 1)[-1].lower() if is_model_file(model) else model
    return re.sub(r"[^A-Za-z0-9._-]", "-", f"{name}{PAIR_SEPARATOR}{dataset}")


def _names(value: Any, what: str, listing: str) -> list[str]:
    """A name or a sequence of names as a list: none empty, none twice."""
    names = [value] if isinstance(value, str) else list(value) if isinstance(value, Sequence) else None
    if not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise VsslevalError(f"{what} must be a name or a list of names ({listing}), got {value!r}")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise VsslevalError(f"{what} names {', '.join(twice)} twice; each pair is run once")
    return [n.strip() for n in names]


def _data_dirs(data_dir: Any, datasets: list[str]) -> dict[str, str | None]:
    """``{dataset: its folder or None}``: one folder for a sweep of one dataset, else a mapping
    ``{dataset: folder}`` (a dataset left out: its embedded synthetic benchmark)."""
    if data_dir is None:
        return dict.fromkeys(datasets)
    if not isinstance(data_dir, Mapping):
        if len(datasets) > 1:
            raise VsslevalError(f"--data-dir {data_dir}: a sweep of {len(datasets)} datasets names each one's folder, "
                                "--data-dir NAME=DIR,NAME=DIR (API: data_dir={name: folder})")
        return {datasets[0]: check_path("--data-dir", data_dir)}
    unknown = [k for k in data_dir if k not in datasets]
    if unknown:
        raise VsslevalError(f"--data-dir names {unknown[0]!r}, which is not one of the datasets "
                            f"({', '.join(datasets)})")
    return {d: check_path(f"--data-dir {d}=", data_dir.get(d)) for d in datasets}


def _plan(models: list[str], datasets: list[str], out: Path, data_dirs: Mapping[str, str | None],
          options: Mapping[str, Any]) -> list[tuple[Pair, dict[str, Any]]]:
    """Every pair with its checked ``evaluate`` options; raises before any work on a bad option, an
    unknown model or dataset, a protocol that cannot score a pair, or two pairs sharing a folder."""
    pairs: list[tuple[Pair, dict[str, Any]]] = []
    folders: dict[str, tuple[str, str]] = {}
    for model in models:
        for dataset in datasets:
            name = pair_folder(model, dataset)
            if name in folders:
                raise VsslevalError(f"{model} on {dataset} and {' on '.join(folders[name])} would share the run "
                                    f"folder {out / name}: give the model files distinct class names")
            folders[name] = (model, dataset)
            o = resolve("evaluate", (model, dataset), {**options, "data_dir": data_dirs[dataset],
                                                       "out": str(out / name)})
            plan_evaluation(o)
            request = {k: v for k, v in o.items() if k not in _HOW_IT_RUNS}
            pairs.append((Pair(model, dataset, out / name, request=json.loads(json.dumps(request))), o))
    return pairs


def _check_out(out: Path, pairs: Sequence[Pair], resume: bool, overwrite: bool) -> None:
    """``out`` holds no run itself and lies in no store; without ``resume`` or ``overwrite``, no pair's
    folder holds a run yet (a second sweep into one folder must say what it wants)."""
    inside = store_containing(out)
    if inside is not None:
        raise VsslevalError(f"--out {out} is inside the heatmap store {inside}; choose a folder outside any store/")
    if run_folder_owner(out) is not None:
        raise VsslevalError(f"--out {out} holds a run; a sweep's --out holds one run folder per pair: choose "
                            "another folder")
    if resume or overwrite:
        return
    for p in pairs:
        owner = run_folder_owner(p.folder)
        if owner is not None:
            raise VsslevalError(f"{p.folder} already holds a run ({owner[2]}): pass --resume to continue the sweep "
                                "(finished pairs are kept, the others resumed) or --overwrite to compute every pair "
                                "again")


def _ledger(out: Path, log: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    """The pairs ``out/sweep.json`` records, by folder name (empty when there is none; an unreadable
    one is set aside with a note: every pair then goes through the engine, which reuses its maps)."""
    path = out / SWEEP_FILE
    if not path.is_file():
        return {}
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        return {str(row["folder"]): row for row in record["pairs"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log(f"[sweep] {path} is not readable ({exc}): no pair is taken as finished; the engine reuses the maps "
            "each run folder holds")
        return {}


def _finished_hash(folder: Path) -> str | None:
    """The configuration hash of the finished run in ``folder``: its store complete, its ``metrics.json``
    written and its owner marker naming the store's run; None for anything else."""
    if not ((folder / "store" / COMPLETE_FILE).is_file() and (folder / "metrics.json").is_file()):
        return None
    try:
        marker = json.loads((folder / OWNER_FILE).read_text(encoding="utf-8"))
        owner = run_folder_owner(folder)
    except (OSError, ValueError, VsslevalError):
        return None
    digest = owner[0] if owner else None
    return digest if isinstance(marker, dict) and digest and marker.get("config_hash") == digest else None


def _reusable(pair: Pair, row: Mapping[str, Any] | None) -> str | None:
    """The run hash when ``sweep.json`` records ``pair`` as finished with the same options and its
    folder still holds that run."""
    if not row or row.get("status") not in ("done", "reused") or row.get("request") != pair.request:
        return None
    digest = _finished_hash(pair.folder)
    return digest if digest and digest == row.get("config_hash") else None


def _write_ledger(out: Path, pairs: Sequence[Pair], report_path: Path | None, report_error: str | None) -> None:
    models = list(dict.fromkeys(p.model for p in pairs))
    datasets = list(dict.fromkeys(p.dataset for p in pairs))
    write_json_atomic(out / SWEEP_FILE, {
        "format": SWEEP_FORMAT, "models": models, "datasets": datasets, "pairs": [p.record(out) for p in pairs],
        "report": report_path.relative_to(out).as_posix() if report_path else None, "report_error": report_error})


def _error_line(exc: BaseException) -> str:
    """The error on one line (a message of several lines joined)."""
    text = str(exc) if isinstance(exc, VsslevalError) else f"{type(exc).__name__}: {exc}"
    return " ".join(line.strip() for line in text.splitlines() if line.strip()) or type(exc).__name__


def _run_pair(pair: Pair, options: dict[str, Any], log: Callable[[str], None]) -> None:
    """One pair through :func:`evaluate` (timed as a run of its own); a failure is recorded in ``pair``."""
    t0 = time.perf_counter()
    try:
        with timing.separate_run():
            evaluate(**options)
        owner = run_folder_owner(pair.folder)
        pair.status, pair.config_hash = "done", owner[0] if owner else None
    except Exception as exc:  # noqa: BLE001 - one pair's failure is recorded; the others go on
        pair.status, pair.error = "failed", _error_line(exc)
        if not isinstance(exc, VsslevalError):  # not bad input: keep where it happened
            pair.traceback = "".join(traceback.format_exception(exc))
        log(f"[sweep] {_shown(pair.model)} on {pair.dataset} failed: {pair.error}")
    pair.seconds = round(time.perf_counter() - t0, 3)


def _combined_report(out: Path, pairs: Sequence[Pair], verbose: bool) -> Path:
    """``out/report/report.md`` of the finished pairs: the runs of one dataset must be comparable (their
    data by fingerprint, protocol, preset); the datasets go side by side (``report --allow-mixed``)."""
    finished = [p for p in pairs if p.finished]
    for dataset in dict.fromkeys(p.dataset for p in finished):
        check_comparable([load_run(p.folder) for p in finished if p.dataset == dataset])
    several = len({p.dataset for p in finished}) > 1
    return report([p.folder for p in finished], out / REPORT_DIR, allow_mixed=several, verbose=verbose)


def _shown(model: str) -> str:
    """A model as the summary shows it: a model file by its file name and class (``mine.py:Mine``)."""
    return Path(model).name if is_model_file(model) else model


def summary_lines(result: Sweep) -> list[str]:
    """The sweep in a few lines: the counts, then one line per pair (status, model, dataset, folder,
    error), then the report."""
    counts = {s: sum(p.status == s for p in result.pairs) for s in STATUSES}
    shown = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    lines = [f"sweep: {len(result.pairs)} pairs in {for_console(result.out)} ({shown}); "
             f"{for_console(result.out / SWEEP_FILE)}"]
    wide = [max(len(_shown(p.model)) for p in result.pairs), max(len(p.dataset) for p in result.pairs)]
    for p in result.pairs:
        line = f"  {p.status:<7} {_shown(p.model):<{wide[0]}}  {p.dataset:<{wide[1]}}  {for_console(p.folder)}"
        lines.append(line + (f"  {p.error}" if p.error else ""))
    if result.report is not None:
        lines.append(f"combined report: {for_console(result.report)}")
        lines += _leaderboard_tables(result.report.parent / "leaderboard.md")
    elif result.report_error:
        lines.append(f"combined report not written: {result.report_error}")
    return lines


def _leaderboard_tables(path: Path) -> list[str]:
    """The tables of ``leaderboard.md`` (a heading and a table per dataset), without its notes."""
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [part for line in lines if line.startswith(("## ", "|"))
            for part in (["", line] if line.startswith("## ") else [line])]


def evaluate_many(models: str | Sequence[str] | None = None, datasets: str | Sequence[str] = DEFAULT_DATASET, *,
                  out: str | Path | None = None, data_dir: str | Path | Mapping[str, str | Path] | None = None,
                  **options: Any) -> Sweep:
    """Evaluate every model on every dataset, each pair in its own run folder, then one report.

    Args:
        models: registered names or ``"path.py:Class"`` files (``vssleval evaluate --model a,b``).
        datasets: registered datasets (``--dataset x,y``).
        out: the sweep's folder: ``<model>__<dataset>/`` per pair, ``sweep.json``, ``report/``.
        data_dir: one folder for a sweep of one dataset, else ``{dataset: folder}`` (the CLI's
            ``--data-dir NAME=DIR,NAME=DIR``); a dataset without one: its embedded synthetic benchmark.
        options: every other option of :func:`vssleval.evaluate`, for every pair. ``checkpoint`` names
            one model's weights: a sweep of several models takes each one's default weights.
            ``resume``: keep the finished pairs, resume the others. ``overwrite``: compute every
            pair again.

    Every pair is checked before the first starts (a bad option, an unknown model or dataset is a
    :class:`VsslevalError` and nothing runs); a pair that fails while running is recorded (status
    ``failed`` and its error line in the result and ``sweep.json``) and the others go on.
    """
    for name in options:
        if name in _OWN or name not in {o.name for o in options_for("evaluate")}:
            valid = ["models", "datasets", "out", "data_dir",
                     *(o.name for o in options_for("evaluate") if o.name not in _OWN)]
            raise unknown_keyword("evaluate_many", name, valid)
    models = _names(models, "models", "`vssleval models`")
    datasets = _names(datasets, "datasets", "`vssleval datasets`")
    if options.get("checkpoint") is not None and len(models) > 1:
        raise VsslevalError("--checkpoint names one model's weights; a sweep of several models takes each one's "
                            "default weights (its shipped file, $VSSLEVAL_CHECKPOINTS or ./checkpoints)")
    if out is None:
        raise VsslevalError("vssleval.evaluate_many() needs out=: the folder that receives a run folder per pair, "
                            f"{SWEEP_FILE} and {REPORT_DIR}/")
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # launched by torchrun (vssleval/engine/distributed.py)
        raise VsslevalError("a sweep runs its pairs one after another in one process; under torchrun, evaluate "
                            "one pair per command (--model NAME --dataset NAME)")
    folder = Path(check_path("--out", out) or "")
    planned = _plan(models, datasets, folder, _data_dirs(data_dir, datasets), options)
    call = timing.api_call("evaluate_many", (models, datasets), {"out": out, "data_dir": data_dir, **options})
    with timing.run_timer(call):  # each pair's metrics.json records the sweep's call (the CLI's: its command line)
        return _sweep(folder, planned, planned[0][1])


def _sweep(folder: Path, planned: list[tuple[Pair, dict[str, Any]]], o: Mapping[str, Any]) -> Sweep:
    """Run the checked pairs into ``folder`` (``o``: the options every pair shares, checked)."""
    resume, overwrite, verbose = o["resume"], o["overwrite"], o["verbose"]
    log = print if verbose else (lambda _text: None)
    pairs = [p for p, _ in planned]
    _check_out(folder, pairs, resume, overwrite)
    ensure_output_dir(folder)
    earlier = _ledger(folder, log) if resume else {}
    for i, (pair, options) in enumerate(planned, 1):
        digest = _reusable(pair, earlier.get(pair.folder.name)) if resume else None
        if digest:
            pair.status, pair.config_hash = "reused", digest
            pair.seconds = earlier[pair.folder.name].get("seconds")
            log(f"[sweep {i}/{len(pairs)}] {_shown(pair.model)} on {pair.dataset}: finished earlier, kept "
                f"({for_console(pair.folder)})")
            continue
        log(f"[sweep {i}/{len(pairs)}] {_shown(pair.model)} on {pair.dataset} -> {for_console(pair.folder)}")
        pair.status = "running"
        _write_ledger(folder, pairs, None, None)  # a sweep stopped here says which pair was running
        _run_pair(pair, options, log)
        _write_ledger(folder, pairs, None, None)
    result = Sweep(out=folder, pairs=pairs)
    if any(p.finished for p in pairs):
        try:
            result.report = _combined_report(folder, pairs, verbose)
        except VsslevalError as exc:
            result.report_error = _error_line(exc)
    else:
        result.report_error = "no pair finished"
    _write_ledger(folder, pairs, result.report, result.report_error)
    for line in summary_lines(result):
        log(line)
    return result


def _signature() -> inspect.Signature:
    """``(models, datasets=..., *, out, <every other option of evaluate>)``, from the one list of run
    options (:data:`vssleval.api.options.RUN_OPTIONS`), so ``help()`` and ``inspect`` show them all."""
    kind = inspect.Parameter
    params = [kind("models", kind.POSITIONAL_OR_KEYWORD, annotation="str | Sequence[str]"),
              kind("datasets", kind.POSITIONAL_OR_KEYWORD, default=DEFAULT_DATASET, annotation="str | Sequence[str]"),
              kind("out", kind.KEYWORD_ONLY, annotation="str | Path")]
    for p in signature("evaluate").parameters.values():
        if p.name == "data_dir":
            p = p.replace(annotation="str | Path | Mapping[str, str | Path] | None")
        if p.name not in ("model", "dataset", "out"):
            params.append(p.replace(kind=kind.KEYWORD_ONLY))
    return inspect.Signature(params, return_annotation="Sweep")


evaluate_many.__signature__ = _signature()  # type: ignore[attr-defined]
