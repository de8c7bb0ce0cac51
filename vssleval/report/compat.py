"""Writers for metric outputs: the flat ``metrics.json``/``metrics.csv``/per-sample CSV, and the
vssl_eval compat files (``metrics/<model>_<testset>.txt`` + 8 ``metrics/max_min/*.npy``).

Formatting lives in :mod:`vssleval.metrics`; this module only writes files, atomically.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from vssleval.io_utils import write_bytes_atomic, write_json_atomic, write_text_atomic
from vssleval.metrics import Accumulator, result_to_csv, rows_to_csv
from vssleval.metrics.protocols import juanola2025


def write_metrics(result: Mapping[str, Any], rows: Sequence[Mapping[str, Any]] | None, out_dir) -> list[Path]:
    """Write ``metrics.json``, ``metrics.csv`` and (if ``rows``) ``per_sample.csv`` into ``out_dir``."""
    out = Path(out_dir)
    paths = [out / "metrics.json", out / "metrics.csv"]
    write_json_atomic(paths[0], _jsonable(result))
    write_text_atomic(paths[1], result_to_csv(result))
    if rows is not None:
        paths.append(out / "per_sample.csv")
        write_text_atomic(paths[2], rows_to_csv(rows))
    return paths


def write_compat_outputs(acc: Accumulator, out_dir, model_name: str, testset: str) -> list[Path]:
    """vssl_eval's outputs under ``out_dir``: ``metrics/<model>_<testset>.txt`` (164 lines, 2
    decimals) and ``metrics/max_min/<model>_<testset>_{max,min}_{pos,silence,noise,offscreen}.npy``
    (float64, seed-major). ``acc`` must use protocol ``juanola2025``."""
    if acc.protocol != "juanola2025":
        raise ValueError(f"compat outputs need protocol 'juanola2025', got {acc.protocol!r}")
    rec, groups = acc.compat_records()
    metrics = juanola2025.aggregate(rec, groups)
    base = Path(out_dir) / "metrics"
    paths = [base / f"{model_name}_{testset}.txt"]
    write_text_atomic(paths[0], juanola2025.format_text(metrics))
    for name, arr in juanola2025.max_min_arrays(rec).items():
        stat, variant = name.split("_", 1)
        p = base / "max_min" / f"{model_name}_{testset}_{stat}_{variant}.npy"
        buf = io.BytesIO()
        np.save(buf, arr)
        write_bytes_atomic(p, buf.getvalue())
        paths.append(p)
    return paths


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if np.isfinite(f) else None  # JSON has no NaN; null = undefined (documented)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj
