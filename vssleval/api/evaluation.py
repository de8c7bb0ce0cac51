"""Models in, run folders out: :func:`load_model`, :func:`evaluate`, :func:`infer` and :class:`Results`.

This is the one code path behind ``vssleval evaluate`` / ``vssleval infer`` (the CLI only parses
arguments and calls these functions) and behind notebooks (``docs/api.md``).
"""

from __future__ import annotations

import contextlib
import functools
import json
import shutil
import tempfile
import weakref
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Callable

from torch import nn

from vssleval import limits, timing
from vssleval.api.options import checks_keywords, takes_run_options
from vssleval.api.reporting import write_overlays
from vssleval.api.results import Results, run_splits
from vssleval.engine.runner import RunOutcome, run_inference
from vssleval.data.registry import get_config as get_dataset_config
from vssleval.engine.scoring import count_nonfinite, describe_nonfinite, prepare_run, protocol_of, score_run
from vssleval.engine.spec import RunSpec, seed_list
from vssleval.engine.store import claim_run_folder
from vssleval.errors import VsslevalError
from vssleval.models import build_model
from vssleval.models.base import check_model_interface
from vssleval.models.maps import MapRule
from vssleval.models.registry import (DEFAULT_PRESET, get_entry, load_model_config, load_model_file, preset_block,
                                      split_model_file)
from vssleval.report.single import write_run_outputs
from vssleval.shown_paths import for_console

#: The preset name recorded for a preset given as a dict (an unregistered in-memory model).
CUSTOM_PRESET = "custom"


# -- models ------------------------------------------------------------------------------------
@checks_keywords
def load_model(name: str, checkpoint: str | Path | Sequence[str] | Mapping[str, str] | None = None,
               preset: str | None = None, *, device: str = "cpu", trust_checkpoint: bool = False) -> nn.Module:
    """Build a registered model (zoo, baseline, plug-in or ``"path.py:Class"``) with its weights.

    Args:
        name: a name from ``vssleval models`` / :func:`vssleval.models.list_models`, or
            ``"path/to/file.py:ClassName"`` (its ``file.yaml`` beside it is the preset file).
        checkpoint: the weights file (SACL: the folder of its two files). ``None`` takes the
            model's default (the embedded model's shipped file; baselines need none); a model that
            needs weights and has none raises :class:`VsslevalError`.
        preset: ``"juanola2025"`` (default) or ``"native"``: sets the raw-map rule.
        device: where the weights live (``evaluate`` moves the model to its own device).
        trust_checkpoint: unpickle arbitrary objects (only for files you trust).

    Returns the model in eval mode; it remembers ``name``, ``preset_name``, ``config`` (its YAML)
    and ``checkpoint`` (the path it was loaded from), so ``evaluate(model, ...)`` needs nothing more.
    """
    preset = preset or DEFAULT_PRESET
    if not isinstance(name, str):
        raise VsslevalError(f"load_model takes a model name, got {type(name).__name__}; "
                            "pass an in-memory model to evaluate() directly")
    model = build_model(name, None if checkpoint is None else _checkpoint_arg(checkpoint), preset=preset,
                        trust_checkpoint=trust_checkpoint, device=device)
    model.checkpoint = None if checkpoint is None else _checkpoint_arg(checkpoint)
    return model


def _checkpoint_arg(checkpoint: Any) -> Any:
    if isinstance(checkpoint, Path):
        return str(checkpoint)
    if isinstance(checkpoint, (list, tuple)):
        return ",".join(str(c) for c in checkpoint)
    return checkpoint


def is_model_file(name: str) -> bool:
    """Whether a model name is the form ``path/to/file.py:ClassName`` (a model file, not a registered name)."""
    return ":" in name and name.rsplit(":", 1)[0].endswith(".py")


