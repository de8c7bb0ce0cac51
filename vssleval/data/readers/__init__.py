"""One reader per on-disk layout; every reader yields :class:`vssleval.data.types.Sample` records.

``read_layout(layout, ctx, options)`` dispatches on the layout name: ``vggss``, ``is3``, ``flickr``,
``extended`` (with ``options['base_layout']`` = ``vggss`` or ``flickr``).
"""

from __future__ import annotations

from typing import Any, Mapping

from vssleval.data.readers import flickr, is3, vggss
from vssleval.data.readers.common import LayoutResult, ReaderContext
from vssleval.data.readers.extended import read_extended
from vssleval.errors import VsslevalError

BASE_LAYOUTS = {
    "vggss": (vggss.read_vggss, vggss.DEFAULTS),
    "is3": (is3.read_is3, is3.DEFAULTS),
    "flickr": (flickr.read_flickr, flickr.DEFAULTS),
}
LAYOUTS = tuple(BASE_LAYOUTS) + ("extended",)


def read_layout(layout: str, ctx: ReaderContext, options: Mapping[str, Any]) -> LayoutResult:
    """Read the dataset at ``ctx.root`` with the reader of ``layout``."""
    if layout == "extended":
        base = options.get("base_layout")
        if base not in ("vggss", "flickr"):
            raise VsslevalError(f"extended layout needs base_layout: vggss or flickr, got {base!r}")
        reader, defaults = BASE_LAYOUTS[base]
        return read_extended(ctx, options, reader, defaults)
    if layout not in BASE_LAYOUTS:
        raise VsslevalError(f"unknown dataset layout {layout!r}; known layouts: {', '.join(LAYOUTS)}")
    reader, _ = BASE_LAYOUTS[layout]
    return reader(ctx, options)


__all__ = ["LAYOUTS", "LayoutResult", "ReaderContext", "read_layout"]
