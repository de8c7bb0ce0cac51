"""Modules that are also API functions: ``vssleval.evaluate``, ``vssleval.infer``, ``vssleval.report``.

Importing a submodule binds its name on the package, which would hide the API function of the
same name (``vssleval.evaluate(model, ...)`` would then call a module). :func:`forward_calls`
makes such a module callable: a call is passed to the function of :mod:`vssleval.api`, which is
imported only then, so the module depends on nothing at import time. A leaf: imports nothing of
the package.
"""

import sys
import types


def forward_calls(module_name: str, function: str) -> None:
    """Make ``sys.modules[module_name]`` callable as ``vssleval.api.<function>``."""

    class _CallsTheApi(types.ModuleType):
        def __call__(self, *args, **kwargs):
            from vssleval import api

            return getattr(api, function)(*args, **kwargs)

    sys.modules[module_name].__class__ = _CallsTheApi
