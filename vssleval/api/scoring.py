"""Maps computed anywhere, scored here: :func:`score` (``vssleval score``; docs/maps-format.md).

The file's maps become an ordinary run folder: a heatmap store written from the file and the
dataset's ground truth (:mod:`vssleval.engine.maps_file`), scored by the engine's own
:func:`~vssleval.engine.scoring.score_run` and written by the same
:func:`~vssleval.report.single.write_run_outputs` as ``evaluate`` and ``rescore``, so ``report``,
``compare`` and ``rescore`` read it as any run, and an exported run scores to its own numbers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vssleval import fingerprint, limits, timing
from vssleval.api.arguments import check_path, check_switch
from vssleval.api.options import DEFAULT_BATCH_SIZE, checks_keywords
from vssleval.api.results import Results, run_splits
from vssleval.data import Dataset, load_dataset
from vssleval.engine.maps_file import MapsFile, positions_in, read_maps_file, write_store
from vssleval.engine.scoring import prepare_run, protocol_of, score_run
from vssleval.engine.spec import seed_list
from vssleval.engine.store import HeatmapStore, claim_run_folder
from vssleval.engine.store.interchange import FORMAT_NAME, MAPS
from vssleval.engine.store.manifest import FORMAT_KEY
from vssleval.errors import VsslevalError
from vssleval.models.registry import preset_block
from vssleval.report.single import write_run_outputs
from vssleval.shown_paths import by_name

#: The protocol a file without a run configuration is scored under unless one is named.
DEFAULT_PROTOCOL = "vssleval"


@checks_keywords
@timing.timed_run("score")
def score(maps: str | Path, out: str | Path, *, dataset: str | None = None, data_dir: str | Path | None = None,
          protocol: str | None = None, bootstrap: int = 1000, max_memory: int | str | None = None,
          allow_nonfinite: bool = False, skip_bad: bool = False, overwrite: bool = False,
          verbose: bool = True) -> Results:
    """Score the maps file ``maps`` (docs/maps-format.md) against ``dataset`` and write a run folder.

    Args:
        maps: the ``.npz`` maps file (``vssleval export``'s, or one written as docs/maps-format.md shows).
        out: the run folder to write (``store/``, ``metrics.json``, ``per_sample.csv``, ``report.md``).
        dataset: the registered dataset the maps are of (default: the one the file names; another
            one is refused).
        data_dir: its folder (omitted: the embedded synthetic benchmark for ``synthetic-*`` names).
        protocol: default: the file's run's protocol (an export), else ``vssleval``.
        bootstrap: resamples for the 95 % confidence intervals (0: none).
        max_memory: bytes (or ``"16G"``) the scoring may use (default: the memory available now).
        allow_nonfinite: score maps holding NaN / inf under the protocol's rule, with a warning.
        skip_bad: load the dataset leaving bad records out (an export of a ``--skip-bad`` run does so).
        overwrite: replace another run in ``out`` (the same file scored again resumes or reuses it).

    Returns :class:`Results` of the new run folder.
    """
    max_memory = limits.validate(bootstrap=bootstrap, max_memory=max_memory)["max_memory"]
    maps, out = check_path("MAPS", maps), check_path("--out", out)
    if maps is None or out is None:
        raise VsslevalError("vssleval.score() needs maps (the .npz file) and out (the run folder to write)")
    data_dir = check_path("--data-dir", data_dir)
    allow_nonfinite, skip_bad, overwrite, verbose = (check_switch(f, v) for f, v in (
        ("--allow-nonfinite", allow_nonfinite), ("--skip-bad", skip_bad), ("--overwrite", overwrite),
        ("verbose=", verbose)))
    mf = read_maps_file(maps, allow_nonfinite=allow_nonfinite)
    name = dataset or mf.dataset
    if name != mf.dataset:
        raise VsslevalError(f"{mf.path} holds maps of dataset {mf.dataset!r}, not of --dataset {name}: score it "
                            f"against {mf.dataset} (or give the file of {name}'s maps)")
    skip_bad = skip_bad or bool((mf.config or {}).get("skip_bad"))
    with timing.phase("data"):
        data = load_dataset(name, data_dir, skip_bad=skip_bad)
        rows = positions_in(mf, data.samples, f"dataset {name} at {data.root}")
        held = set(mf.ids)
        samples = [s for s in data.samples if s.id in held]  # dataset order, as rows
    config = run_config(mf, data, samples, protocol or (mf.config or {}).get("protocol") or DEFAULT_PROTOCOL,
                        allow_nonfinite=allow_nonfinite, skip_bad=skip_bad)
    protocol = config["protocol"]
    prepare_run(config, protocol)  # a file the protocol cannot score is refused before --out is made
    limits.check_run_memory(len(samples), len(config["seeds"]), config["batch_size"], bootstrap=bootstrap,
                            max_memory=max_memory)
    with timing.phase("data"):  # every file read, in full, as evaluate's runs record them
        config["fingerprint"], inputs = fingerprint.compute(
            data.root, data.metadata_files, data.samples, [s.id for s in samples], (),
            checkpoint=(mf.path.name, mf.sha256), preset=(config["preset"], preset_block(
                config["model_config"], config["preset"], config["model_name"])), protocol=protocol)
    out = Path(out)
    with timing.phase("store"):
        store = HeatmapStore.create_in_run(out, config, resume=True, overwrite=overwrite, inputs=inputs)
        write_store(store, mf, samples, rows, config["batch_size"])
    acc, warnings = score_run(store, protocol=protocol, bootstrap=bootstrap, allow_nonfinite=allow_nonfinite)
    warnings += [w for w in (_data_warning(mf, config),) if w]
    notes = [f"maps scored from the file {mf.path.name} (sha256 {mf.sha256[:12]}..., {FORMAT_NAME} version "
             f"{mf.version}, made by {_producer_text(mf.producer)}); no model ran",
             f"scored against the ground truth of the data folder {by_name(config['data_root'])} as read now"]
    if verbose:
        print(notes[0])
    claim_run_folder(out, store.config)  # before the results: a folder's results always name their run
    metrics = write_run_outputs(acc, config, out, notes=notes, echo=verbose, warnings=warnings,
                                splits=run_splits(acc, config))
    if verbose:
        print(timing.summary_line(metrics["timing"]))
    return Results(out=out, metrics=json.loads(json.dumps(metrics)), config=store.config)


def run_config(mf: MapsFile, data: Dataset, samples: list[Any], protocol: str, *, allow_nonfinite: bool,
               skip_bad: bool) -> dict[str, Any]:
    """The run configuration of the file's maps scored on ``samples`` of ``data`` (the fingerprint
    is added by :func:`score`). An export keeps its run's configuration (model, preset, rules,
    checkpoint), so it scores as that run did; a file without one is the model its producer names,
    with the file's preset name and upsampling op and no published thresholds."""
    protocol_of(protocol)  # an unknown name, in the CLI's words
    if mf.config is not None:
        config = {k: v for k, v in mf.config.items() if k not in (FORMAT_KEY, "fingerprint")}
    else:
        model = mf.producer["name"]
        block = {"map": {"raw": "identity", "upsample": {"positive": mf.upsample}, "normalize": "none"}}
        config = {"model": model, "model_name": model, "model_config": {"name": model, "thresholds": {},
                                                                        "presets": {mf.preset: block}},
                  "preset": mf.preset, "checkpoint": None, "checkpoint_sha256": None, "noise_bank": None,
                  "batch_size": DEFAULT_BATCH_SIZE, "limit": None, "offscreen_reuse": None, "audio_rates": None}
    config.update(dataset=data.name, data_dir=str(data.root), data_root=str(data.root), testset=data.layout,
                  n_samples=len(samples), skipped=data.skip_summary(), skip_bad=skip_bad, protocol=protocol,
                  allow_nonfinite=bool(allow_nonfinite),
                  negatives=[v for v in MAPS[1:] if v in mf.maps], seeds=mf.seeds or seed_list(1),
                  maps_file=mf.provenance())
    config.setdefault("batch_size", DEFAULT_BATCH_SIZE)
    return config


def _producer_text(producer: dict[str, Any]) -> str:
    extra = ", ".join(f"{k} {fingerprint.short(v)}" for k, v in producer.items()
                      if k != "name" and isinstance(v, (str, int, float)))
    return f"{producer['name']}{f' ({extra})' if extra else ''}"


def _data_warning(mf: MapsFile, config: dict[str, Any]) -> str | None:
    """A line when an export's run read other data than the folder scored against (its fingerprint)."""
    before = (mf.config or {}).get("fingerprint")
    now = config["fingerprint"]
    if not fingerprint.is_valid(before) or before.get("data") == now.get("data"):
        return None
    return (f"WARNING: the maps in {mf.path.name} were computed from data fingerprinted "
            f"{fingerprint.short(before['data'])}, and are scored against the data folder "
            f"{by_name(config['data_root'])}, fingerprinted {fingerprint.short(now['data'])}")


def default_out(maps: str | Path, dataset: str | None) -> Path:
    """The CLI's ``--out`` when none is given: ``runs/<file name>-<dataset>`` (``runs/<file name>``
    without ``--dataset``)."""
    stem = Path(maps).name.removesuffix(".npz")
    return Path("runs") / (f"{stem}-{dataset}" if dataset else stem)

