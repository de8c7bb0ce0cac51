"""The maps file: one ``.npz`` holding a run's maps, written by ``vssleval export`` and scored by
``vssleval score`` (docs/maps-format.md, the contract; this module is its one statement in code).

One job: the names, the version and the header of the format. What ``export`` adds to a store's
arrays (:func:`header_members`), and the constants the reader (:mod:`vssleval.engine.maps_file`)
checks a file against. Any change to what a member means takes a new :data:`FORMAT_VERSION`; a
reader refuses a version it does not know rather than guess.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

import numpy as np

import vssleval

#: The ``format`` member of every maps file.
FORMAT_NAME = "vssleval-maps"
#: The ``format_version`` member: 1 is the first versioned layout (docs/maps-format.md). A file
#: written by ``export`` before the format had a version (no ``format``, a ``config``) reads as 1.
FORMAT_VERSION = 1
#: The one map scale a file may declare: every map in the model's own units, the same scale for
#: every sample and audio (the metrics comparing maps across audio read it; docs/maps-format.md §3).
SCALES = ("raw",)
#: Map members: ``[N, h, w]`` (positive, silence) or ``[S, N, h, w]`` (noise, offscreen).
MAPS = ("positive", "silence", "noise", "offscreen")
PER_SEED_MAPS = ("noise", "offscreen")
#: The preset a file without a ``config`` is recorded under unless it names one (docs/maps-format.md §4).
EXTERNAL_PRESET = "external"
#: The upsampling op of a file without a ``config`` unless it names one (``vssleval.models.maps.UPSAMPLE_OPS``).
DEFAULT_UPSAMPLE = "bilinear"
#: Members a reader knows (``<map>_extremes`` too); any other member is refused, so a typo
#: (``postive``) is not silently scored as a run without that map.
KNOWN = frozenset({"format", "format_version", "producer", "dataset", "scale", "ids", *MAPS, "seeds",
                   "offscreen_ids", "upsample", "preset", "config", "ogl", "confidence"})
EXTREMES_SUFFIX = "_extremes"


def producer_of(config: Mapping[str, Any]) -> dict[str, Any]:
    """The ``producer`` record ``export`` writes for a vssleval run ``config``: the model, its weights
    and the vssleval that wrote the file (the run configuration itself is the ``config`` member)."""
    record = {"name": config.get("model_name") or config.get("model"), "tool": f"vssleval {vssleval.__version__}",
              "preset": config.get("preset"), "checkpoint_sha256": config.get("checkpoint_sha256")}
    return {k: v for k, v in record.items() if v is not None}


def header_members(config: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The members naming the format and the maps' origin, for an export of the run ``config``."""
    return {"format": np.asarray(FORMAT_NAME), "format_version": np.asarray(FORMAT_VERSION, dtype=np.int64),
            "producer": np.asarray(json.dumps(producer_of(config))), "dataset": np.asarray(str(config.get("dataset"))),
            "scale": np.asarray(SCALES[0])}
