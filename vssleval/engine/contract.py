"""The model-output contract, checked on every call the engine makes (every batch, not only the first).

The contract (stated in :mod:`vssleval.models` and docs/api.md §2):

* ``encode_image(images)`` and ``encode_audio(audio)`` return a ``torch.Tensor`` whose first axis
  is the batch size B of their input;
* ``localize(visual, audio)`` returns a real floating-point ``torch.Tensor`` ``[B, h, w]`` (float16,
  bfloat16, float32 or float64; stored as float32), B the batch it was asked for, ``h, w >= 1``, and
  one ``(h, w)`` for every map of a run. A ``1 x 1`` map is accepted: it is a legal, if uninformative,
  map (upsampled, it is constant over the frame, and the metrics score it as such). An empty map
  (``h`` or ``w`` = 0) is not: it has no pixel to score, and storing it would mark a store complete
  that no protocol can read.
* the optional hook ``confidence(visual, audio)`` (a model's own score of each pair, e.g. ACL-SSL's
  for the extended sets) returns a real floating-point ``torch.Tensor`` ``[B]``; the engine calls
  it for the positive pairs only, when the model has it and its YAML names an evaluator that reads
  it for the run's test-set layout (docs/api.md §2).
* every output is a dense (strided) tensor holding values: a sparse tensor or one on the ``meta``
  device cannot be stored or compared. An output that still tracks gradients is detached.

A plug-in that breaks it is stopped before the batch's shard is written, with a
:class:`~vssleval.errors.VsslevalError` naming the model, the method, what was expected and what
came back; a store never holds maps that do not line up with its sample ids.
"""

from __future__ import annotations

from typing import Any

import torch

from vssleval.errors import VsslevalError, describe_raise

def describe(value: Any) -> str:
    """What a model returned, in words: ``a torch.float32 tensor of shape [8, 7, 7]``, ``a list of 8 items``
    (a tensor that holds no values says so: ``a torch.float32 tensor on the meta device ...``)."""
    if isinstance(value, torch.Tensor):
        where = ""
        if value.layout != torch.strided:
            where = f" with layout {value.layout}"
        elif value.device.type == "meta":
            where = " on the meta device"
        return f"a {value.dtype} tensor{where} of shape {list(value.shape)}"
    kind = type(value)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    if hasattr(value, "shape"):
        return f"a {name} of shape {tuple(value.shape)}"
    if isinstance(value, (list, tuple, dict)):
        return f"a {name} of {len(value)} items"
    return f"a {name}"


def check_output(value: Any, *, model: str, method: str, batch: int, is_map: bool | None = None,
                 map_size: tuple[int, int] | None = None) -> torch.Tensor:
    """Return ``value`` when it honours the contract of ``method`` for a batch of ``batch``; else raise.

    Args:
        value: what ``model.<method>(...)`` returned.
        model: the model's name (for the message).
        method: ``encode_image``, ``encode_audio`` or ``localize`` (for the message).
        batch: the B the output must have on its first axis.
        is_map: hold the output to the map contract (float ``[B, h, w]``); default: ``method == "localize"``.
        map_size: for a map: the ``(h, w)`` of the run's earlier maps (None for the first).
    """
    is_map = method == "localize" if is_map is None else is_map
    if is_map:
        expected = f"a floating-point torch.Tensor [B, h, w] with B = {batch} and h, w >= 1"
        if map_size is not None:
            expected = (f"a floating-point torch.Tensor [{batch}, {map_size[0]}, {map_size[1]}] (B = {batch}; "
                        f"every map of a run has the size of the first, {map_size[0]} x {map_size[1]})")
    else:
        expected = f"a torch.Tensor whose first axis is the batch size B = {batch}"
    if isinstance(value, torch.Tensor):
        if _holds_values(value) and _fits(value, batch, is_map, map_size):
            return value.detach() if value.requires_grad else value
        hint = _tensor_hint(value)
    elif type(value).__module__.split(".")[0] == "numpy":
        hint = "; convert it with torch.from_numpy(...)"
    elif isinstance(value, (list, tuple)):
        hint = "; stack it into one tensor with torch.stack(...)"
    else:
        hint = ""
    raise VsslevalError(f"model {model!r}: {method} returned {describe(value)}; expected {expected}{hint} "
                        "(the model contract: docs/api.md §2). The run stopped before storing this batch.")


def check_scores(value: Any, *, model: str, method: str, batch: int) -> torch.Tensor:
    """Return ``value`` when it is a real floating-point tensor ``[batch]`` holding values; else raise
    (the same one-line error as :func:`check_output`)."""
    if isinstance(value, torch.Tensor) and _holds_values(value) and value.is_floating_point() \
            and tuple(value.shape) == (batch,):
        return value.detach() if value.requires_grad else value
    raise VsslevalError(f"model {model!r}: {method} returned {describe(value)}; expected a floating-point "
                        f"torch.Tensor [{batch}] (one score per pair; the model contract: docs/api.md §2). The run "
                        "stopped before storing this batch.")


def _holds_values(value: torch.Tensor) -> bool:
    """A dense tensor with real storage (not sparse, not on the ``meta`` device)."""
    return value.layout == torch.strided and value.device.type != "meta"


def _fits(value: torch.Tensor, batch: int, is_map: bool, map_size: tuple[int, int] | None) -> bool:
    """The shape / dtype part of the contract (see the module docstring)."""
    if value.dim() < 1 or value.shape[0] != batch:
        return False
    # is_floating_point() is False for complex, integer and bool tensors
    return not is_map or fits_map(tuple(value.shape), value.is_floating_point(), batch, map_size)


def fits_map(shape: tuple[int, ...], floating: bool, batch: int, map_size: tuple[int, int] | None = None) -> bool:
    """The map part of the contract on a shape: real floating-point values ``[batch, h, w]`` with
    ``h, w >= 1`` and, when ``map_size`` is given, ``(h, w) == map_size``. Also the rule for the maps
    of a file scored by ``vssleval score`` (:mod:`vssleval.engine.maps_file`; docs/maps-format.md)."""
    if not floating or len(shape) != 3 or shape[0] != batch or min(shape[1:]) < 1:
        return False
    return map_size is None or tuple(shape[1:]) == tuple(map_size)


def _tensor_hint(value: torch.Tensor) -> str:
    """The fix for the commonest tensor mistakes, or nothing."""
    if not _holds_values(value):
        return "; return a dense tensor with values (e.g. .to_dense(), or compute it on a real device)"
    if value.is_complex():
        return "; return a real map (e.g. its magnitude, .abs())"
    return ""


class CheckedModel:
    """A model whose three calls go through :func:`check_output`; remembers the run's map size.

    The engine calls the model only through this wrapper (one per model: the evaluated model and,
    under the compat protocol, the object prior).
    """

    def __init__(self, model: torch.nn.Module, name: str | None = None):
        self.model = model
        self.name = name or str(getattr(model, "name", type(model).__name__))
        self.map_size: tuple[int, int] | None = None
        # vssleval's own models let their exceptions through (a bug here wants its traceback); a
        # plug-in's or an in-memory model's become one line naming the method and its own line
        self.user_code = not type(model).__module__.startswith("vssleval.")

    def _call(self, method: str, *args: torch.Tensor) -> Any:
        try:
            return getattr(self.model, method)(*args)
        except VsslevalError:
            raise
        except Exception as exc:  # noqa: BLE001 - the user's code failed: say where, once
            if not self.user_code:
                raise
            raise VsslevalError(f"model {self.name!r}: {method} raised {describe_raise(exc)}; the run stopped "
                                "before storing this batch. Fix the model's code (or its inputs: the preset)") from exc

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return check_output(self._call("encode_image", images), model=self.name, method="encode_image",
                            batch=len(images))

    def encode_audio(self, audio: torch.Tensor) -> torch.Tensor:
        return check_output(self._call("encode_audio", audio), model=self.name, method="encode_audio",
                            batch=len(audio))

    def localize(self, visual: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """Maps for the larger of the two batches (a batch of 1 on either side is broadcast)."""
        batch = max(len(visual), len(audio))
        maps = check_output(self._call("localize", visual, audio), model=self.name, method="localize",
                            batch=batch, map_size=self.map_size)
        self.map_size = (int(maps.shape[1]), int(maps.shape[2]))
        return maps

    @property
    def has_confidence(self) -> bool:
        """Whether the model has the optional ``confidence(visual, audio)`` hook."""
        return callable(getattr(self.model, "confidence", None))

    def confidence(self, visual: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """The model's score of each (visual, audio) pair, ``[B]`` (batch-1 broadcast as ``localize``)."""
        return check_scores(self._call("confidence", visual, audio), model=self.name, method="confidence",
                            batch=max(len(visual), len(audio)))

    def object_map(self, images: torch.Tensor) -> torch.Tensor:
        """The object prior's map: its ``encode_image``, held to the map contract ``[B, h, w]``."""
        maps = check_output(self._call("encode_image", images), model=self.name, method="encode_image",
                            batch=len(images), is_map=True, map_size=self.map_size)
        self.map_size = (int(maps.shape[1]), int(maps.shape[2]))
        return maps
