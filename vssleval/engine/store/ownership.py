"""Run-folder ownership: which run a folder belongs to, and the refusals that keep two runs apart.

One job: a run folder holds one run's results. A run is named by the hash of its identity (its
configuration less the keys that do not change the maps, :func:`config_hash`); the folder's owner is
the run of its ``store/`` or, without one, the run named by the owner marker ``.vssleval-run.json``
(:func:`claim_run_folder`). :func:`check_run_folder` refuses to write a run's results into a folder
holding another run or lying inside a store, whatever the command; :func:`refuse_changed_inputs`
refuses to resume (or reuse) a run with the same settings whose inputs changed, comparing the
fingerprints (vssleval/fingerprint.py; docs/report.md, "Fingerprint of the inputs").
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from vssleval import fingerprint as fp
from vssleval.engine.store.manifest import COMPLETE_FILE, CONFIG_FILE, FORMAT_KEY
from vssleval.engine.store.shards import has_shards
from vssleval.errors import VsslevalError
from vssleval.io_utils import write_json_atomic

#: The marker naming the run whose results a folder holds (written beside ``metrics.json``).
OWNER_FILE = ".vssleval-run.json"
#: Configuration keys that do not change the maps: they are recorded, but a resumed run may differ
#: (``store_format`` is checked on its own: a store of another format is refused before any comparison).
VOLATILE_KEYS = frozenset({"device", "num_workers", "versions", "started", "command", "amp_note", "world_size",
                           "allow_nonfinite", FORMAT_KEY})
#: Keys that follow from the data read (its folder, counts, rates): in a configuration with a
#: fingerprint, the fingerprint's content digests stand for them, so a data folder that is moved or
#: copied with the same content is the same run (docs/report.md, "Fingerprint of the inputs").
DERIVED_FROM_INPUTS = frozenset({"data_dir", "data_root", "n_samples", "skipped", "audio_rates"})
#: Keys that record what a run read, or follow from it (``offscreen_reuse``: whether every offscreen
#: clip drawn is an evaluated positive): compared through the fingerprint, which names what changed.
INPUT_KEYS = DERIVED_FROM_INPUTS | {"fingerprint", "checkpoint_sha256", "weights_sha256", "ogl_weights_sha256",
                                    "offscreen_reuse"}
#: The keys that tell runs apart for a reader, most telling first (the others follow).
_TELLING_KEYS = ("model_name", "model", "dataset", "preset", "protocol", "checkpoint_sha256", "weights_sha256",
                 "seeds", "negatives", "n_samples", "limit", "batch_size", "noise_bank", "data_dir")
#: Keys derived from others (named only when nothing else differs).
_DERIVED_KEYS = ("model_config", "data_root", "testset", "skipped_samples", "model_file", "fingerprint")
#: What a run writes beside its store (``evaluate``, ``infer``, ``report --from-store``); the compat
#: protocol adds ``metrics/<model>_<testset>.txt`` and ``metrics/max_min/*.npy``.
RUN_RESULT_FILES = ("metrics.json", "metrics.csv", "per_sample.csv", "per_class.csv", "report.md", "skipped.csv",
                    "offscreen_draws.csv", "overlays.png", "overlays.pdf")
RUN_RESULT_GLOBS = ("metrics/*.txt", "metrics/max_min/*.npy")


# -- run identity ------------------------------------------------------------------------------------
def identity(config: dict[str, Any]) -> dict[str, Any]:
    """The configuration keys that decide the maps (with a fingerprint, it stands for the data's
    folder and counts)."""
    drop = VOLATILE_KEYS | (DERIVED_FROM_INPUTS if isinstance(config.get("fingerprint"), dict) else frozenset())
    return {k: v for k, v in json.loads(json.dumps(config)).items() if k not in drop}


def _settings(config: dict[str, Any]) -> dict[str, Any]:
    """What the user asked for (model, preset, protocol, seeds, ...): the identity less the inputs."""
    return {k: v for k, v in json.loads(json.dumps(config)).items() if k not in VOLATILE_KEYS | INPUT_KEYS}


def config_hash(config: dict[str, Any]) -> str:
    """SHA-256 of the run's identity (its configuration less the volatile keys): the run's name.

    Two configurations with the same hash produce the same maps; a folder holding a run is owned
    by this hash.
    """
    return hashlib.sha256(json.dumps(identity(config), sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def run_difference(old: dict[str, Any], new: dict[str, Any], limit: int = 4) -> str:
    """The first ``limit`` differences of two run records, most telling first."""
    old, new = identity(old), identity(new)
    keys = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    rank = {k: i for i, k in enumerate(_TELLING_KEYS)}
    main = sorted((k for k in keys if k not in _DERIVED_KEYS), key=lambda k: (rank.get(k, len(rank)), k))
    shown = main or keys
    text = "; ".join(f"{k}: {_short(old.get(k))} -> {_short(new.get(k))}" for k in shown[:limit])
    return text + (f"; and {len(keys) - limit} more" if len(keys) > limit else "")


def run_label(config: dict[str, Any], digest: str | None = None) -> str:
    """A run in words, e.g. ``center on synthetic-vggss (48 samples, seeds [1, 2], preset
    juanola2025, protocol vssleval; run 3f2a9c01b7de)``."""
    model = config.get("model_name") or config.get("model") or "?"
    parts = [f"{config['n_samples']} samples" if config.get("n_samples") is not None else None,
             f"seeds {config['seeds']}" if config.get("seeds") is not None else None,
             f"preset {config['preset']}" if config.get("preset") else None,
             f"protocol {config['protocol']}" if config.get("protocol") else None]
    text = ", ".join(p for p in parts if p)
    if digest:
        text += f"; run {digest[:12]}"
    return f"{model} on {config.get('dataset', '?')} ({text})"


# -- whose folder ------------------------------------------------------------------------------------
def read_json(path: Path) -> Any:
    """A run record (``config.json``, the owner marker) as JSON; unreadable is a one-line error."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise VsslevalError(f"cannot read {path} ({exc}); it should hold a run's record as JSON: remove the "
                            "folder or choose another one") from exc


