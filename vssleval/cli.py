"""The ``vssleval`` console script (also ``python -m vssleval``).

Subcommands are discovered from :mod:`vssleval.commands`: every module there defines ``HELP`` (one
line), ``add_arguments(parser)`` and ``run(args) -> int``; the subcommand name is the module name
with ``_`` replaced by ``-``. Only entry points import this module (``vssleval/__main__.py``,
``vssleval/evaluate.py``, ``vssleval/infer.py``, ``scripts/``); it only wires the others together.

The CLI answers at once (docs/performance.md, "A CLI that answers at once"): a command module
imports, at module level and in ``add_arguments``, nothing that loads torch or the engine (the
parser is built from :mod:`vssleval.api.options`, the vocabulary and the YAMLs); ``run`` imports
what the work needs. :func:`main` adds the arguments of the named subcommand only, so ``vssleval
models``, ``datasets``, ``--help``, ``<command> --help`` and ``--version`` cost a fraction of a
second (``tests/test_cli_light.py`` checks that they import neither torch nor the engine).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Collection

from vssleval import __version__, commands, timing
from vssleval.errors import VsslevalError
from vssleval.limits import check_namespace


DESCRIPTION = ("Honest evaluation of visual sound source localization models under positive "
               "and negative (silence, noise, offscreen) audio.")


def _command_modules() -> dict[str, str]:
    names = sorted(m.name for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_"))
    return {name.replace("_", "-"): f"{commands.__name__}.{name}" for name in names}


def build_parser(only: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The ``vssleval`` parser: every subcommand with its one-line help, and the arguments of the
    subcommands named in ``only`` (None: of every subcommand). The parser of ``only=[name]`` parses
    any command line naming ``name``, and ``only=[]`` one naming none (``--help``, ``--version``)."""
    parser = argparse.ArgumentParser(prog="vssleval", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"vssleval {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in _command_modules().items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        if only is None or name in only:
            module.add_arguments(p)
        p.set_defaults(_run=module.run, _command=name)
    return parser


def _named_command(argv: list[str]) -> str | None:
    """The subcommand a command line names: its first word that is not an option (the top-level
    options take no value), when that is a subcommand; None otherwise (no command, or one argparse
    refuses with the list of subcommands)."""
    word = next((a for a in argv if not a.startswith("-")), None)
    return word if word in _command_modules() else None


def run_command(module_name: str, argv: list[str] | None = None, prog: str | None = None) -> int:
    """Run one command module as a standalone program (for ``python -m vssleval.evaluate``)."""
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=prog, description=module.HELP)
    module.add_arguments(parser)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args._command = module_name.rsplit(".", 1)[-1].replace("_", "-")
    return _guarded(module.run, args, timing.cli_command(parser.prog, argv))


def _guarded(fn, args: argparse.Namespace, command: dict) -> int:
    """Run a command: the one-line error for a VsslevalError, exit 130 for Ctrl-C. A run it makes is
    timed from here, so the seconds spent importing torch and the engine count (vssleval.timing), and
    records ``command`` (the command line) as how it was called."""
    try:
        check_namespace(args, getattr(args, "_command", None))  # every numeric option, before any work
        with timing.run_timer(command):
            return int(fn(args) or 0)
    except VsslevalError as exc:
        print(f"vssleval: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vssleval: interrupted", file=sys.stderr)
        return 130


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    named = _named_command(argv)
    parser = build_parser([named] if named else [])
    args = parser.parse_args(argv)
    if not hasattr(args, "_run"):
        parser.print_help()
        return 1
    return _guarded(args._run, args, timing.cli_command(parser.prog, argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
