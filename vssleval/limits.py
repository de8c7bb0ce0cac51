"""Bounds on every numeric option of every command and API function: one table, one check.

Every number a user gives (``--seeds``, ``--bootstrap``, ``synth --n``, ``--threshold``, the
``train-synthetic`` hyper-parameters, ...) is checked here, before any work, by the CLI (every
parsed option whose name is in :data:`LIMITS`, whichever mode of the command runs) and by the API
function that receives it (``vssleval.evaluate``, ``infer``, ``report``, ``rescore``, ``synth``,
``TrainConfig``, ``fetch_metadata``), with the same message. A refused value raises
:class:`VsslevalError` naming the flag, the allowed range, the value and why the bound exists.

Upper bounds come from one of three places:

* a fixed maximum where the number has a natural ceiling (a PNG's pixel limit, a 64-bit seed);
* memory (``MEMORY`` in the table): the bytes a run will hold are estimated from the number of
  samples N, the seeds S, the batch size and the bootstrap resamples R (:func:`run_bytes`,
  :func:`bootstrap_bytes`, :func:`synth_bytes`, :func:`train_bytes`); when the estimate exceeds
  the memory available (``MemAvailable`` of ``/proc/meminfo``, a cgroup limit, else
  ``os.sysconf``) or ``--max-memory``, the run is refused with the estimate. The first check uses
  N = 1 (before the dataset is read); the engine checks again with the real N before any model
  runs. The estimates are rough lower bounds (model weights and activations not counted): they
  exist to refuse numbers that cannot fit, not to predict peak memory (docs/api.md, "Limits");
* none, where a large value only costs time the user asked for (``--steps``, ``--limit``).

Floats must be finite (``nan`` and ``inf`` are refused) wherever they are accepted.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from vssleval.errors import VsslevalError

#: ``Limit.most`` of an option bounded by the memory estimate, not by a fixed number.
MEMORY = "memory"

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
#: Default of ``--max-skip-fraction`` / ``max_skip_fraction=`` (its bounds: the row of that name below).
DEFAULT_MAX_SKIP_FRACTION = 0.05


@dataclass(frozen=True)
class Limit:
    """One numeric option: ``least <= value <= most`` (``least < value`` when ``strict``).

    ``name`` is the API keyword and the argparse ``dest``; ``scope`` a command name when the same
    name means something else there (``train-synthetic --batch-size``). ``most`` is a number, a
    function of the machine, :data:`MEMORY` or ``None`` (no upper bound; ``reason`` says why).
    """

    name: str
    kind: str  # "int", "float", "size" (bytes: an int or "512M", "8G", ...) or "seeds" (check_seeds)
    least: float | None
    most: float | str | Callable[[], float] | None
    reason: str
    strict: bool = False
    scope: str | None = None
    optional: bool = False  # None means "not given" (e.g. --limit, --threshold)
    label: str | None = None  # the text naming it in messages; default the flag

    @property
    def flag(self) -> str:
        return self.label or "--" + self.name.replace("_", "-")

    def upper(self) -> float | None:
        most = self.most() if callable(self.most) else self.most
        return None if most is None or most == MEMORY else most


def _max_workers() -> int:
    """4 per CPU core"""
    return 4 * (os.cpu_count() or 1)


#: name, kind, least, most, reason (and scope / strictness). Keep one row per option.
LIMITS: tuple[Limit, ...] = (
    # -- evaluate / infer (vssleval.api.evaluate, infer; RunSpec) --------------------------------
    Limit("seeds", "seeds", 1, MEMORY, "seed repetitions: every noise and offscreen map is stored and "
          "scored S times; the memory estimate bounds S x N"),
    Limit("seed_values", "int", 0, 2 ** 63 - 1, "each explicit seed drives a numpy SeedSequence, which takes "
          "integers >= 0, and the heatmap store keeps the seeds as int64", label="each value of --seeds"),
    Limit("batch_size", "int", 1, MEMORY, "samples per batch; a batch holds S noise and offscreen inputs "
          "per sample"),
    Limit("noise_bank", "int", 0, MEMORY, "noise clips per seed (0: independent noise); each clip's "
          "features are kept for the run"),
    Limit("workers", "int", 0, _max_workers, "DataLoader worker processes (0: the main process); more than "
          "4 per CPU core only adds memory"),
    Limit("limit", "int", 1, None, "the first N samples; a larger N than the dataset takes every sample",
          optional=True),
    Limit("bootstrap", "int", 0, 10 ** 6, "bootstrap resamples (0: no confidence intervals); a 95 % "
          "interval is stable to the third decimal long before 10^6, and the memory estimate bounds R x N"),
    Limit("overlays", "int", 0, 100, "overlay figure of the first K samples (0: none); two rows of ~450 "
          "pixels per sample, and a PNG is at most 65 536 pixels tall"),
    Limit("threshold", "float", None, None, "raw-scale threshold of the overlays' thresholded row",
          optional=True),
    Limit("max_memory", "size", 1 * MiB, None, "the memory a run may use (default: what the system has "
          "available); a run estimated to need more is refused", optional=True),
    # -- report (vssleval.api.report, rescore) -----------------------------------------------------
    Limit("sweep_samples", "int", 0, None, "threshold sweep over the first N samples (0: all); maps are "
          "streamed shard by shard"),
    Limit("sweep_points", "int", 2, 1000, "thresholds in the sweep; each point re-binarizes every swept "
          "map, and 1000 points are finer than the figure can show"),
    # -- synth (vssleval.data.synthetic.synth) -------------------------------------------------------
    Limit("n", "int", 1, MEMORY, "synthetic records; each is ~340 kB on disk and its annotation is "
          "built in memory", scope="synth"),
    Limit("seed", "int", 0, None, "generator seed; any integer >= 0 gives its own data", scope="synth"),
    # -- train-synthetic (vssleval.training.synthetic.TrainConfig) ----------------------------------
    Limit("data_seed", "int", 0, None, "generator seed of the train split", scope="train-synthetic"),
    Limit("n_vggss", "int", 0, MEMORY, "VGG-SS-layout training records, all held in memory as model "
          "inputs", scope="train-synthetic"),
    Limit("n_is3", "int", 0, MEMORY, "IS3-layout training records, all held in memory as model inputs",
          scope="train-synthetic"),
    Limit("seed", "int", 0, 2 ** 64 - 1, "torch seed; torch.manual_seed takes a 64-bit integer",
          scope="train-synthetic"),
    Limit("steps", "int", 1, None, "optimizer steps; more steps only take more time", scope="train-synthetic"),
    Limit("batch_size", "int", 2, None, "pairs per batch; a contrastive batch needs two, and a batch "
          "larger than the data is cut to it", scope="train-synthetic"),
    Limit("lr", "float", 0, None, "AdamW learning rate", strict=True, scope="train-synthetic"),
    Limit("weight_decay", "float", 0, None, "AdamW weight decay", scope="train-synthetic"),
    Limit("warmup_steps", "int", 0, None, "linear warm-up steps before the cosine decay",
          scope="train-synthetic"),
    Limit("tau", "float", 0, None, "contrastive temperature (the loss divides by it)", strict=True,
          scope="train-synthetic"),
    Limit("threads", "int", 1, _max_workers, "torch CPU threads; more than 4 per core only adds "
          "contention", scope="train-synthetic"),
    # -- fetch-metadata (vssleval.data.fetch.fetch_metadata) -----------------------------------------
    Limit("timeout", "float", 0, 3600, "seconds per download; a server silent for an hour will not "
          "answer", strict=True, scope="fetch-metadata"),
    Limit("max_skip_fraction", "float", 0, 1, "the largest fraction of records --skip-bad may leave out "
          "before the run is refused (docs/datasets.md §8)"),
    # -- options of other features go here, one row each
)


def limit_for(name: str, scope: str | None = None) -> Limit | None:
    """The row for option ``name`` of command ``scope`` (a scoped row wins over a general one)."""
    general = None
    for row in LIMITS:
        if row.name == name:
            if row.scope == scope:
                return row
            if row.scope is None:
                general = row
    return general


def _number_text(x: float) -> str:
    return str(int(x)) if isinstance(x, float) and x.is_integer() and abs(x) < 1e16 else str(x)


def check(name: str, value: Any, scope: str | None = None) -> Any:
    """``value`` if option ``name`` allows it (sizes parsed to bytes), else :class:`VsslevalError`."""
    row = limit_for(name, scope)
    if row is None:
        raise KeyError(f"no limit defined for option {name!r} (scope {scope!r}); add a row to LIMITS")
    if value is None:
        if row.optional:
            return None
        raise VsslevalError(f"{row.flag} needs a value")
    if row.kind == "seeds":
        return check_seeds(value, row)
    if row.kind == "size":
        value = parse_size(value, row.flag)
    elif row.kind == "int":
        if isinstance(value, bool) or not _is_integer(value):
            raise VsslevalError(f"{row.flag} must be an integer, got {value!r}")
        value = int(value)
    else:
        if isinstance(value, bool) or not isinstance(value, (int, float)) and not _is_real(value):
            raise VsslevalError(f"{row.flag} must be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise VsslevalError(f"{row.flag} must be a finite number, got {value} ({row.reason})")
    return _in_bounds(row, value)


def _in_bounds(row: Limit, value: Any) -> Any:
    """``value`` when it lies within ``row``'s bounds, else the limits' message."""
    low, high = row.least, row.upper()
    too_low = low is not None and (value <= low if row.strict else value < low)
    too_high = high is not None and value > high
    if too_low or too_high:
        parts = []
        if low is not None:
            parts.append(f"{'>' if row.strict else '>='} {_number_text(low)}")
        if high is not None:
            parts.append(f"<= {_number_text(high)}")
        raise VsslevalError(f"{row.flag} must be {' and '.join(parts)}, got {_number_text(value)} ({row.reason})")
    return value


_SEEDS_FORM = ("a count K (the first K protocol seeds) or distinct seed values (a list, or a comma-separated "
               "text such as 1234,2345)")


def _seed_sequence(value: Any) -> list[Any] | None:
    """``value`` as a list when it is a list-like of seed values (list, tuple, range, 1-D numpy array)."""
    try:
        import numpy as np

        if isinstance(value, np.ndarray):
            return list(value) if value.ndim == 1 else None
    except ImportError:  # pragma: no cover
        pass
    return list(value) if isinstance(value, (list, tuple, range)) else None


def check_seeds(value: Any, row: Limit | None = None) -> int | list[int]:
    """``--seeds`` / ``seeds=``: a count K (an int or its text; the first K protocol seeds) or explicit
    seed values (a sequence, or a comma-separated text), each an integer >= 0, no value twice: every
    seed is one independent draw, and a repeated one would count twice in the ± over seeds. Returns
    the count or the list of ints; the CLI and the API both call it (through :func:`check`)."""
    row = row or limit_for("seeds")
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
        if not all(re.fullmatch(r"[+-]?\d+", p) for p in parts):
            raise VsslevalError(f"{row.flag} must be {_SEEDS_FORM}, got {value!r}")
        value = int(parts[0]) if len(parts) == 1 else [int(p) for p in parts]
    values = _seed_sequence(value)
    if values is None:
        if isinstance(value, bool) or not _is_integer(value):
            raise VsslevalError(f"{row.flag} must be {_SEEDS_FORM}, got {value!r}")
        return _in_bounds(row, int(value))
    if not values:
        raise VsslevalError(f"{row.flag} must name at least one seed ({_SEEDS_FORM}), got {value!r}")
    checked = [check("seed_values", v) for v in values]
    twice = next((v for i, v in enumerate(checked) if v in checked[:i]), None)
    if twice is not None:
        raise VsslevalError(f"{row.flag} lists seed {twice} more than once ({checked}): each seed is one independent "
                            "draw, and a repeated one would count twice in the ± over seeds; give distinct values")
    return checked


def _is_integer(value: Any) -> bool:
    try:
        import numpy as np

        if isinstance(value, np.integer):
            return True
    except ImportError:  # pragma: no cover
        pass
    return isinstance(value, int)


def _is_real(value: Any) -> bool:
    try:
        import numpy as np

        return isinstance(value, (np.integer, np.floating))
    except ImportError:  # pragma: no cover
        return False


def validate(scope: str | None = None, **values: Any) -> dict[str, Any]:
    """:func:`check` every keyword; returns the checked values (sizes in bytes)."""
    return {name: check(name, value, scope) for name, value in values.items()}


def check_namespace(args: argparse.Namespace, command: str | None) -> None:
    """Check every parsed option of ``command`` that has a row in :data:`LIMITS` (the CLI calls this
    for every command before running it, so an option the chosen mode ignores is checked too)."""
    for name, value in vars(args).items():
        if not name.startswith("_") and limit_for(name, command) is not None:
            check(name, value, command)


# -- memory ----------------------------------------------------------------------------------------
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)


def parse_size(value: Any, flag: str = "--max-memory") -> int:
    """Bytes from an int or a text like ``"512M"``, ``"8G"``, ``"1.5GiB"`` (powers of 1024)."""
    if _is_integer(value) and not isinstance(value, bool):
        return int(value)
    m = _SIZE.match(str(value))
    if not m:
        raise VsslevalError(f"{flag} must be a size in bytes such as 8G, 512M or 1073741824, got {value!r}")
    scale = {"": 1, "k": KiB, "m": MiB, "g": GiB, "t": 1 << 40}[m.group(2).lower()]
    return int(float(m.group(1)) * scale)


def format_bytes(n: float) -> str:
    for unit, size in (("TiB", 1 << 40), ("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def _meminfo_available(path: str = "/proc/meminfo") -> int | None:
    try:
        with open(path, encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * KiB
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_available() -> int | None:
    """Room left under a cgroup v2 memory limit (containers), if there is one."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit == "max":
            return None
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        return max(0, int(limit) - used)
    except (OSError, ValueError):
        return None


