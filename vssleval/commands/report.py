"""``vssleval report RUN_DIR [RUN_DIR ...] --out DIR``: finished runs in one report.

``report.md`` with the models x metrics tables, the maxima / ROC / threshold-sweep figures, the
calibration section and overlay grids (:func:`vssleval.api.report`). The two other jobs this command
once did are subcommands of their own: ``vssleval rescore`` (formerly ``report --from-store``) and
``vssleval compare`` (formerly ``report --compare``); the old spellings still work and print a
one-line deprecation note on stderr (:data:`DEPRECATED`).
"""

from __future__ import annotations

import argparse
import sys

from vssleval.commands.rescore import add_rescore_options
from vssleval.errors import VsslevalError
from vssleval.report.choices import CI_STYLES, DEFAULT_POINTS

HELP = "put finished runs in one report (tables, figures, calibration, leaderboard files)"

#: old flag -> the subcommand that replaced it (still accepted, with a note on stderr)
DEPRECATED = {"--from-store": "vssleval rescore RUN_DIR --out DIR", "--compare": "vssleval compare RUN_A RUN_B --out DIR"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="*", metavar="RUN_DIR", help="run directories written by `vssleval evaluate`")
    p.add_argument("--out", required=True, help="output directory for report.md, figures and summary.csv")
    p.add_argument("--allow-mixed", action="store_true",
                   help="put runs with different protocols, datasets, presets or data in one report")
    t = p.add_argument_group("tables")
    t.add_argument("--format", default="md,latex,csv", metavar="LIST",
                   help="files to write: comma list of md, latex, csv (leaderboard files) and html (report.html, a page "
                        "to browse with a per-sample viewer); default md,latex,csv; 'none': no leaderboard")
    t.add_argument("--ci-style", choices=list(CI_STYLES), default="bracket",
                   help="intervals as 0.645 [0.612, 0.679] (bracket, default), 0.645 ± 0.034 (pm, half-width) or none")
    m = p.add_argument_group("figures from the heatmap stores")
    m.add_argument("--no-maps", action="store_true",
                   help="skip the threshold sweep and the overlays (no store or dataset images needed)")
    m.add_argument("--overlays", type=int, default=4, metavar="K",
                   help="overlay grid of the first K samples (default 4; 0: none)")
    m.add_argument("--sweep-samples", type=int, default=1000, metavar="N",
                   help="threshold sweep over the first N samples and the first seed (0: all samples; default 1000)")
    m.add_argument("--sweep-points", type=int, default=DEFAULT_POINTS, help=f"thresholds in the sweep (default {DEFAULT_POINTS})")
    old = p.add_argument_group("deprecated spellings (use the subcommands)")
    old.add_argument("--compare", action="store_true", help=f"deprecated: {DEPRECATED['--compare']}")
    old.add_argument("--from-store", metavar="RUN_DIR", help=f"deprecated: {DEPRECATED['--from-store']}")
    add_rescore_options(old, required=False)  # --protocol, --bootstrap, ... of the old --from-store


def _deprecated(flag: str) -> None:
    print(f"vssleval: note: `vssleval report {flag}` is deprecated; use `{DEPRECATED[flag]}`", file=sys.stderr)


def _formats(text: str) -> list[str]:
    """``--format``'s list (``none``: empty); a list naming nothing, or ``none`` beside a format, is refused."""
    names = [f.strip() for f in text.split(",")]
    if names == ["none"]:
        return []
    if not any(names) or "none" in names:
        raise VsslevalError(f"--format {text!r}: give a comma list of md, latex, csv, html (e.g. --format md,html), "
                            "or --format none alone for no leaderboard")
    return [f for f in names if f]


def run(args: argparse.Namespace) -> int:
    from vssleval.api import compare, report, rescore

    # every numeric flag, also those the chosen mode ignores, was checked by vssleval.limits (cli.py)
    if args.from_store:
        _deprecated("--from-store")
        if args.runs:
            raise VsslevalError(f"--from-store takes one run ({args.from_store}); do not also list RUN_DIRs "
                                f"({', '.join(args.runs)}): report them in a second call")
        rescore(args.from_store, args.out, protocol=args.protocol, bootstrap=args.bootstrap,
                max_memory=args.max_memory, allow_nonfinite=args.allow_nonfinite)
        return 0
    if args.compare:
        _deprecated("--compare")
        if len(args.runs) != 2:
            raise VsslevalError(f"--compare takes exactly two runs A B (got {len(args.runs)}): "
                                "vssleval compare RUN_A RUN_B --out DIR")
        compare(args.runs[0], args.runs[1], args.out, bootstrap=args.bootstrap, allow_mixed=args.allow_mixed)
        return 0
    if args.protocol:
        raise VsslevalError("--protocol only applies to `vssleval rescore` (a report shows each run's own protocol)")
    if args.allow_nonfinite:
        raise VsslevalError("--allow-nonfinite only applies with --from-store (a report reads each run's metrics "
                            "as written; rescore a run with `vssleval rescore RUN --out DIR --allow-nonfinite`)")
    formats = _formats(args.format)
    report(args.runs, args.out, allow_mixed=args.allow_mixed, maps=not args.no_maps, overlays=args.overlays,
           sweep_samples=args.sweep_samples, sweep_points=args.sweep_points, formats=formats,
           ci_style=args.ci_style)
    return 0
