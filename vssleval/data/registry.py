"""Datasets by name: one YAML file per dataset in ``configs/datasets/``, and :func:`load_dataset`.

A config names the on-disk ``layout`` (vggss, is3, flickr, extended), the layout ``options``
(annotation file names, media folders, …), the public ``metadata`` that ``vssleval fetch-metadata``
can obtain, and — for the embedded benchmark — a ``synthetic`` block used when no data directory is
given. ``extends: <name>`` inherits another config (its keys, then these on top; ``options`` merged).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from vssleval import resources
from vssleval.data.checks import (OFFSCREEN_KIND, Skip, SkipLog, check_audio, check_inside, check_skip_fraction,
                                  data_roots, skip_summary, validate_max_skip_fraction)
from vssleval.data.negatives import OffscreenPool
from vssleval.data.readers import BASE_LAYOUTS, LAYOUTS, ReaderContext, read_layout
from vssleval.data.types import Sample, scene_groups
from vssleval.errors import BadSampleError, VsslevalError, did_you_mean
from vssleval.yaml_io import read_yaml_mapping


#: Skip kinds that mean "the media file is not there" (as opposed to there but bad).
NO_MEDIA_KINDS = frozenset({"missing_image", "missing_audio"})


def config_dir() -> Path:
    """Where dataset YAMLs live: ``$VSSLEVAL_DATASET_CONFIGS`` or ``configs/datasets`` (see
    :mod:`vssleval.resources`); an error naming the folder and the install when it holds none."""
    return resources.require_dir("dataset_configs", "*.yaml", "the dataset configs")


@lru_cache(maxsize=8)
def _raw_configs(directory: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(directory).glob("*.yaml")):
        cfg = check_dataset_config(read_yaml_mapping(path, "dataset config"), path)
        cfg.setdefault("name", path.stem)
        cfg["_path"] = str(path)
        out[cfg["name"]] = cfg
    return out


#: Sections of a dataset config and the type each must have (docs/datasets.md §7).
_DATASET_SECTIONS = {"name": str, "description": str, "layout": str, "extends": str, "options": dict,
                     "synthetic": dict, "splits": dict, "metadata": list}


def check_dataset_config(cfg: dict[str, Any], path: Path) -> dict[str, Any]:
    """``cfg`` when each known section has its type (a name where a name goes, a mapping where a
    mapping goes, ...); else one :class:`VsslevalError` naming the file and the section."""
    for key, kind in _DATASET_SECTIONS.items():
        value = cfg.get(key)
        if value is not None and not isinstance(value, kind):
            what = {str: "text", dict: "a mapping", list: "a list"}[kind]
            raise VsslevalError(f"dataset config {path}: `{key}:` must be {what}, got {type(value).__name__} "
                                f"{value!r:.60}")
    return cfg


def _resolve(raw: dict[str, dict[str, Any]], name: str, chain: tuple[str, ...]) -> dict[str, Any]:
    cfg = dict(raw[name])
    parent_name = cfg.pop("extends", None)
    if parent_name is None:
        return cfg
    if parent_name in chain + (name,) or parent_name not in raw:
        raise VsslevalError(f"dataset {name!r}: bad 'extends: {parent_name}' in {cfg['_path']}")
    parent = _resolve(raw, parent_name, chain + (name,))
    options = {**(parent.get("options") or {}), **(cfg.get("options") or {})}
    return {**parent, **cfg, "options": options}


def list_datasets(directory: str | Path | None = None) -> list[str]:
    """Registered dataset names, sorted."""
    return sorted(_raw_configs(str(directory or config_dir())))


def get_config(name: str, directory: str | Path | None = None) -> dict[str, Any]:
    """The resolved config of dataset ``name`` (``extends`` applied)."""
    raw = _raw_configs(str(directory or config_dir()))
    if name not in raw:
        raise VsslevalError(f"unknown dataset {name!r}{did_you_mean(name, raw)}; registered: {', '.join(sorted(raw))} "
                            f"(configs in {directory or config_dir()})")
    cfg = _resolve(raw, name, ())
    layout = cfg.get("layout")
    if layout not in LAYOUTS:
        raise VsslevalError(f"dataset {name!r} ({cfg['_path']}): unknown layout {layout!r}; "
                            f"known layouts: {', '.join(LAYOUTS)}")
    return cfg


@dataclass
class Dataset:
    """A loaded dataset: samples in evaluation order, recorded skips and the offscreen pool source.

    ``skips`` is empty unless loaded with ``skip_bad=True``; callers write it to the run outputs.
    """

    name: str
    layout: str
    root: Path
    samples: list[Sample]
    class_files: dict[str, list[str]]
    audio_dir: Path
    audio_ext: str = ".wav"
    skips: list[Skip] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: ``(path, what)`` of every metadata file the reader read (annotation, box file, class-files
    #: dict, test list, negatives CSV): what a run's fingerprint hashes besides the media
    metadata_files: list[tuple[Path, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.samples)

    def skip_summary(self) -> dict[str, Any]:
        """Counts of :attr:`skips` by reason (``vssleval.data.checks.skip_summary``)."""
        return skip_summary(self.skips, len(self.samples))

    def __iter__(self):
        return iter(self.samples)

    def coverage(self) -> dict[str, int]:
        """How much of the annotation file has media (docs/datasets.md §10.5), from the load's skips:

        ``{"records": records of the annotation file (loaded + skipped), "with_media": records whose
        image and audio files exist (bad or not), "usable": records loaded}``. Meaningful with
        ``skip_bad=True`` (otherwise nothing is skipped) and file checks on.
        """
        skipped = [s for s in self.skips if s.is_sample]
        no_media = sum(s.kind in NO_MEDIA_KINDS for s in skipped)
        records = len(self.samples) + len(skipped)
        return {"records": records, "with_media": records - no_media, "usable": len(self.samples)}

    @property
    def has_scenes(self) -> bool:
        """Whether the reader grouped the records into scenes (``Sample.group``; IS3 does): the
        scene metrics and the report's scene section exist only then."""
        return scene_groups(s.group for s in self.samples) is not None

    def __getitem__(self, i: int) -> Sample:
        return self.samples[i]

    def offscreen_pool(self) -> OffscreenPool:
        """Offscreen candidates drawn from this dataset's own audio folder (docs/protocols.md §2.3;
        the draw rule: §2.5)."""
        return OffscreenPool(self.class_files, self.audio_dir, self.audio_ext)