def available_memory() -> tuple[int | None, str]:
    """Bytes of memory a run can use now, and where the number comes from (``None``: unknown)."""
    found = [(v, src) for v, src in ((_meminfo_available(), "MemAvailable in /proc/meminfo"),
                                     (_cgroup_available(), "the cgroup memory limit")) if v is not None]
    if found:
        return min(found)
    try:
        pages = os.sysconf("SC_AVPHYS_PAGES") if "SC_AVPHYS_PAGES" in os.sysconf_names else os.sysconf("SC_PHYS_PAGES")
        return int(pages) * int(os.sysconf("SC_PAGE_SIZE")), "os.sysconf"
    except (ValueError, OSError, AttributeError):
        return None, "unknown"


def require_memory(parts: Mapping[str, int], max_memory: int | str | None = None, what: str = "this run",
                   fix: str = "") -> None:
    """Refuse when the estimated bytes (``parts``: description -> bytes) exceed the budget:
    ``max_memory`` if given, else :func:`available_memory` (no check when that is unknown)."""
    need = int(sum(parts.values()))
    if max_memory is not None:
        budget, source = parse_size(max_memory), "--max-memory"
    else:
        budget, source = available_memory()
    if budget is None or need <= budget:
        return
    shown = sorted(parts.items(), key=lambda kv: -kv[1])
    detail = "; ".join(f"{label}: {format_bytes(b)}" for label, b in shown if b)
    raise VsslevalError(f"{what} needs at least about {format_bytes(need)} of memory ({detail}), more than the "
                        f"{format_bytes(budget)} available ({source}). {fix}".rstrip()
                        + " If the estimate is wrong for your machine, pass --max-memory SIZE (e.g. 64G).")


