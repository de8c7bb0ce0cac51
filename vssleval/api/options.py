"""The run options of ``evaluate`` and ``infer``, declared once (docs/api.md, "Run options").

Each :class:`Option` row of :data:`RUN_OPTIONS` gives an option's name, default, help text, check and
command-line form. Everything else derives from the table:

* the API: :func:`vssleval.evaluate` / :func:`vssleval.infer` take the options as keywords
  (:func:`resolve` fills the defaults, refuses an unknown name with the list of valid ones and a
  close-match suggestion, and runs every check before any work); their ``inspect.signature`` is
  built from the table (:func:`signature`);
* the CLI: ``vssleval evaluate`` / ``infer`` (and ``python -m vssleval.evaluate``) build their flags
  from it (:func:`add_arguments`) and hand the parsed values back under the same names
  (:func:`cli_values`), so a flag and a keyword are the same option: ``--batch-size`` is
  ``batch_size=``;
* the recorded configuration: ``record`` names the :class:`~vssleval.engine.spec.RunSpec` field (and
  the key of the run's ``config.json``) an option lands in; ``tests/test_api_options.py`` checks that
  every ``RunSpec`` field is declared here.

The messages come from the checks in :mod:`vssleval.api.arguments` and, for numbers, from the bounds
table of :mod:`vssleval.limits` (which also serves the other commands), so the CLI and the API say
the same thing. Adding a run option = one row here (and a ``RunSpec`` field when it is recorded).

This module, and what it imports, loads neither torch nor the engine: ``vssleval evaluate --help``
is built from it in a fraction of a second (``tests/test_cli_light.py``).
"""

from __future__ import annotations

import argparse
import difflib
import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from vssleval import limits
from vssleval.api import arguments as a
from vssleval.errors import VsslevalError
from vssleval.limits import DEFAULT_MAX_SKIP_FRACTION
from vssleval.vocabulary import PRESETS, PROTOCOL_SUMMARIES

#: The commands (and API functions) that take run options.
COMMANDS = ("evaluate", "infer")
#: A positional option without a default (``model``).
REQUIRED = inspect.Parameter.empty
DEFAULT_DATASET = "synthetic-vggss"
DEFAULT_BATCH_SIZE = 32


@dataclass(frozen=True)
class Option:
    """One run option.

    Attributes:
        name: the API keyword and the argparse ``dest``; the flag is ``--`` + name with ``-``.
        default: the API default (and the CLI's unless ``cli_default``).
        help: one line for ``--help`` (argparse ``%`` escapes) and docs/api.md.
        check: value -> checked, normalised value; raises :class:`VsslevalError` naming the flag.
        annotation: the type shown in ``inspect.signature`` (text).
        group: the ``--help`` section.
        commands: the commands that take it.
        cli: extra ``add_argument`` keywords (``type``, ``action``, ``choices``, ``metavar``);
            ``None``: the option has no flag (API only, or a flag built elsewhere, as ``--model``).
        cli_default: the CLI's default where it differs on purpose (``infer --overlays`` draws 4 figures).
        record: the ``RunSpec`` field / ``config.json`` key the value is recorded under (``None``: not
            recorded, e.g. ``out``, ``verbose``).
        positional: positional-or-keyword in the API (``model``, ``dataset``).
    """

    name: str
    default: Any
    help: str
    check: Callable[[Any], Any]
    annotation: str
    group: str = "running"
    commands: tuple[str, ...] = COMMANDS
    cli: Mapping[str, Any] | None = field(default_factory=dict)
    cli_default: Any = REQUIRED
    record: str | None = None
    positional: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def _number(name: str) -> Callable[[Any], Any]:
    """The bound of ``name`` in :data:`vssleval.limits.LIMITS` (one message for CLI and API)."""
    return functools.partial(limits.check, name)


def _switch(flag: str) -> Callable[[Any], bool]:
    return functools.partial(a.check_switch, flag)


def _path(flag: str) -> Callable[[Any], str | None]:
    return functools.partial(a.check_path, flag)


