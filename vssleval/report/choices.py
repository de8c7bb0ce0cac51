"""The choices and defaults of ``vssleval report`` that its ``--help`` shows, in a module that
imports nothing: the CLI builds that parser without numpy or torch (docs/performance.md). The
modules that use them (:mod:`.sweep`, :mod:`vssleval.api.reporting`) import them from here."""

#: How an interval is printed (``--ci-style``): ``bracket`` ``0.645 [0.612, 0.679]``; ``pm`` the
#: half-width, ``0.645 ± 0.034``; ``none`` the value alone.
CI_STYLES = ("bracket", "pm", "none")
#: Grid points of the default threshold sweep (``--sweep-points``).
DEFAULT_POINTS = 41
#: The ``--format`` name of ``report.html`` (the others name leaderboard files).
HTML_FORMAT = "html"
