"""One intra-op thread for the preprocessing's small tensor operations.

A clip's spectrogram or a picture's normalisation is a chain of operations on tensors of a few
hundred kilobytes. Split over torch's intra-op threads (by default one per core), each operation
waits for every thread of the pool; where another process holds a core, that wait (OpenMP
spinning, then a wake-up) is far longer than the work: on this project's 2-core machine, shared,
one noise clip's front-end took 10-80 ms on two threads and under 1 ms on one
(docs/performance.md §10). The pipelines therefore run their tensor work on one thread and restore
the caller's count afterwards. The values do not depend on it (each operation is element-wise or
reduces within one row; tests/frontends compare against the references either way).
"""

from __future__ import annotations

import functools
from typing import Callable, TypeVar

import torch

_F = TypeVar("_F", bound=Callable)


def one_thread(fn: _F) -> _F:
    """Run ``fn`` with ``torch.set_num_threads(1)``; the previous count is restored afterwards
    (the setting is process-wide: nothing else in the process should run torch work meanwhile)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        before = torch.get_num_threads()
        if before == 1:
            return fn(*args, **kwargs)
        torch.set_num_threads(1)
        try:
            return fn(*args, **kwargs)
        finally:
            torch.set_num_threads(before)

    return wrapper  # type: ignore[return-value]
