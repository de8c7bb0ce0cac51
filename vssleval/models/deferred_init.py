"""Build a network without its random initialisation when a strict checkpoint load will overwrite it.

A module's constructor draws every weight through ``torch.nn.init`` (``nn.Linear`` and ``nn.Conv2d``
call ``kaiming_uniform_``, ``nn.LayerNorm`` ``ones_``/``zeros_``, ...), and ``build_model`` then
overwrites every one of them with the checkpoint's values (strict loading, docs/models.md §2.7).
For ACL-SSL's ViT-B/16 and BEATs (about 240 M parameters) those draws are about half of the build
time; for a ResNet-18 a tenth of a second.

:func:`skipped_init` makes the ``torch.nn.init`` functions no-ops while the network is built and
records the memory of the tensors they were given; :func:`all_loaded` then says whether the model
holds none of that memory outside its ``state_dict`` (which the strict load will write in full). A
skipped tensor the constructor dropped (the ResNet towers delete torchvision's ``fc`` and stem) does
not matter; one the model keeps as a non-persistent buffer or a tensor attribute would hold
uninitialised memory, so the caller then builds the network again the usual way. (A tensor kept
inside a list or dict attribute is not looked for: no network here keeps an initialised one so.)

Side effect, by design: the build no longer advances torch's global random generator. No evaluation
draw depends on it: noise, offscreen choices, the ``random`` baseline and the bootstrap each seed a
generator of their own (``vssleval/data/negatives.py``, ``vssleval/metrics/resampling.py``).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

import torch
from torch import nn

#: The initialisers that fill a tensor in place and return it.
INITIALISERS = ("uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_", "dirac_",
                "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_",
                "sparse_")

# one build at a time patches the module-level functions; the patch is process-wide, so another
# thread calling ``torch.nn.init`` during a build would be skipped too (vssleval builds its models
# in one thread, before any worker thread starts). Re-entrant: a constructor that itself builds a
# model (a plug-in wrapping another one) nests a second patch inside the first instead of waiting
# for itself
_LOCK = threading.RLock()


@contextlib.contextmanager
def skipped_init() -> Iterator[set[int]]:
    """While active, ``torch.nn.init``'s initialisers leave their tensor as it is; yields the set of
    the memory addresses (storage pointers) of the tensors they were given."""
    skipped: set[int] = set()

    def skip(tensor, *args, **kwargs):
        if tensor.numel():
            skipped.add(tensor.untyped_storage().data_ptr())
        return tensor

    with _LOCK:
        saved = {name: getattr(nn.init, name) for name in INITIALISERS if hasattr(nn.init, name)}
        for name in saved:
            setattr(nn.init, name, skip)
        try:
            yield skipped
        finally:
            for name, function in saved.items():
                setattr(nn.init, name, function)


def all_loaded(model: nn.Module, skipped: set[int]) -> bool:
    """Whether every tensor ``model`` keeps outside its ``state_dict`` (non-persistent buffers, tensor
    attributes of its modules) has memory of its own, not memory an initialiser skipped: then a
    strict load leaves nothing uninitialised. It compares memory, not values, so it is asked before
    the load (which copies into the ``state_dict``'s tensors in place)."""
    in_state = {t.untyped_storage().data_ptr() for t in model.state_dict(keep_vars=True).values()}
    kept = [b for _, b in model.named_buffers()]
    kept += [v for m in model.modules() for v in vars(m).values() if isinstance(v, torch.Tensor)]
    return not any(t.numel() and t.untyped_storage().data_ptr() in skipped - in_state for t in kept)
