"""User-facing errors.

A leaf module: it imports nothing of vssleval, so every package may raise these (``metrics``
included: a protocol's refusal, :class:`vssleval.metrics.protocols.ProtocolRefusal`, is one).

Anything raised as :class:`VsslevalError` is a problem with the user's input (a missing file, a bad
annotation, an unknown model) rather than a bug: the CLI prints its message, without a stack trace,
and exits with status 2. Messages name the offending file or value and say how to fix it.
"""


class VsslevalError(Exception):
    """An error caused by input the user can fix; the message says what and how."""


class BadSampleError(VsslevalError):
    """A single sample cannot be read; with ``--skip-bad`` it is recorded and skipped.

    ``kind`` is a short category (``missing_audio``, ``nonfinite_audio``, ``bad_box``, ...) under
    which skips are counted in ``metrics.json`` and ``report.md`` (docs/datasets.md §8).
    """

    def __init__(self, sample_id: str, path: str, reason: str, fix: str = "", kind: str = "bad_sample"):
        self.sample_id = sample_id
        self.path = str(path)
        self.reason = reason
        self.fix = fix
        self.kind = kind
        msg = f"sample {sample_id!r}: {reason} ({self.path})"
        if fix:
            msg += f". {fix}"
        super().__init__(msg)


def did_you_mean(name: str, choices) -> str:
    """``" (did you mean 'x'?)"`` for the registered name closest to ``name`` (case-insensitive,
    :mod:`difflib`), or ``""`` when none is close."""
    import difflib

    by_lower = {str(c).lower(): str(c) for c in choices}
    close = difflib.get_close_matches(str(name).lower(), list(by_lower), n=1, cutoff=0.6)
    return f" (did you mean {by_lower[close[0]]!r}?)" if close else ""


def describe_raise(exc: BaseException) -> str:
    """An exception raised by a user's code (a plug-in model), in one line with the innermost frame:
    ``RuntimeError: out of memory (my_model.py, line 9)``, so the message names the line to fix."""
    import traceback

    text = str(exc).strip().splitlines()
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ is not None else None
    at = f" ({where.filename}, line {where.lineno})" if where is not None else ""
    return f"{type(exc).__name__}{': ' + text[0] if text else ''}{at}"
