"""Evaluate a model: compute every map (positive, silence, noise, offscreen) and score it."""

from __future__ import annotations

import argparse

from vssleval.commands._common import add_run_arguments, run_kwargs

HELP = "evaluate a model under positive and negative audio (maps -> metrics.json, report.md)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_run_arguments(p, "evaluate")


def run(args: argparse.Namespace) -> int:
    from vssleval.api import evaluate  # torch and the engine: only when a run starts

    evaluate(**run_kwargs(args, "evaluate"))
    return 0
