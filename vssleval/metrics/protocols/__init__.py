"""Metric protocols: ``vssleval`` (clean default) and ``juanola2025`` (vssl_eval compat)."""

PROTOCOLS = ("vssleval", "juanola2025")
