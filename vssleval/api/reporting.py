"""Reports from finished runs: :func:`report` (compare runs) and :func:`rescore` (a store scored again).

The wiring behind ``vssleval report`` and notebooks (``docs/api.md``). The tables, distributions,
ROC and calibration come from each run's ``metrics.json`` and ``per_sample.csv``; the threshold
sweep and the overlays need the raw maps, so this module reads the heatmap stores and the dataset
images and hands arrays to :mod:`vssleval.report`, which never touches the engine.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
from PIL import Image

from vssleval import fingerprint, limits, timing
from vssleval.api import html_report
from vssleval.api.options import checks_keywords
from vssleval.api.results import Results, run_splits
from vssleval.engine.scoring import prepare_run, score_run
from vssleval.engine.store import (COMPLETE_FILE, CONFIG_FILE, EXTREMES_SUFFIX, HeatmapStore, check_run_folder,
                                   claim_run_folder, run_folder_owner, run_label, store_containing, unpack_gt)
from vssleval.errors import VsslevalError
from vssleval.io_utils import atomic_path, ensure_output_dir, write_text_atomic
from vssleval.report.figures import separates
from vssleval.metrics.resampling import DEFAULT_SEED
from vssleval.report.choices import CI_STYLES, DEFAULT_POINTS, HTML_FORMAT
from vssleval.report import compare_tables
from vssleval.report.compare import check_pair, compare_csv, console_lines, sample_count
from vssleval.report.compare import compare as compare_runs
from vssleval.report.gallery import Gallery
from vssleval.report.leaderboard import FORMATS
from vssleval.report.multi import calibrate_all, write_report
from vssleval.report.overlays import overlay_grid
from vssleval.report.labels import check_distinct
from vssleval.report.runs import RunRecord, assign_labels, check_comparable, data_difference, data_note, load_run
from vssleval.report.single import write_run_outputs
from vssleval.report.sweep import sweep_panel
from vssleval.shown_paths import by_name, for_console, in_folder

#: What ``formats`` may name: the leaderboard files and ``html`` (report.html, docs/report.md).
REPORT_FORMATS = (*FORMATS, HTML_FORMAT)
#: Run-configuration keys on which a store and its run's metrics.json must agree.
_STORE_MATCH = ("model_name", "dataset", "preset")


@checks_keywords
def report(runs: str | Path | Sequence[str | Path], out: str | Path, *, allow_mixed: bool = False,
           maps: bool = True, overlays: int = 4, sweep_samples: int = 1000, sweep_points: int = DEFAULT_POINTS,
           formats: Sequence[str] = FORMATS, ci_style: str = "bracket", verbose: bool = True) -> Path:
    """Compare finished runs in one ``report.md`` (tables, figures, calibration, overlays).

    Args:
        runs: one run folder or several (written by ``evaluate``).
        out: the report folder (never one of the runs' folders).
        allow_mixed: put runs of different protocols, datasets, presets or data together (the
            same data: equal fingerprints, docs/report.md "Fingerprint of the inputs").
        maps: draw the threshold sweep and overlays from the heatmap stores (``False``: only
            ``metrics.json`` / ``per_sample.csv`` are read).
        overlays: overlay grid of the first K samples (0: none).
        sweep_samples: threshold sweep over the first N samples and the first seed (0: all).
        sweep_points: thresholds in the sweep (>= 2).
        formats: leaderboard files (``md``, ``latex``, ``csv``; empty: none) and ``html``: the
            browsable ``report.html`` with its per-sample browser (docs/report.md, "report.html").
        ci_style: ``bracket`` (``0.645 [0.612, 0.679]``), ``pm`` (``0.645 ± 0.034``) or ``none``.

    Returns the path of ``report.md``.
    """
    limits.validate(overlays=overlays, sweep_samples=sweep_samples, sweep_points=sweep_points)
    formats = [formats] if isinstance(formats, str) else list(formats)
    bad = [f for f in formats if f not in REPORT_FORMATS] + ([ci_style] if ci_style not in CI_STYLES else [])
    if bad:
        raise VsslevalError(f"unknown --format / --ci-style {', '.join(map(repr, bad))}: formats are "
                            f"{', '.join(REPORT_FORMATS)}; CI styles {', '.join(CI_STYLES)}")
    runs = [runs] if isinstance(runs, (str, Path)) else list(runs)
    if not runs:
        raise VsslevalError("give at least one run directory: vssleval report RUN_DIR [RUN_DIR ...] --out DIR")
    check_distinct(runs)  # one run listed twice would be one run in two rows
    records = [load_run(p) for p in runs]
    assign_labels(records)
    mixed = check_comparable(records, allow_mixed=allow_mixed)
    out = Path(out)
    for r in records:
        if out.resolve() == r.path.resolve():
            raise VsslevalError(f"--out {out} is the run directory of {r.label}; writing the report there would "
                                f"replace {r.path / 'report.md'}: choose another folder")
    _check_report_folder(out)
    ensure_output_dir(out)  # the runs are comparable: an unusable --out stops before any figure is drawn
    calibrations = calibrate_all(records)
    notes: list[str] = [n for n in (data_note(records),) if n]
    sweeps: dict[str, Any] = {}
    overlay_files: dict[str, Path] = {}
    gallery = Gallery(out) if HTML_FORMAT in formats else None  # report.html's per-sample browser
    try:
        if not maps:
            notes.append("--no-maps: threshold sweep and overlays not computed"
                         + ("; report.html lists the samples without maps" if gallery else ""))
        else:
            stores = {r.label: _open_run_store(r) for r in records}  # every store checked before any work
            frames: dict[tuple, dict[str, Path]] = {}  # runs of one dataset read its annotation once
            for r in records:
                store = stores[r.label]
                t = calibrations[r.label]["threshold"]
                # one pass over the store: each shard feeds the sweep and report.html's browser
                feed, later = None, []  # later: the browser's notes, after the overlays' as before
                if gallery is not None:
                    feed = html_report.RunFeed(gallery, r, store.config, _gallery_frames(r, store, later, frames))
                with store.read_only():  # the report only reads the maps (shared ones as views, not copies)
                    sweeps[r.label] = _sweep_panel(r, store, t if separates(calibrations[r.label]) else None,
                                                   sweep_samples, sweep_points, feed)
                    if overlays > 0:
                        path = _overlays(r, store, overlays, out, notes, frames)
                        if path is not None:
                            overlay_files[r.label] = path
                notes.extend(later + (feed.notes() if feed is not None else []))
        res = write_report(records, out, calibrations, sweeps=sweeps, overlays=overlay_files, notes=notes,
                           mixed=mixed, formats=[f for f in formats if f != HTML_FORMAT], ci_style=ci_style)
        page = html_report.write_page(gallery, records, out, Path(res["report"]), ci_style) if gallery else None
    finally:
        if gallery is not None:
            gallery.discard()  # the temporary folder of a report that failed (finished: already moved)
    if verbose:
        print(f"report: {for_console(res['report'])} ({len(records)} runs; {len(res['figures'])} figure files; "
              f"{res['summary'].name}{f'; {page.name}' if page else ''})")
    return Path(res["report"])


def _gallery_frames(run: RunRecord, store: HeatmapStore, notes: list[str],
                    frames: dict[tuple, dict[str, Path]]) -> dict[str, Path] | None:
    """The run's ``{sample id: image path}`` for report.html, None (with a note) when unreadable."""
    try:
        return _frame_paths(store.config, frames)
    except (VsslevalError, OSError) as exc:
        notes.append(f"{run.label}: report.html shows the maps without the frames, the dataset is not readable at "
                     f"{store.config.get('data_root')} ({exc})")
        return None


@checks_keywords
def compare(run_a: str | Path, run_b: str | Path, out: str | Path, *, bootstrap: int = 1000,
            allow_mixed: bool = False, verbose: bool = True) -> Path:
    """Paired comparison of two runs on the same samples (B - A for each ``--compare`` row of their
    protocol's metric catalog, e.g. cIoU@0.5, AUC, AP and pIA per negative under ``vssleval``; paired
    bootstrap interval, paired permutation p-value; a metric that cannot be paired is listed as not
    comparable, with why); writes ``compare.csv``, ``compare.md`` and ``compare.tex`` in ``out`` and
    returns the path of ``compare.csv``. Runs of different
    datasets, protocols or samples are refused, and so are runs on different data (the same
    decision as :func:`report`'s) unless ``allow_mixed``."""
    bootstrap = limits.validate(bootstrap=bootstrap)["bootstrap"]
    check_distinct([run_a, run_b])  # a run against itself: one run in both columns
    a, b = load_run(run_a), load_run(run_b)
    assign_labels([a, b])
    check_pair(a, b, allow_mixed)  # before any folder is made
    _check_report_folder(Path(out))
    ensure_output_dir(out)
    rows = compare_runs(a, b, bootstrap, allow_mixed=allow_mixed)
    path = Path(out) / "compare.csv"
    write_text_atomic(path, compare_csv(rows, a, b, bootstrap, DEFAULT_SEED, Path(out)))
    n = sample_count(a)  # the same tables for a reader and a paper (docs/report.md)
    write_text_atomic(Path(out) / "compare.md", compare_tables.markdown(rows, a, b, n, bootstrap, DEFAULT_SEED))
    write_text_atomic(Path(out) / "compare.tex", compare_tables.latex(rows, a, b, n, bootstrap, DEFAULT_SEED))
    if verbose:
        mixed = data_difference([a, b])
        lines = [f"mixed runs (--allow-mixed): {mixed}"] if mixed else []
        for line in lines + [n for n in (data_note([a, b]),) if n]:
            print(line)
        print("\n".join(console_lines(rows, a, b, bootstrap)))
        print(f"compare: {for_console(path)} (and compare.md, compare.tex)")
    return path


@checks_keywords
@timing.timed_run("rescore")
def rescore(run: str | Path, out: str | Path, *, protocol: str | None = None, bootstrap: int = 1000,
            max_memory: int | str | None = None, allow_nonfinite: bool = False, verbose: bool = True) -> Results:
    """Score a run's heatmap store again (no model runs) and write ``evaluate``'s outputs to ``out``.

    Args:
        run: the run folder (or its ``store/``).
        out: where ``metrics.json``, ``per_sample.csv``, ``report.md`` go.
        protocol: ``vssleval`` or ``juanola2025`` (default: the run's own).
        bootstrap: resamples for the 95 % confidence intervals (0: none).
        max_memory: bytes (or ``"16G"``) the scoring may use (default: the memory available now).
        allow_nonfinite: score maps holding NaN / inf under the protocol's rule, with a warning
            (default: refuse, naming each variant and its count; see ``evaluate``).
    """
    max_memory = limits.validate(bootstrap=bootstrap, max_memory=max_memory)["max_memory"]
    # before the store is read (one sample, one seed), then with the store's own counts
    limits.check_run_memory(1, 1, 1, bootstrap=bootstrap, max_memory=max_memory, lower_bound=True)
    store = HeatmapStore.open(run)
    _require_complete(store)
    config = store.config
    limits.check_run_memory(int(config.get("n_samples") or 1), len(config.get("seeds") or [0]),
                            int(config.get("batch_size") or 1), bootstrap=bootstrap, max_memory=max_memory)
    check_run_folder(out, config, source=store.root,
                     fix="choose another --out (a new folder, or this run's own folder)")
    protocol = protocol or config["protocol"]
    prepare_run(config, protocol, store)  # a store the protocol cannot score is refused before --out is made
    ensure_output_dir(out)  # before the store is scored
    run_dir = store.root.parent if store.root.name == "store" else store.root
    acc, warnings = score_run(store, protocol=protocol, bootstrap=bootstrap, allow_nonfinite=allow_nonfinite)
    config = {**config, "protocol": protocol, "allow_nonfinite": bool(allow_nonfinite)}
    notes = _previous_notes(run_dir / "metrics.json", protocol)
    # the notes go into report.md: the store relative to --out, the data folder by name (shown_paths)
    notes.append(f"metrics recomputed from the heatmap store {in_folder(store.root, out)} (no model run), "
                 f"protocol {protocol}")
    notes.append(ground_truth_note(config))
    if verbose:
        print(notes[-1])
    out = Path(out)
    # the results of the store's run, whatever the protocol; claimed before they are written, so that
    # a write killed half-way leaves a folder this run may write again (docs/report.md)
    claim_run_folder(out, store.config)
    metrics = write_run_outputs(acc, config, out, notes=notes, echo=verbose, warnings=warnings,
                                splits=run_splits(acc, config))
    for name in ("offscreen_draws.csv", "skipped.csv"):  # the run's records travel with its metrics
        draws = run_dir / name
        if draws.is_file() and draws.resolve() != (out / draws.name).resolve():
            with atomic_path(out / draws.name) as tmp:
                shutil.copyfile(draws, tmp)
    if verbose:
        print(timing.summary_line(metrics["timing"]))
    return Results(out=out, metrics=json.loads(json.dumps(metrics)), config=config, store_dir=store.root)


def ground_truth_note(config: dict[str, Any]) -> str:
    """What a rescore scores against: the ground truth stored with the maps, not today's data folder."""
    summary = config.get("fingerprint")
    read = (f"the inputs fingerprinted {fingerprint.short(summary['digest'])} when the maps were computed"
            if fingerprint.is_valid(summary) else "the inputs of the original run (which recorded no fingerprint)")
    return (f"scored against the ground truth stored with the maps, i.e. {read}; the data folder "
            f"{by_name(config.get('data_root'))} is not read again except for the published split lists of the "
            "breakdowns")


def _previous_notes(path: Path, protocol: str) -> list[str]:
    """The engine's notes of the original run (kept when the protocol is the same)."""
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(old, dict) or old.get("protocol") != protocol:
        return []
    return [str(n) for n in old.get("notes") or []
            if "recomputed from the heatmap store" not in str(n) and "ground truth stored with the maps" not in str(n)]


def _check_report_folder(out: Path) -> None:
    """A comparison report is no run's results: its folder may neither hold a run nor lie in a store."""
    inside = store_containing(out)
    if inside is not None:
        raise VsslevalError(f"--out {out} is inside the heatmap store {inside}; choose a folder outside any store/")
    owner = run_folder_owner(out)
    if owner is not None:
        digest, record, evidence = owner
        raise VsslevalError(f"--out {out} holds the run {run_label(record, digest)} (see {evidence}); a comparison "
                            f"report there would replace that run's report.md: choose another folder")


def _require_complete(store: HeatmapStore) -> None:
    if not store.is_complete():
        raise VsslevalError(f"{store.root / COMPLETE_FILE} is missing: the run in {store.root.parent} is unfinished "
                            f"({len(store.shard_numbers())} shards written); finish it with `vssleval evaluate ... "
                            "--resume` first")
    store.require_complete()  # and every shard it counts is still there


def _open_run_store(run: RunRecord) -> HeatmapStore:
    if not (run.path / "store" / CONFIG_FILE).is_file():
        raise VsslevalError(f"{run.path / 'store' / CONFIG_FILE} is missing: the threshold sweep and the overlays need "
                            f"the heatmap store of {run.label}; pass --no-maps to report without them")
    store = HeatmapStore(run.path / "store")
    _require_complete(store)
    try:
        config = store.config
    except (OSError, ValueError) as exc:
        raise VsslevalError(f"cannot read {store.root / CONFIG_FILE}: {exc}") from exc
    differ = [f"{k}: {config.get(k)!r} vs {run.run.get(k)!r}" for k in _STORE_MATCH
              if str(config.get(k)) != str(run.run.get(k))]
    ours, theirs = config.get("fingerprint"), run.metrics.get("fingerprint")
    if fingerprint.is_valid(ours) and fingerprint.is_valid(theirs) and ours["digest"] != theirs["digest"]:
        # the maps were computed from other inputs than the metrics were (a store from another run)
        differ.append(f"fingerprint: {fingerprint.short(ours['digest'])} vs {fingerprint.short(theirs['digest'])}")
    if differ:
        raise VsslevalError(f"{store.root / CONFIG_FILE} and {run.path / 'metrics.json'} describe different runs "
                            f"({', '.join(differ)}); "
                            "rebuild the metrics with `vssleval rescore`")
    return store


def _first_seed_batches(store: HeatmapStore, shards: Iterator[dict[str, np.ndarray]] | None = None,
                        feed: Callable[[dict[str, np.ndarray]], None] | None = None
                        ) -> Iterator[tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]]:
    """The store's shards (or those left in ``shards``, an iterator of them) as ``(positive, gt,
    {negative: maps})`` of the first seed (silence has no seed); each shard is given to ``feed``
    too (report.html's browser) as it is read."""
    negatives = [v for v in ("silence", "noise", "offscreen") if v in (store.config.get("negatives") or [])]
    for shard in store.iter_shards() if shards is None else shards:
        if feed is not None:
            feed(shard)
        yield (shard["positive"], unpack_gt(shard["gt"]),
               {v: shard[v] if v == "silence" else shard[v][0] for v in negatives})