def prepare_model(model: nn.Module, preset: str | Mapping[str, Any] | None) -> tuple[nn.Module, str]:
    """Check an in-memory model and give it what the engine reads: ``name``, ``config``, ``map_rule``.

    The preset comes from ``preset`` (a name of the model's YAML, or a dict holding one preset
    block: ``audio``, ``image``, ``map``), else from the model itself (``load_model`` records it).
    Refused before any data is read: an object that is no ``nn.Module`` or lacks a contract method.
    """
    if not isinstance(model, nn.Module):
        raise VsslevalError(f"model must be a registered name or a torch.nn.Module, got {type(model).__name__}")
    check_model_interface(model, f"the in-memory {type(model).__name__}")
    name = str(getattr(model, "name", None) or type(model).__name__.lower())
    config = dict(getattr(model, "config", None) or {})
    if isinstance(preset, Mapping):
        config = {**config, "name": name, "presets": {CUSTOM_PRESET: dict(preset)}}
        preset_name = CUSTOM_PRESET
    else:
        preset_name = preset or getattr(model, "preset_name", None) or DEFAULT_PRESET
        if not config.get("presets"):
            config = _registered_config(name, type(model)) or config
        if not config.get("presets"):
            raise VsslevalError(f"the in-memory model {name!r} has no preset: pass preset={{'audio': ..., "
                                "'image': ..., 'map': ...}} (one preset block, as in a model YAML), or load it "
                                "with vssleval.load_model so it carries its YAML")
    block = preset_block(config, preset_name, name)
    for key in ("audio", "image") if isinstance(preset, Mapping) else ():  # a YAML's blocks are its model's
        if not block.get(key):
            raise VsslevalError(f"preset {preset_name!r} of model {name!r} has no {key!r} block; the engine needs "
                                "the audio and image front-ends (see docs/api.md)")
    model.name = name
    model.config = config
    model.preset_name = preset_name
    model.map_rule = MapRule.from_config(block.get("map"))
    return model, preset_name


def _registered_config(name: str, cls: type) -> dict[str, Any] | None:
    """The YAML of the model registered as ``name`` when ``cls`` is what that entry builds
    (e.g. a class registered by ``load_model_file`` and then instantiated by hand)."""
    try:
        entry = get_entry(name)
    except VsslevalError:
        return None
    return load_model_config(name) if entry.resolve() is cls else None


# -- runs --------------------------------------------------------------------------------------
def _run_spec(o: Mapping[str, Any]) -> tuple[RunSpec, nn.Module | None, Callable[[int], None]]:
    """The run's :class:`RunSpec`, for an in-memory model the prepared module, and the memory check
    the engine runs once it knows the number of samples (``vssleval.limits``). ``o``: the options
    :func:`vssleval.api.options.resolve` returned (checked, seeds a count or a list, negatives a tuple
    or None); each lands in the ``RunSpec`` field its row's ``record`` names."""
    model, neg, seeds, preset, checkpoint = o["model"], o["neg"], o["seeds"], o["preset"], o["checkpoint"]
    batch_size, noise_bank = o["batch_size"], o["noise_bank"]
    n_seeds = len(seeds) if isinstance(seeds, list) else seeds  # a count K, or the distinct seed values
    memory = functools.partial(limits.check_run_memory, seeds=n_seeds, batch_size=batch_size, noise_bank=noise_bank,
                               bootstrap=o.get("bootstrap", 0), max_memory=o["max_memory"])
    memory(1, lower_bound=True)  # before the seed list or the dataset exists; the engine checks with N samples
    # neg None: the protocol's default, all three negatives or none for a protocol that scores none
    negatives = tuple(protocol_of(o["protocol"]).default_negatives) if neg is None else neg
    seed_values = seeds if isinstance(seeds, list) else seed_list(n_seeds)
    module = None
    if isinstance(model, str):
        if is_model_file(model):
            split_model_file(model)  # the form is checked before any work
        name, model_file = model, (model if is_model_file(model) else None)
        preset_name = preset or DEFAULT_PRESET
        if not isinstance(preset_name, str):
            raise VsslevalError(f"model {model!r} is registered: choose one of its presets by name, not a dict")
    else:
        if checkpoint is not None:
            raise VsslevalError("checkpoint= is for a model given by name; an in-memory model already holds its "
                                "weights (vssleval.load_model(name, checkpoint=...))")
        module, preset_name = prepare_model(model, preset)
        name, model_file, checkpoint = module.name, None, getattr(module, "checkpoint", None)
    spec = RunSpec(model=name, model_file=model_file, dataset=o["dataset"], data_dir=o["data_dir"],
                   checkpoint=None if checkpoint is None else _checkpoint_arg(checkpoint), preset=preset_name,
                   protocol=o["protocol"], negatives=negatives, seeds=seed_values, noise_bank=noise_bank,
                   batch_size=batch_size, num_workers=o["workers"], device=o["device"], amp=o["amp"],
                   skip_bad=o["skip_bad"], trust_checkpoint=o["trust_checkpoint"], ogl_weights=o["ogl_weights"],
                   limit=o["limit"], max_skip_fraction=o["max_skip_fraction"], allow_nonfinite=o["allow_nonfinite"])
    return spec, module, memory


