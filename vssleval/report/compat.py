"""Writers for metric outputs: the flat ``metrics.json``/``metrics.csv``/per-sample CSV, and the
vssl_eval compat files (``metrics/<model>_<testset>.txt`` + 8 ``metrics/max_min/*.npy``).

Formatting lives in :mod:`vssleval.metrics` (a protocol's ``extra_files``); this module only writes
files, atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from vssleval.io_utils import write_bytes_atomic, write_json_atomic, write_text_atomic
from vssleval.metrics import Accumulator, result_to_csv, rows_to_csv
from vssleval.metrics.protocols import Protocol


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


def write_protocol_files(acc: Accumulator, out_dir, model_name: str, testset: str) -> list[Path]:
    """The protocol's files besides ``metrics.json`` (:meth:`Protocol.extra_files`) under ``out_dir``;
    none for ``vssleval``."""
    paths = []
    for rel, content in acc.extra_files(model_name, testset).items():
        path = Path(out_dir) / rel
        if isinstance(content, str):
            write_text_atomic(path, content)
        else:
            write_bytes_atomic(path, content)
        paths.append(path)
    return paths


def write_compat_outputs(acc: Accumulator, out_dir, model_name: str, testset: str) -> list[Path]:
    """vssl_eval's outputs under ``out_dir``: ``metrics/<model>_<testset>.txt`` (164 lines, 2
    decimals) and ``metrics/max_min/<model>_<testset>_{max,min}_{pos,silence,noise,offscreen}.npy``
    (float64, seed-major): :func:`write_protocol_files` of a ``juanola2025`` accumulator, refusing
    one whose protocol writes no such files."""
    if type(acc.rules).extra_files is Protocol.extra_files:
        raise ValueError(f"protocol {acc.protocol!r} writes no compat files (use protocol 'juanola2025')")
    return write_protocol_files(acc, out_dir, model_name, testset)


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
