"""Packages whose public names are imported on first use (PEP 562 module ``__getattr__``).

``import vssleval``, ``import vssleval.api`` or ``import vssleval.models`` then costs only the
package's own module, and the CLI can build its parser, list the models and the datasets, and print
``--help`` or ``--version`` without importing torch or the engine (docs/performance.md, "A CLI that
answers at once"). The name is imported, and kept in the package's namespace, the first time it
is looked up; ``from package import name`` works as for an eager package.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def exports(namespace: dict[str, Any], names: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of the package whose ``globals()`` is ``namespace``:
    ``names`` maps each public name to the module that defines it. Any other name is an
    AttributeError, which also lets ``from package import submodule`` import the submodule."""

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(names[name]), name)
        namespace[name] = value  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names))

    return __getattr__, __dir__