def plan_evaluation(o: Mapping[str, Any]) -> tuple[RunSpec, nn.Module | None, Callable[[int], None]]:
    """:func:`_run_spec`, then the checks that need no data: the model is registered (or its file
    loads) and the protocol can score these negatives of this model on this dataset's layout. Run
    before hours of inference, not after (and, for a sweep, for every pair before the first starts)."""
    spec, module, memory = _run_spec(o)
    model_config = module.config if module is not None else load_model_config(
        load_model_file(spec.model_file) if spec.model_file else spec.model)
    prepare_run({"model_config": model_config, "model_name": spec.model, "preset": spec.preset,
                 "negatives": spec.negatives, "testset": get_dataset_config(spec.dataset)["layout"]}, spec.protocol)
    return spec, module, memory


def _out_dir(out: str | Path | None) -> Path:
    """``out``, or a new temporary folder (notebooks: every call a fresh run, path in ``Results.out``)."""
    return Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="vssleval-run-"))


@contextlib.contextmanager
def _temporary_until_returned(outdir: Path, temporary: bool) -> Iterator[None]:
    """Remove a temporary run folder (``out=None``) when the run fails: no Results will own it."""
    try:
        yield
    except BaseException:
        if temporary:
            shutil.rmtree(outdir, ignore_errors=True)
        raise


def _owned(results: Results, temporary: bool, log: Callable[[str], None]) -> Results:
    """``results``, owning its run folder when it is a temporary one (``out=None``): the folder is
    removed once ``results`` is garbage-collected (or at exit), so a notebook that re-runs a cell
    leaves nothing behind while the maps stay readable as long as ``results`` lives (docs/api.md)."""
    if temporary:
        weakref.finalize(results, shutil.rmtree, str(results.out), ignore_errors=True)
        log(f"temporary run folder {results.out}: removed when this Results is deleted; pass out= to keep it")
    return results