def _batch_size(value: Any) -> int:
    return DEFAULT_BATCH_SIZE if value is None else limits.check("batch_size", value)


def _protocol(value: Any) -> str:
    """:func:`vssleval.engine.spec.check_protocol`, imported when a run is checked (the parser needs
    only the names, :data:`vssleval.vocabulary.PROTOCOL_SUMMARIES`; the registry imports torch)."""
    from vssleval.engine.spec import check_protocol

    return check_protocol(value)


_SWITCH = {"action": "store_true"}
_PROTOCOLS = " or ".join(PROTOCOL_SUMMARIES.values())

#: Every run option, in ``--help`` order. One row per option.
RUN_OPTIONS: tuple[Option, ...] = (
    # -- what to run ---------------------------------------------------------------------------------
    Option("model", REQUIRED, "registered model name (`vssleval models` lists them)", a.check_model,
           "str | nn.Module", "what to run", cli=None, record="model", positional=True),
    Option("checkpoint", None, "checkpoint file (SACL: the folder holding frame/sound files)", a.check_checkpoint,
           "str | Path | Sequence[str] | Mapping[str, str] | None", "what to run", record="checkpoint"),
    Option("trust_checkpoint", False, "unpickle arbitrary objects from the checkpoint (only for files you trust)",
           _switch("--trust-checkpoint"), "bool", "what to run", cli=_SWITCH, record="trust_checkpoint"),
    Option("preset", None, "preprocessing preset (default: the model's own, else juanola2025)", a.check_preset,
           "str | Mapping[str, Any] | None", "what to run", cli={"choices": list(PRESETS)}, record="preset"),
    Option("protocol", "vssleval", f"metric protocol: {_PROTOCOLS}", _protocol, "str", "what to run",
           cli={"choices": list(PROTOCOL_SUMMARIES)}, record="protocol"),
    # -- data ----------------------------------------------------------------------------------------
    Option("dataset", DEFAULT_DATASET, f"registered dataset (`vssleval datasets`; default {DEFAULT_DATASET})",
           functools.partial(a.check_name, "dataset", listing="`vssleval datasets`"), "str", "data",
           record="dataset", positional=True),
    Option("data_dir", None, "dataset root; omitted: the embedded synthetic benchmark", _path("--data-dir"),
           "str | Path | None", "data", record="data_dir"),
    Option("neg", None, "negatives: silence, noise, offscreen, a comma list, all or none (positive audio only); "
           "default: all, or none under --protocol native (which scores no negative)", a.check_neg,
           "str | Sequence[str] | None", "data", record="negatives"),
    Option("seeds", 10, "number of seed repetitions K (the first K protocol seeds; default 10), or distinct "
           "seed values as a comma-separated list", _number("seeds"), "int | Sequence[int]", "data",
           cli={"metavar": "K|S1,S2,..."}, record="seeds"),
    Option("noise_bank", 0, "K noise clips per seed shared by all samples (0 = independent noise, default)",
           _number("noise_bank"), "int", "data", cli={"type": int, "metavar": "K"}, record="noise_bank"),
    Option("limit", None, "evaluate only the first N samples", _number("limit"), "int | None", "data",
           cli={"type": int}, record="limit"),
    Option("skip_bad", False, "leave bad records out (listed in <out>/skipped.csv, counted by reason) and go on",
           _switch("--skip-bad"), "bool", "data", cli=_SWITCH, record="skip_bad"),
    Option("max_skip_fraction", DEFAULT_MAX_SKIP_FRACTION, "with --skip-bad, refuse to run when more than this "
           f"fraction of the records is bad (default {DEFAULT_MAX_SKIP_FRACTION})", _number("max_skip_fraction"),
           "float", "data", cli={"type": float, "metavar": "F"}, record="max_skip_fraction"),
    Option("ogl_weights", None, "ImageNet ResNet-18 weights for the OGL prior (juanola2025 protocol)",
           _path("--ogl-weights"), "str | Path | None", "data", record="ogl_weights"),
    Option("allow_nonfinite", False, "score NaN/inf maps under the protocol's rule (with a warning) instead of "
           "stopping the run", _switch("--allow-nonfinite"), "bool", "data", cli=_SWITCH, record="allow_nonfinite"),
    # -- running -------------------------------------------------------------------------------------
    Option("device", "auto", "auto (cuda, then mps, then cpu), cpu, cuda, cuda:N, mps", a.check_device, "str",
           record="device"),
    Option("amp", None, "bf16 maps where the hardware computes bf16 (a CUDA GPU with bf16, a CPU with AVX-512 "
           "BF16 or AMX); refused under --protocol juanola2025 and native; default fp32, for parity", a.check_amp,
           "str | None", cli={"choices": ["bf16"]}, record="amp"),
    Option("batch_size", DEFAULT_BATCH_SIZE, f"samples per batch (default {DEFAULT_BATCH_SIZE})", _batch_size,
           "int | None", cli={"type": int}, record="batch_size"),
    Option("workers", 0, "DataLoader workers (default 0)", _number("workers"), "int", cli={"type": int},
           record="num_workers"),
    Option("max_memory", None, "memory the run may use, e.g. 16G (default: what the system has available); a run "
           "estimated to need more is refused before any work", _number("max_memory"), "int | str | None",
           cli={"metavar": "SIZE"}),
    Option("out", None, "output directory (API default: a new temporary folder; CLI default "
           "runs/<model>-<dataset>-<preset>-<protocol>)", _path("--out"), "str | Path | None"),
    Option("resume", False, "continue an interrupted run in --out", _switch("--resume"), "bool", cli=_SWITCH),
    Option("overwrite", False, "replace a run with another configuration in --out (with --resume: resume it if "
           "the configuration is the same, replace it if not)", _switch("--overwrite"), "bool", cli=_SWITCH),
    Option("verbose", True, "print the engine's log and the headline table (API only)", _switch("verbose="),
           "bool", cli=None),
    # -- what to write -------------------------------------------------------------------------------
    Option("bootstrap", 1000, "bootstrap resamples for the 95%% intervals of every headline metric "
           "(default 1000; 0: none)", _number("bootstrap"), "int", "output", ("evaluate",), cli={"type": int}),
    Option("overlays", 0, "overlay figures for the first K samples (CLI default 4; API default 0; 0: none)",
           _number("overlays"), "int", "output", ("infer",), cli={"type": int, "metavar": "K"}, cli_default=4),
    Option("threshold", None, "universal raw-scale threshold for the overlays' thresholded row (default: each "
           "positive map's adaptive threshold, the rule of pIA)", _number("threshold"), "float | None", "output", ("infer",),
           cli={"type": float}),
)


