"""Metric protocols, one module each: ``vssleval`` (clean default) and ``juanola2025`` (vssl_eval compat).

:data:`PROTOCOLS` maps each name to its :class:`~.base.Protocol` object. It is filled from the
modules of this package: every module that defines ``PROTOCOL`` (an instance) is registered, so a
new protocol is one new module. :func:`get_protocol` is the one lookup (a clear error for an
unknown name); :func:`register` adds a protocol defined elsewhere (tests, notebooks).
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import NEGATIVES, Protocol, ProtocolRefusal, RunFacts, SeedRecords, Setup, StoreFacts

#: name -> protocol, in ``rank`` order (the clean default first)
PROTOCOLS: dict[str, Protocol] = {}


def register(protocol: Protocol) -> Protocol:
    """Add ``protocol`` to :data:`PROTOCOLS` under its ``name`` (a name may be registered once)."""
    if not protocol.name:
        raise ValueError(f"{type(protocol).__name__} has no name")
    if protocol.name in PROTOCOLS and PROTOCOLS[protocol.name] is not protocol:
        raise ValueError(f"a protocol named {protocol.name!r} is already registered")
    PROTOCOLS[protocol.name] = protocol
    return protocol


def get_protocol(name: str | Protocol) -> Protocol:
    """The protocol object of ``name`` (a protocol object is returned as it is)."""
    if isinstance(name, Protocol):
        return name
    try:
        return PROTOCOLS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown protocol {name!r}; expected one of {tuple(PROTOCOLS)}") from None


def _discover() -> None:
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if isinstance(getattr(module, "PROTOCOL", None), Protocol):
            found.append(module.PROTOCOL)
    for protocol in sorted(found, key=lambda p: (p.rank, p.name)):
        register(protocol)


_discover()

__all__ = ["NEGATIVES", "PROTOCOLS", "Protocol", "ProtocolRefusal", "RunFacts", "SeedRecords", "Setup", "StoreFacts",
           "get_protocol", "register"]