def _sweep_panel(run: RunRecord, store: HeatmapStore, calibrated: float | None, max_samples: int,
                 points: int, feed: Callable[[dict[str, np.ndarray]], None] | None = None) -> dict[str, Any]:
    """The run's threshold-sweep panel. The store is read once: ``feed`` gets every shard, those
    past the sweep's ``max_samples`` included."""
    config = store.config
    shards = store.iter_shards()
    panel = sweep_panel(run, _first_seed_batches(store, shards, feed), prepare_run(config, "vssleval").ops,
                        config["seeds"][0], calibrated, max_samples, points)
    if feed is not None:
        for shard in shards:  # the shards the sweep did not need
            feed(shard)
    return panel


def _overlays(run: RunRecord, store: HeatmapStore, k: int, out: Path,
              notes: list[str], frames: dict[tuple, dict[str, Path]] | None = None) -> Path | None:
    """Overlay grid of the first ``k`` samples, thresholded as the clean protocol's pIA (the
    positive map's adaptive threshold); a note (not an error) when the dataset images are gone."""
    rel = Path("overlays") / f"{run.slug}.png"
    return rel if write_overlay_figure(store, k, None, out / rel, notes, label=run.label, frames=frames) else None


def _frame_paths(config: dict[str, Any], frames: dict[tuple, dict[str, Path]] | None) -> dict[str, Path]:
    """``{sample id: image path}`` of the run's dataset, read once per (dataset, folder) in ``frames``."""
    from vssleval.data import load_dataset

    key = (config["dataset"], config.get("data_root"), bool(config.get("skip_bad")))
    cache = {} if frames is None else frames
    if key not in cache:
        dataset = load_dataset(key[0], key[1], check_files=False, skip_bad=key[2])
        cache[key] = {s.id: s.image_path for s in dataset.samples}
    return cache[key]


