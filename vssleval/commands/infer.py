"""Dump the raw heatmaps of a model (the resumable store) and overlay figures for a few samples."""

from __future__ import annotations

import argparse

from vssleval.commands._common import add_run_arguments, run_kwargs

HELP = "compute and store every raw heatmap (no metrics); optional overlay PNGs"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_run_arguments(p, "infer")


def run(args: argparse.Namespace) -> int:
    from vssleval.api import infer  # torch and the engine: only when a run starts

    infer(**run_kwargs(args, "infer"))
    return 0