def options_for(command: str) -> tuple[Option, ...]:
    """The options ``command`` (``evaluate`` or ``infer``) takes, in declaration order."""
    return tuple(o for o in RUN_OPTIONS if command in o.commands)


def _positional(command: str) -> list[Option]:
    """``model``, then ``dataset``: the API's positional order."""
    return sorted((o for o in options_for(command) if o.positional), key=lambda o: o.default is not REQUIRED)


def signature(command: str, returns: str = "Results") -> inspect.Signature:
    """The API function's signature: ``(model, dataset=..., *, <every other option>=default)``."""
    kind = inspect.Parameter
    params = [kind(o.name, kind.POSITIONAL_OR_KEYWORD, default=o.default, annotation=o.annotation)
              for o in _positional(command)]
    params += [kind(o.name, kind.KEYWORD_ONLY, default=o.default, annotation=o.annotation)
               for o in options_for(command) if not o.positional]
    return inspect.Signature(params, return_annotation=returns)


def unknown_keyword(function: str, name: str, valid: list[str], hint: str | None = None) -> VsslevalError:
    """The message for keyword ``name`` that ``vssleval.<function>()`` does not take: ``hint`` or a close
    match among ``valid``, then every valid name."""
    guess = next(iter(difflib.get_close_matches(name, valid, n=1)), None)
    hint = hint or (f"did you mean {guess!r}?" if guess else None)
    return VsslevalError(f"vssleval.{function}() has no option {name!r}{f' ({hint})' if hint else ''}; "
                         f"its options are: {', '.join(valid)}")