def load_dataset(name: str, data_dir: str | Path | None = None, *, check_files: bool = True,
                 skip_bad: bool = False, options: dict[str, Any] | None = None,
                 config_directory: str | Path | None = None, max_skip_fraction: float | None = None) -> Dataset:
    """Load registered dataset ``name`` from ``data_dir``.

    Args:
        name: a registered dataset (``vssleval datasets`` lists them).
        data_dir: the dataset root. ``None`` is allowed only for synthetic datasets, which are then
            generated (once, cached) by :func:`vssleval.data.synthetic.default_synthetic_dir`.
        check_files: verify each sample's jpg decodes and wav is complete and non-empty. ``False``
            parses annotations only (media need not exist).
        skip_bad: record bad samples in ``Dataset.skips`` instead of raising ``BadSampleError``.
        options: layout options overriding the config (e.g. ``{"annotation": "vggss.json"}``).
        max_skip_fraction: with ``skip_bad``, refuse the load when more than this fraction of the
            records is skipped (``--max-skip-fraction``; ``None``: no limit, e.g. to survey a folder).

    Raises:
        VsslevalError: unknown dataset/layout, missing data dir or metadata, (without
            ``skip_bad``) a :class:`~vssleval.errors.BadSampleError` naming the sample and file, or
            (with it) more skips than ``max_skip_fraction`` allows, with the counts by reason.
    """
    if max_skip_fraction is not None:
        max_skip_fraction = validate_max_skip_fraction(max_skip_fraction)
    cfg = get_config(name, config_directory)
    if data_dir is None:
        synth = cfg.get("synthetic")
        if not synth:
            raise VsslevalError(f"dataset {name!r} needs a data directory (--data-dir); only synthetic "
                                f"datasets are generated on demand")
        from vssleval.data.synthetic import default_synthetic_dir

        data_dir = default_synthetic_dir(synth["layout"], n=int(synth.get("n", 200)), seed=int(synth.get("seed", 0)))
    root = Path(data_dir)
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "does not exist"
        raise VsslevalError(f"data directory {root} {what} (dataset {name!r}); pass --data-dir pointing "
                            f"at the folder that holds the media and annotation files")
    opts = dict(cfg.get("options") or {})
    opts.update(options or {})
    log = SkipLog(skip_bad=skip_bad)
    ctx = ReaderContext(root, check_files, log)
    result = read_layout(cfg["layout"], ctx, opts)
    base_layout = opts.get("base_layout", cfg["layout"])
    defaults = BASE_LAYOUTS[base_layout][1]
    audio_dir = root / opts.get("audio_dir", defaults["audio_dir"])
    audio_ext = opts.get("audio_ext", defaults.get("audio_ext", ".wav"))
    class_files = _check_offscreen_pool(result.class_files, root, audio_dir, audio_ext, result.samples, log,
                                        check_files)
    if skip_bad and max_skip_fraction is not None:
        check_skip_fraction(log.skips, len(result.samples), max_skip_fraction, f"dataset {name!r} at {root}")
    return Dataset(name=name, layout=cfg["layout"], root=root, samples=result.samples,
                   class_files=class_files, audio_dir=audio_dir, audio_ext=audio_ext, skips=log.skips,
                   notes=result.notes, metadata_files=list(ctx.metadata))


