"""Tiny numpy/torch shim so each metric kernel is written once for both array kinds.

Why: on CPU, numpy's SIMD sort/partition/count kernels are 5-20x faster than torch's CPU kernels
for the per-map reductions used here (measured on the project's reference CPU), while on CUDA
torch is the only option. Kernels therefore take either kind and keep it: numpy in -> numpy out,
torch in -> torch out (same device). Nothing here changes numerical results: every operation is
an exact comparison/count or a selection of an existing value.
"""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

import numpy as np

# torch is imported where a torch tensor is handled, not here: a tensor exists only once torch is
# imported, and NumPy-only use (``from vssleval.metrics import ciou``) then never pays the 2-5
# CPU-seconds of ``import torch`` (docs/api.md §7)
Array = Any  # numpy.ndarray or torch.Tensor
_T = TypeVar("_T")


def is_torch(x: Array) -> bool:
    torch = sys.modules.get("torch")  # no torch imported: no tensor can exist
    return torch is not None and isinstance(x, torch.Tensor)


def to_numpy_if_cpu(x: Array) -> Array:
    """CPU torch tensors become (zero-copy) numpy arrays; CUDA tensors and numpy pass through."""
    if is_torch(x) and x.device.type == "cpu":
        return x.detach().numpy()
    return x


def as_float32(x: Array) -> Array:
    if is_torch(x):
        import torch

        return x.detach().to(torch.float32)
    return np.asarray(x, dtype=np.float32)


def as_float64(x: Array) -> Array:
    if is_torch(x):
        import torch

        return x.to(torch.float64)
    return np.asarray(x, dtype=np.float64)


def to_numpy(x: Array) -> np.ndarray:
    if is_torch(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def like(x: Array, values: Any, dtype: Any = None) -> Array:
    """``values`` as an array of the same kind (and device) as ``x``."""
    if is_torch(x):
        import torch

        return torch.as_tensor(np.asarray(values), device=x.device, dtype=dtype)
    return np.asarray(values, dtype=dtype)


_WORKSPACE = threading.local()


def map_chunks(fn: Callable[[int], _T], n: int, chunk: int, threads: int | None = None) -> list[_T]:
    """``[fn(s) for s in range(0, n, chunk)]``, run on up to ``threads`` worker threads.

    ``threads`` defaults to ``torch.get_num_threads()`` (so ``OMP_NUM_THREADS`` and
    ``torch.set_num_threads`` rule). Worth it because numpy and torch release the GIL in the
    per-chunk kernels; ``fn`` must only write its own rows and use per-thread buffers
    (:func:`workspace`). Results come back in chunk order, whatever the thread count.
    """
    starts = range(0, n, chunk)
    if not threads:
        import torch

        threads = torch.get_num_threads()
    workers = max(1, min(int(threads), len(starts)))
    if workers == 1:
        return [fn(s) for s in starts]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, starts))


def workspace(name: str, shape: tuple, dtype: Any) -> np.ndarray:
    """A per-thread reusable ``np.empty`` buffer (contents undefined), for hot loops.

    Writing into memory that is already mapped avoids the page faults of a fresh multi-megabyte
    array on every batch. Callers must not let the buffer (or views of it) escape.
    """
    cache = _WORKSPACE.__dict__.setdefault("bufs", {})
    buf = cache.get(name)
    if buf is None or buf.shape != tuple(shape) or buf.dtype != np.dtype(dtype):
        buf = cache[name] = np.empty(shape, dtype)
    return buf


def flat(x: Array) -> Array:
    """[B, H, W] -> [B, H*W] (a view when possible)."""
    return x.reshape(x.shape[0], -1)


_HAS_BITCOUNT = hasattr(np, "bitwise_count")