def holds_maps(store_root: Path) -> bool:
    """Whether the store at ``store_root`` holds any shard (or a completion marker): a store left
    by a start that failed before its first shard holds no run."""
    return (store_root / COMPLETE_FILE).is_file() or has_shards(store_root)


def is_store_dir(path: str | Path) -> bool:
    """Whether ``path`` is a heatmap store (its ``config.json`` beside shards or ``COMPLETE``, or
    the ``store/`` folder of a run)."""
    path = Path(path)
    if not (path / CONFIG_FILE).is_file():
        return False
    return path.name == "store" or holds_maps(path)


def store_containing(path: str | Path) -> Path | None:
    """The heatmap store that ``path`` is (or lies inside), if any."""
    path = Path(path).absolute()
    for candidate in (path, *path.parents):
        if is_store_dir(candidate):
            return candidate
    return None


def run_folder_owner(folder: str | Path) -> tuple[str | None, dict[str, Any], Path] | None:
    """``(config hash, run record, file saying so)`` of the run whose results ``folder`` holds, or
    ``None`` for a folder holding no run.

    The owner is the run of ``folder/store`` when that store holds anything, else the run named by
    the owner marker (one that names no run and hash is refused: it was edited or damaged). Results
    (``metrics.json``) that no marker names belong to an unknown run: ``(None, {}, metrics.json)``.
    """
    folder = Path(folder)
    store = folder / "store"
    if (store / CONFIG_FILE).is_file() and holds_maps(store):
        config = read_json(store / CONFIG_FILE)
        if isinstance(config, dict):
            return config_hash(config), config, store / CONFIG_FILE
    marker = folder / OWNER_FILE
    if marker.is_file():
        record = read_json(marker)
        if not (isinstance(record, dict) and isinstance(record.get("run"), dict)
                and isinstance(record.get("config_hash"), str) and record["config_hash"]):
            raise VsslevalError(f"{marker} does not name a run (an edited or damaged marker): remove the folder "
                                "or choose another one")
        return record["config_hash"], record["run"], marker
    if (folder / "metrics.json").is_file():  # every run claims its folder before writing it
        return None, {}, folder / "metrics.json"
    return None