#: Bytes held per (seed, sample) for the whole run: scores, ids, offscreen draw, per-sample CSV
#: row (measured at ~2.5 kB, rounded up).
PER_SEED_SAMPLE = 4 * KiB
#: Bytes per (sample, seed) inside one batch: a noise or offscreen audio input and two maps.
PER_BATCH_SEED = 1 * MiB
#: Bytes per noise-bank clip and seed: its audio features.
PER_BANK_CLIP = 64 * KiB


def run_bytes(n_samples: int, seeds: int, batch_size: int, noise_bank: int = 0) -> dict[str, int]:
    """Estimated memory of an ``evaluate`` / ``infer`` run, by cause."""
    b = min(batch_size, max(1, n_samples))
    return {f"{seeds} seeds x {n_samples} samples of scores": seeds * n_samples * PER_SEED_SAMPLE,
            f"a batch of {b} samples x {seeds} seeds of negative inputs and maps": b * seeds * PER_BATCH_SEED,
            f"a noise bank of {noise_bank} clips x {seeds} seeds": noise_bank * seeds * PER_BANK_CLIP}


def bootstrap_bytes(n_samples: int, seeds: int, resamples: int) -> dict[str, int]:
    """Estimated memory of the bootstrap CIs: the ``[R, N]`` resample weights (integer and float
    copies) and three ``[S, R, 22]`` float64 histograms (metrics/protocols/vssleval.py)."""
    return {f"--bootstrap {resamples} resamples x {n_samples} samples":
            resamples * (16 * n_samples + 3 * 22 * 8 * seeds)}