def count(mask: Array) -> Array:
    """Number of True per row of a [B, P] boolean array, as int64 [B].

    numpy fast path: a contiguous bool row is viewed as 64-bit words whose bytes are 0 or 1, so
    the popcount of each word is the number of True bytes in it (5x faster than count_nonzero).
    """
    if is_torch(mask):
        import torch

        return mask.sum(dim=-1, dtype=torch.int64)
    if _HAS_BITCOUNT and mask.dtype == np.bool_ and mask.flags.c_contiguous and mask.shape[-1] % 8 == 0:
        return np.bitwise_count(mask.view(np.uint64)).sum(-1, dtype=np.int64)
    return np.count_nonzero(mask, axis=-1).astype(np.int64)


def count_above(rows: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """int64 ``[T, B]``: how many values of each row of ``rows`` ``[B, P]`` (no NaN) exceed each of
    ``thresholds`` ``[T]`` (in the rows' dtype where the caller wants NumPy's comparison of them).

    ``P`` less ``searchsorted`` of the threshold in the sorted row (side right): the same integers
    as comparing every value with every threshold (a NaN threshold counts none), one sort per row
    instead of ``T x P`` comparisons."""
    ordered = np.sort(rows, axis=1)
    below = np.stack([np.searchsorted(r, thresholds, side="right") for r in ordered], axis=1)
    return (rows.shape[1] - below).astype(np.int64)


def kth_smallest(x: Array, k: int) -> Array:
    """Value at ascending sorted index ``k`` (0-based) of each row of ``x`` [B, P] -> [B].

    Same value as ``sort(row)[k]`` (NaN sorts last in both libraries), found by selection in
    O(P) per row instead of a full sort.
    """
    if is_torch(x):
        import torch

        return torch.kthvalue(x, k + 1, dim=-1).values
    return np.partition(x, k, axis=-1)[:, k]


def sorted_take(x: Array, idx: Array) -> Array:
    """Value at ascending sorted index ``idx[b]`` of each row ``x[b]`` ([B, P], [B] -> [B])."""
    if is_torch(x):
        import torch

        s = torch.sort(x, dim=-1).values
        return s.gather(1, idx.reshape(-1, 1).to(torch.int64))[:, 0]
    # one selection per row (same value as the sorted array's entry, NaN last), not a full sort
    idx = np.asarray(idx, dtype=np.int64).reshape(-1)
    out = np.empty(x.shape[0], dtype=x.dtype)
    for i in range(x.shape[0]):
        out[i] = np.partition(x[i], idx[i])[idx[i]]
    return out


def isfinite_rows(x: Array) -> Array:
    """[B, ...] -> bool [B]: True where every value of the row is finite."""
    if is_torch(x):
        import torch

        return torch.isfinite(x).reshape(x.shape[0], -1).all(dim=1)
    return np.isfinite(x).reshape(x.shape[0], -1).all(axis=1)


def rows_max(x: Array) -> Array:
    if is_torch(x):
        return x.reshape(x.shape[0], -1).amax(dim=1)
    return x.reshape(x.shape[0], -1).max(axis=1)


def rows_min(x: Array) -> Array:
    if is_torch(x):
        return x.reshape(x.shape[0], -1).amin(dim=1)
    return x.reshape(x.shape[0], -1).min(axis=1)


def check_maps(name: str, x: Array, ndim: int = 3) -> None:
    """Raise ValueError unless ``x`` is a ``ndim``-d array (``[B, h, w]`` for maps)."""
    shape = tuple(getattr(x, "shape", ()))
    if len(shape) != ndim:
        raise ValueError(f"{name}: expected a {ndim}-d array [B,h,w], got shape {shape}")


def check_same_batch(names_shapes: dict[str, tuple]) -> None:
    """Raise ValueError naming every shape when the leading (batch) sizes disagree."""
    sizes = {n: s[0] for n, s in names_shapes.items() if s is not None}
    if len(set(sizes.values())) > 1:
        desc = ", ".join(f"{n} {tuple(s)}" for n, s in names_shapes.items() if s is not None)
        raise ValueError(f"batch sizes differ: {desc}")
