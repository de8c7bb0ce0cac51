"""Evaluate a model: compute every map (positive, silence, noise, offscreen) and score it."""

from __future__ import annotations

import argparse

from vssleval.commands._common import add_run_arguments, default_out, spec_from_args
from vssleval.engine.runner import run_inference
from vssleval.engine.scoring import check_scorable, score_store
from vssleval.errors import VsslevalError
from vssleval.report.single import write_run_outputs

HELP = "evaluate a model under positive and negative audio (maps -> metrics.json, report.md)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_run_arguments(p)
    p.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples for 95%% CIs (default 200; 0: none)")


def run(args: argparse.Namespace) -> int:
    if args.bootstrap < 0:
        raise VsslevalError(f"--bootstrap must be >= 0 (0: no confidence intervals), got {args.bootstrap}")
    spec = spec_from_args(args)
    check_scorable(spec.protocol, spec.negatives)  # before hours of inference, not after
    out = default_out(args)
    outcome = run_inference(spec, out, resume=args.resume, overwrite=args.overwrite)
    if not outcome.is_main:
        return 0  # under torchrun, rank 0 scores the whole store and writes the outputs
    acc = score_store(outcome.store, bootstrap=args.bootstrap)
    write_run_outputs(acc, outcome.store.config, out, notes=outcome.notes, echo=True)
    return 0