def check_run_memory(n_samples: int, seeds: int, batch_size: int, noise_bank: int = 0, bootstrap: int = 0,
                     max_memory: int | str | None = None, lower_bound: bool = False) -> None:
    """Refuse an ``evaluate`` / ``infer`` / ``rescore`` whose estimate does not fit
    (``lower_bound``: ``n_samples`` stands for a dataset not read yet)."""
    parts = {**run_bytes(n_samples, seeds, batch_size, noise_bank), **bootstrap_bytes(n_samples, seeds, bootstrap)}
    what = f"a run of {n_samples} samples x {seeds} seeds"
    if lower_bound:
        what = f"a run of {seeds} seeds (counting a single sample: the dataset is not read yet)"
    require_memory(parts, max_memory, what=what,
                   fix="Lower --seeds, --bootstrap, --batch-size or --noise-bank, or evaluate fewer samples (--limit).")


#: Memory per synthetic record while its annotation files are built (record dicts, JSON text, ids).
PER_SYNTH_RECORD = 2 * KiB
#: Disk per synthetic record: a 10 s 16 kHz 16-bit wav (320 kB) and a 224 x 224 JPEG (~20 kB).
SYNTH_RECORD_DISK = 340_000


def synth_bytes(n: int) -> dict[str, int]:
    return {f"annotations of {n} records": n * PER_SYNTH_RECORD}


def check_synth_resources(n: int, out: str | os.PathLike, max_memory: int | str | None = None) -> None:
    """Refuse ``synth --n`` values that cannot fit in memory or on the disk holding ``out``."""
    require_memory(synth_bytes(n), max_memory, what=f"synth --n {n}", fix="Lower --n.")
    parent = Path(out).absolute()
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    try:
        free = shutil.disk_usage(parent).free
    except OSError:
        return
    need = n * SYNTH_RECORD_DISK
    if need > free:
        raise VsslevalError(f"synth --n {n} writes about {format_bytes(need)} (~340 kB per record) but {parent} "
                            f"has {format_bytes(free)} free; lower --n or choose another --out")


#: Memory per training picture (a [3, 224, 224] float32 input) and per record (its audio input).
PER_TRAIN_PICTURE = 3 * 224 * 224 * 4
PER_TRAIN_RECORD = 512 * KiB


def train_bytes(n_vggss: int, n_is3: int) -> dict[str, int]:
    pictures = n_vggss + n_is3 // 2
    return {f"{pictures} training pictures": pictures * PER_TRAIN_PICTURE,
            f"{n_vggss + n_is3} training audio inputs": (n_vggss + n_is3) * PER_TRAIN_RECORD}