def _unknown(command: str, name: str) -> VsslevalError:
    """:func:`unknown_keyword` for a run option: the option a recorded-config key belongs to
    (``negatives`` -> ``neg``), or the other command that takes ``name``."""
    recorded = {o.record: o.name for o in options_for(command) if o.record and o.record != o.name}
    elsewhere = [c for c in COMMANDS if c != command and any(o.name == name for o in options_for(c))]
    hint = (f"it is an option of vssleval.{elsewhere[0]}() only" if elsewhere
            else f"did you mean {recorded[name]!r}?" if name in recorded else None)
    return unknown_keyword(command, name, [o.name for o in options_for(command)], hint)


def checks_keywords(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Give an API function with an explicit signature (``report``, ``rescore``, ``compare``,
    ``load_model``) the run options' refusal of an unknown keyword, instead of Python's TypeError."""
    valid = [p.name for p in inspect.signature(fn).parameters.values()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]

    @functools.wraps(fn)
    def api(*args: Any, **kwargs: Any) -> Any:
        for name in kwargs:
            if name not in valid:
                raise unknown_keyword(fn.__name__, name, valid)
        return fn(*args, **kwargs)

    return api


def resolve(command: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Every option of ``command`` from a call's positional and keyword arguments, with the defaults
    filled in and each value checked (normalised: paths as text, seeds a count or a list of ints,
    negatives a tuple or None, sizes in bytes). Raises :class:`VsslevalError` before any work: an
    unknown keyword, a missing ``model``, too many positional arguments, or a bad value."""
    positional = _positional(command)
    if len(args) > len(positional):
        raise VsslevalError(f"vssleval.{command}() takes {' and '.join(o.name for o in positional)} by position and "
                            f"every other option by keyword; got {len(args)} positional arguments")
    given = dict(zip((o.name for o in positional), args))
    for name, value in kwargs.items():
        if name not in {o.name for o in options_for(command)}:
            raise _unknown(command, name)
        if name in given:
            raise VsslevalError(f"vssleval.{command}() got {name!r} twice (by position and by keyword)")
        given[name] = value
    out: dict[str, Any] = {}
    for option in options_for(command):
        value = given.get(option.name, option.default)
        if value is REQUIRED:
            raise VsslevalError(f"vssleval.{command}() needs {option.name!r}: a registered name "
                                "(`vssleval models`), 'path.py:ClassName' or a torch.nn.Module")
        out[option.name] = option.check(value)
    if out["resume"] and out["out"] is None:
        raise VsslevalError("--resume continues the run in --out: pass out= (the folder of the interrupted run)")
    return out


def takes_run_options(command: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate ``fn(options: dict)`` into the API function ``vssleval.<command>(model, dataset, **options)``:
    calls are resolved by :func:`resolve`, and ``inspect.signature`` / ``help()`` show every option."""

    def wrap(fn: Callable[[dict[str, Any]], Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def api(*args: Any, **kwargs: Any) -> Any:
            return fn(resolve(command, args, kwargs))

        api.__signature__ = signature(command)  # type: ignore[attr-defined]
        return api

    return wrap


# -- the command line -------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """The flags of ``command``'s options, by group (``--model`` / ``--model-file`` are added by the
    command: one option, two spellings)."""
    groups = {g.title: g for g in parser._action_groups}  # the command's own (``what to run``) included
    for option in options_for(command):
        if option.cli is None:
            continue
        group = groups.get(option.group) or groups.setdefault(option.group, parser.add_argument_group(option.group))
        default = option.default if option.cli_default is REQUIRED else option.cli_default
        group.add_argument(option.flag, dest=option.name, default=default, help=option.help, **option.cli)


def cli_values(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """The parsed flags of ``command`` as API keywords (every option that has a flag)."""
    return {o.name: getattr(args, o.name) for o in options_for(command) if o.cli is not None}