@timing.timed_run("evaluate")
@takes_run_options("evaluate")
def evaluate(o: dict[str, Any]) -> Results:
    """Compute every map of ``model`` on ``dataset`` (positive, silence, noise, offscreen) and score it.

    Args:
        model: a registered name (``vssleval models``), ``"path.py:Class"``, or an in-memory
            model (:func:`load_model`'s result, or any ``nn.Module`` with ``encode_image``,
            ``encode_audio`` and ``localize``; an unregistered one needs ``preset`` as a dict).
        dataset: a registered dataset (``vssleval datasets``); without ``data_dir`` the embedded
            synthetic benchmark for ``synthetic-*`` names.
        neg: ``"silence"``, ``"noise"``, ``"offscreen"``, a list or comma list of them, ``"all"`` or
            ``"none"``; default (None): the protocol's default (all three; none under ``native``).
        seeds: K (the first K protocol seeds) or an explicit list of seed values.
        protocol: ``"vssleval"`` (clean metrics), ``"juanola2025"`` (vssl_eval's computation), or
            any name of :data:`vssleval.metrics.PROTOCOLS`.
        preset: ``"juanola2025"`` / ``"native"``, or a preset dict for an unregistered model;
            default: the model's own (``load_model``'s) or ``juanola2025``.
        out: the run folder; ``None`` makes a new temporary folder (``Results.out``). An existing
            run there is refused unless ``resume`` (same configuration) or ``overwrite``.
        skip_bad: leave bad records out (listed in ``skipped.csv``, counted by reason in
            ``metrics.json`` and ``report.md``) instead of stopping at the first one.
        max_skip_fraction: with ``skip_bad``, refuse the run when more than this fraction of the
            records would be skipped (default 0.05; docs/datasets.md §8).
        bootstrap: resamples for the 95 % confidence intervals (0: none).
        max_memory: bytes (or ``"16G"``) the run may use; default: the memory available now. A run
            estimated to need more is refused before any work (docs/api.md, "Limits").
        allow_nonfinite: score maps holding NaN / inf under the protocol's rule (docs/protocols.md
            §8.3), with a warning on the console and at the top of ``report.md``. By default such
            maps stop the run after the store is written (:class:`VsslevalError` naming each
            variant and its count; the store stays for inspection, ``rescore`` can score it later).
        verbose: print the engine's log and the headline table (progress bars are always shown).

    The other options are those of ``vssleval evaluate`` (``--help``), under the same names; the
    signature lists them all (:data:`vssleval.api.options.RUN_OPTIONS`). An unknown keyword, or any
    bad value, is a :class:`vssleval.VsslevalError` with the CLI's message before any work.
    """
    spec, module, memory = plan_evaluation(o)
    outdir, temporary, log = _out_dir(o["out"]), o["out"] is None, _logger(o["verbose"])
    with _temporary_until_returned(outdir, temporary):
        outcome = run_inference(spec, outdir, resume=o["resume"], overwrite=o["overwrite"], log=log,
                                model=module, preflight=memory)
        if not outcome.is_main:  # under torchrun, rank 0 scores the whole store and writes the outputs
            return _owned(Results(out=outdir, metrics=None, config=outcome.store.config), temporary, log)
        acc, warnings = score_run(outcome.store, bootstrap=o["bootstrap"], allow_nonfinite=spec.allow_nonfinite)
        config = outcome.store.config
        claim_run_folder(outdir, config)  # before the results: a folder's results always name their run
        metrics = write_run_outputs(acc, config, outdir, notes=outcome.notes, echo=o["verbose"], warnings=warnings,
                                    splits=run_splits(acc, config))
        log(timing.summary_line(metrics["timing"]))
    return _owned(Results(out=outdir, metrics=json.loads(json.dumps(metrics)), config=config), temporary, log)


@timing.timed_run("infer")
@takes_run_options("infer")
def infer(o: dict[str, Any]) -> Results:
    """Compute and store every raw map (no metrics): :func:`evaluate`'s arguments, plus

    Args:
        overlays: draw ``overlays.png`` (and ``.pdf``) for the first K samples (0: none).
        threshold: universal raw-scale threshold of the overlays' thresholded row (default: each
            positive map's adaptive threshold, the rule of pIA; docs/report.md "Overlays"); a finite number.
        allow_nonfinite: recorded in the run's configuration; ``infer`` scores nothing, so maps
            holding NaN / inf are stored either way and counted in a warning.

    Returns :class:`Results` with ``metrics=None``; ``maps(variant)`` holds the heatmaps.
    """
    overlays, threshold = o["overlays"], o["threshold"]
    spec, module, memory = _run_spec(o)
    outdir, temporary, log = _out_dir(o["out"]), o["out"] is None, _logger(o["verbose"])
    with _temporary_until_returned(outdir, temporary):
        outcome: RunOutcome = run_inference(spec, outdir, resume=o["resume"], overwrite=o["overwrite"], log=log,
                                            model=module, preflight=memory)
        if outcome.is_main:
            log(f"heatmap store: {for_console(outcome.store.root)} ({outcome.n_samples} samples, "
                f"{len(spec.seeds)} seeds; {outcome.computed_batches} batches computed, "
                f"{outcome.skipped_batches} reused) in {outcome.seconds:.1f} s")
            found = describe_nonfinite(count_nonfinite(outcome.store))
            if found:
                log(f"WARNING: {found} are non-finite (NaN or inf); `vssleval evaluate` would stop on them "
                    "unless --allow-nonfinite (docs/protocols.md §8.3)")
            if overlays > 0:
                with timing.phase("figures"):
                    write_overlays(outcome.store, outdir, overlays, threshold, log=log)
            log(timing.summary_line(timing.current().record()))
    return _owned(Results(out=outdir, metrics=None, config=outcome.store.config), temporary, log)


def _logger(verbose: bool) -> Callable[[str], None]:
    return print if verbose else (lambda _text: None)
