"""Evaluate a model: compute every map (positive, silence, noise, offscreen) and score it.

``--model a,b,c`` and ``--dataset x,y`` (comma lists) make a sweep: every pair in its own run folder
under ``--out``, then one combined report (:func:`vssleval.api.sweeps.evaluate_many`, docs/api.md §9).
One model on one dataset is the plain run, as it always was.
"""

from __future__ import annotations

import argparse

from vssleval.commands._common import add_run_arguments, run_kwargs
from vssleval.errors import VsslevalError

HELP = "evaluate a model under positive and negative audio (maps -> metrics.json, report.md)"
#: The exit status of a sweep in which a pair failed or the combined report could not be written.
SWEEP_FAILED = 1


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_run_arguments(p, "evaluate")
    p.epilog = ("Several models or datasets (--model a,b --dataset x,y) run every pair into --out/<model>__<dataset> "
                "and write one combined report in --out/report; --resume keeps the finished pairs.")


def _names(text: str, flag: str) -> list[str]:
    """``a,b`` -> ``["a", "b"]``; an empty name (``a,,b``) is refused. A text without a comma is one
    name, as given (the plain run checks it as it always did)."""
    if "," not in text:
        return [text]
    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise VsslevalError(f"{flag} {text!r}: an empty name in the list; give names separated by commas, e.g. "
                            f"{flag} a,b")
    return names


def _data_dirs(text: str | None, datasets: list[str]) -> str | dict[str, str] | None:
    """``--data-dir``: one folder for one dataset; for several, ``NAME=DIR,NAME=DIR``."""
    if text is None or len(datasets) == 1:
        return text
    found: dict[str, str] = {}
    for item in text.split(","):
        name, sep, folder = item.partition("=")
        if not sep:
            raise VsslevalError(f"--data-dir {text!r}: a sweep of {len(datasets)} datasets names each one's folder, "
                                "--data-dir NAME=DIR,NAME=DIR (a synthetic dataset left out uses its embedded one)")
        found[name.strip()] = folder
    return found


def run(args: argparse.Namespace) -> int:
    kwargs = run_kwargs(args, "evaluate")  # --model or --model-file, checked
    models = _names(args.model, "--model") if args.model else [kwargs["model"]]
    datasets = _names(args.dataset, "--dataset")
    if len(models) == 1 and len(datasets) == 1:
        from vssleval.api import evaluate  # torch and the engine: only when a run starts

        evaluate(**kwargs)
        return 0
    if args.out is None:
        raise VsslevalError("a sweep (several --model or --dataset names) writes one run folder per pair and a "
                            "combined report: name their folder with --out")
    from vssleval.api.sweeps import evaluate_many

    options = {k: v for k, v in kwargs.items() if k not in ("model", "dataset", "data_dir", "out")}
    result = evaluate_many(models, datasets, out=args.out, data_dir=_data_dirs(args.data_dir, datasets), **options)
    return 0 if result.ok else SWEEP_FAILED
