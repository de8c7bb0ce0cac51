"""The flags of ``evaluate`` and ``infer``, built from the one declaration of the run options
(:data:`vssleval.api.options.RUN_OPTIONS`), and turned back into the API's keywords."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from vssleval.api.options import add_arguments, cli_values
from vssleval.errors import VsslevalError
from vssleval.models.registry import split_model_file
from vssleval.vocabulary import DEFAULT_PRESET


def add_run_arguments(p: argparse.ArgumentParser, command: str) -> None:
    """``--model`` / ``--model-file`` (two spellings of the API's ``model``), then every run option of
    ``command`` with a flag."""
    g = p.add_argument_group("what to run")
    g.add_argument("--model", help="registered model name (`vssleval models` lists them)")
    g.add_argument("--model-file", metavar="PATH.py:CLASS", help="register and use your own model class")
    add_arguments(p, command)


def run_kwargs(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """The keywords of :func:`vssleval.api.evaluate` / :func:`vssleval.api.infer` from the CLI's."""
    if not args.model and not args.model_file:
        raise VsslevalError("name a model: --model NAME (see `vssleval models`) or --model-file PATH.py:CLASS")
    if args.model and args.model_file:
        raise VsslevalError(f"give either --model {args.model} or --model-file {args.model_file}, not both")
    if args.model_file:
        split_model_file(args.model_file)  # the form is checked before any work
    return {**cli_values(args, command), "model": args.model or args.model_file, "out": default_out(args)}


def default_out(args: argparse.Namespace) -> Path | str:
    """``--out``, else ``runs/<model>-<dataset>-<preset>-<protocol>``. An empty ``--out ''`` is passed on
    (and refused by the option's check, as in the API), not taken as "not given"."""
    if args.out is not None:
        return args.out
    name = args.model_file.rsplit(":", 1)[-1].lower() if args.model_file else args.model
    return Path("runs") / f"{name}-{args.dataset}-{args.preset or DEFAULT_PRESET}-{args.protocol}"