def write_overlay_figure(store: HeatmapStore, k: int, threshold: float | None, path: Path, notes: list[str],
                         label: str = "run", frames: dict[tuple, dict[str, Path]] | None = None) -> bool:
    """Overlay grid (image | positive | silence | noise | offscreen, first seed, the ground-truth
    boxes on each) of the first ``k`` samples of ``store`` at ``path`` (PNG and PDF), thresholded at
    ``threshold`` (raw scale) or, when None, at each positive map's adaptive threshold; False, with a
    note, when it cannot be drawn. ``frames``: a cache of :func:`_frame_paths` shared by the runs of
    one report."""
    from vssleval.data.image import load_rgb

    config = store.config
    numbers = store.shard_numbers()
    if not numbers:
        notes.append(f"{label}: the store has no shards, no overlays")
        return False
    shard = store.read_shard(numbers[0])
    ids = [str(i) for i in shard["ids"][:k]]
    try:
        by_id = _frame_paths(config, frames)
        images = []
        for sid in ids:
            # load_rgb: 16-bit frames scaled, not clipped (docs/datasets.md §8)
            images.append(np.asarray(load_rgb(by_id[sid]).resize((224, 224), Image.BICUBIC)))
    except (VsslevalError, OSError, KeyError) as exc:
        notes.append(f"{label}: no overlays, the dataset images are not readable at {config.get('data_root')} ({exc})")
        return False
    negatives = config.get("negatives") or []
    first = {"positive": np.s_[:k], "silence": np.s_[:k], "noise": np.s_[0, :k], "offscreen": np.s_[0, :k]}
    maps = {v: shard[v][first[v]] for v in ("positive", *negatives) if v in first}
    # a store keeping resized maps records the raw maps' maxima (docs/models.md §2.8)
    raw_max = {v: shard[v + EXTREMES_SUFFIX][first[v]][..., 0] for v in maps if v + EXTREMES_SUFFIX in shard}
    overlay_grid(images, maps, threshold, path, titles=ids, op=prepare_run(config, "vssleval").ops,
                 gt=unpack_gt(shard["gt"][:k]), boxes=shard["boxes"][:k], raw_max=raw_max)
    return True


def write_overlays(store: HeatmapStore, out: Path, k: int, threshold: float | None,
                   log: Callable[[str], None] = print) -> None:
    """Overlays of the first ``k`` samples; the thresholded row uses ``threshold`` (a universal
    raw-scale threshold) or, by default, each positive map's adaptive threshold (the clean
    protocol's rule for pIA and cIoU_adap, docs/report.md "Overlays")."""
    notes: list[str] = []
    path = out / "overlays.png"
    if write_overlay_figure(store, k, threshold, path, notes):
        shown = (f"threshold {threshold:.4g} (universal)" if threshold is not None
                 else "thresholded at each positive map's adaptive threshold")
        log(f"overlays: {for_console(path)} (and .pdf), {shown}")
    for note in notes:
        log(f"overlays: {note}")