def _check_offscreen_pool(class_files: dict[str, list[str]], root: Path, audio_dir: Path, audio_ext: str,
                          samples: list[Sample], log: SkipLog, check_files: bool = True) -> dict[str, list[str]]:
    """Check the audio of every offscreen candidate that is not an (already checked) sample.

    A clip of the class-files dict whose wav is missing or unreadable would stop a run in the
    middle, when a seed happens to draw it; it is a :class:`BadSampleError` now, or, with
    ``skip_bad``, recorded (once) and left out of the offscreen pool. A clip whose path leaves the
    data folder is refused even when ``check_files`` is off (docs/datasets.md §8).
    """
    checked = {str(s.audio_path) for s in samples}
    recorded = {(k.id, k.path) for k in log.skips}
    roots = data_roots(root)
    bad: set[str] = set()
    for clips in class_files.values():
        for clip in clips:
            path = audio_dir / f"{clip}{audio_ext}"
            if str(path) in checked or clip in bad:
                continue
            checked.add(str(path))
            try:
                check_inside(clip, path, root, roots, "audio")
                if check_files:
                    check_audio(clip, path)
            except BadSampleError as exc:
                fix = ("Fix the clip's name (clips must lie inside --data-dir)" if exc.kind == "path_escape"
                       else "Put the wav there")
                exc = BadSampleError(clip, path, f"offscreen clip of the class-files dict: {exc.reason}",
                                     f"{fix}, or remove the clip from the class-files dict (or use --skip-bad "
                                     "to leave it out of the offscreen pool)", kind=OFFSCREEN_KIND + exc.kind)
                bad.add(clip)
                if (clip, str(path)) not in recorded:
                    log.bad(exc)
    if not bad:
        return class_files
    kept = {c: [r for r in clips if r not in bad] for c, clips in class_files.items()}
    return {c: clips for c, clips in kept.items() if clips}