def check_run_folder(folder: str | Path, config: dict[str, Any], *, overwrite: bool = False,
                     source: str | Path | None = None, fix: str = "choose another --out") -> None:
    """Refuse to write the results of the run ``config`` into ``folder`` when ``folder`` lies inside
    a heatmap store or holds another run (``overwrite``: the user asked to replace that run).

    ``source``: where the results come from (a store), named in the message; ``fix``: the way out.
    """
    folder = Path(folder)
    inside = store_containing(folder)
    if inside is not None:
        raise VsslevalError(f"{folder} is inside the heatmap store {inside}, which holds only its run's shards: "
                            f"{fix}, outside any store")
    owner = run_folder_owner(folder)
    if owner is None or overwrite:
        return
    digest, record, evidence = owner
    new_digest = config_hash(config)
    if digest == new_digest:
        return
    what = f"the results of {run_label(config, new_digest)}" + (f" from {source}" if source else "")
    if digest is None:
        raise VsslevalError(f"{folder} holds run results ({evidence}) that no owner marker ({OWNER_FILE}) names, "
                            f"so they may be another run's; refusing to write {what} there: {fix}")
    raise VsslevalError(f"{folder} holds another run, {run_label(record, digest)} (see {evidence}); refusing to "
                        f"write {what} there, which would mix the two runs ({run_difference(record, config)}): "
                        f"{fix}")


def claim_run_folder(folder: str | Path, config: dict[str, Any]) -> None:
    """Record in ``folder`` that it holds the results of the run ``config`` (its owner marker)."""
    record = {"config_hash": config_hash(config),
              "run": {k: v for k, v in config.items() if k != "skipped_samples"}}
    write_json_atomic(Path(folder) / OWNER_FILE, record)


def release_run_folder(folder: str | Path) -> None:
    """Drop the owner marker and the results of the folder's run (a run that replaces it with
    ``--overwrite``): nothing the replaced run wrote may pass for the new run's results."""
    folder = Path(folder)
    (folder / OWNER_FILE).unlink(missing_ok=True)
    for name in RUN_RESULT_FILES:
        (folder / name).unlink(missing_ok=True)
    for pattern in RUN_RESULT_GLOBS:
        for path in folder.glob(pattern):
            path.unlink(missing_ok=True)


# -- resuming a run whose inputs changed ---------------------------------------------------------------
def changed_inputs(store_root: str | Path, config: dict[str, Any], inputs: dict[str, Any] | None = None) -> str | None:
    """Why the run held in ``store_root`` cannot go on with the inputs of ``config``, or None.

    Only a run with the same settings is checked (another run is told apart by
    :func:`check_run_folder`): its recorded fingerprint must equal ``config``'s. The answer names the
    first part that changed (weights, preset, metadata file, records, media, offscreen clips) and,
    from ``inputs`` and the store's ``inputs.json``, the first record or file. A run recorded
    without a fingerprint, or with one that cannot be read, cannot be checked and is refused.
    ``config`` without a fingerprint (a store written directly, not by the engine) is not checked.
    """
    root = Path(store_root)
    new = config.get("fingerprint")
    if new is None or not ((root / CONFIG_FILE).is_file() and holds_maps(root)):
        return None
    old_config = read_json(root / CONFIG_FILE)
    if not isinstance(old_config, dict) or _settings(old_config) != _settings(config):
        return None
    old = old_config.get("fingerprint")
    if old is None:
        return (f"{root / CONFIG_FILE} records no fingerprint of what it read, so it cannot be checked that its "
                "inputs are unchanged")
    if not fp.is_valid(old):
        return f"the fingerprint of its inputs recorded in {root / CONFIG_FILE} is not readable (edited or damaged)"
    return fp.describe_change(old, new, _read_inputs(root), inputs)


def _read_inputs(root: Path) -> dict[str, Any] | None:
    """The store's ``inputs.json`` (the detail of its fingerprint), or None when absent or unreadable."""
    try:
        detail = json.loads((root / fp.INPUTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return detail if isinstance(detail, dict) else None


def refuse_changed_inputs(store_root: str | Path, config: dict[str, Any], inputs: dict[str, Any] | None = None,
                          overwrite: bool = False, resume: bool = True) -> None:
    """Raise, in one line naming what changed and how to start over, when the run in ``store_root``
    read other inputs than ``config`` describes (:func:`changed_inputs`); ``overwrite`` replaces it."""
    if overwrite:
        return
    reason = changed_inputs(store_root, config, inputs)
    if reason:
        run_dir = Path(store_root).parent if Path(store_root).name == "store" else Path(store_root)
        raise VsslevalError(f"the run in {run_dir} cannot be {'resumed' if resume else 'reused'}: {reason}; its "
                            "maps belong to the old inputs: start over with a new --out, or pass --overwrite to "
                            f"replace the run (or remove {run_dir})")
