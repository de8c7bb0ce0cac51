"""``vssleval report``: compare finished runs in one report, or rebuild a run's metrics from its store.

Two modes (both in :mod:`vssleval.api.reporting`):

* ``vssleval report RUN_DIR [RUN_DIR ...] --out DIR``: ``report.md`` with the models x metrics
  tables, the maxima / ROC / threshold-sweep figures, the calibration section and overlay grids
  (:func:`vssleval.api.report`).
* ``vssleval report --from-store RUN_DIR [--protocol P] --out DIR``: score the run's heatmap store
  again (no model runs) and write what ``evaluate`` writes (:func:`vssleval.api.rescore`).
* ``vssleval report A B --compare --out DIR``: B - A on the same samples, paired bootstrap interval
  and permutation p-value, ``compare.csv`` (:func:`vssleval.api.compare`).
"""

from __future__ import annotations

import argparse

from vssleval.api import compare, report, rescore
from vssleval.metrics.protocols import PROTOCOLS
from vssleval.errors import VsslevalError
from vssleval.report.sweep import DEFAULT_POINTS
from vssleval.report.tables import CI_STYLES

HELP = "compare runs in one report (tables, figures, calibration), or recompute a run's metrics --from-store"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="*", metavar="RUN_DIR", help="run directories written by `vssleval evaluate`")
    p.add_argument("--out", required=True, help="output directory for report.md, figures and summary.csv")
    p.add_argument("--allow-mixed", action="store_true",
                   help="put runs with different protocols, datasets, presets or data in one report "
                        "(or compare two runs on different data with --compare)")
    t = p.add_argument_group("tables")
    t.add_argument("--format", default="md,latex,csv", metavar="LIST",
                   help="leaderboard files to write: comma list of md, latex, csv (default all; 'none': no leaderboard)")
    t.add_argument("--ci-style", choices=list(CI_STYLES), default="bracket",
                   help="intervals as 0.645 [0.612, 0.679] (bracket, default), 0.645 ± 0.034 (pm, half-width) or none")
    t.add_argument("--compare", action="store_true",
                   help="with two runs A B: B - A per metric on the same samples (paired bootstrap interval, "
                        "permutation p-value), written to compare.csv")
    m = p.add_argument_group("figures from the heatmap stores")
    m.add_argument("--no-maps", action="store_true",
                   help="skip the threshold sweep and the overlays (no store or dataset images needed)")
    m.add_argument("--overlays", type=int, default=4, metavar="K",
                   help="overlay grid of the first K samples (default 4; 0: none)")
    m.add_argument("--sweep-samples", type=int, default=1000, metavar="N",
                   help="threshold sweep over the first N samples and the first seed (0: all samples; default 1000)")
    m.add_argument("--sweep-points", type=int, default=DEFAULT_POINTS, help=f"thresholds in the sweep (default {DEFAULT_POINTS})")
    s = p.add_argument_group("recompute metrics from a store")
    s.add_argument("--from-store", metavar="RUN_DIR",
                   help="score this run's heatmap store again (no model runs) and write evaluate's outputs to --out")
    s.add_argument("--protocol", choices=list(PROTOCOLS), help="with --from-store: the protocol (default: the run's)")
    s.add_argument("--bootstrap", type=int, default=1000,
                   help="with --from-store or --compare: bootstrap resamples (and permutations) (default 1000; 0: none)")
    s.add_argument("--max-memory", metavar="SIZE", help="with --from-store: memory the scoring may use, e.g. 16G "
                   "(default: what the system has available)")
    s.add_argument("--allow-nonfinite", action="store_true",
                   help="with --from-store: score NaN/inf maps under the protocol's rule (with a warning) instead of refusing")


def _formats(text: str) -> list[str]:
    """``--format``'s list (``none``: empty); a list naming nothing, or ``none`` beside a format, is refused."""
    names = [f.strip() for f in text.split(",")]
    if names == ["none"]:
        return []
    if not any(names) or "none" in names:
        raise VsslevalError(f"--format {text!r}: give a comma list of md, latex, csv (e.g. --format md,latex), "
                            "or --format none alone for no leaderboard")
    return [f for f in names if f]


def run(args: argparse.Namespace) -> int:
    # every numeric flag, also those the chosen mode ignores, was checked by vssleval.limits (cli.py)
    if args.from_store:
        if args.runs:
            raise VsslevalError(f"--from-store takes one run ({args.from_store}); do not also list RUN_DIRs "
                                f"({', '.join(args.runs)}): report them in a second call")
        rescore(args.from_store, args.out, protocol=args.protocol, bootstrap=args.bootstrap,
                max_memory=args.max_memory, allow_nonfinite=args.allow_nonfinite)
        return 0
    if args.compare:
        if len(args.runs) != 2:
            raise VsslevalError(f"--compare takes exactly two runs A B (got {len(args.runs)}): "
                                "vssleval report RUN_A RUN_B --compare --out DIR")
        compare(args.runs[0], args.runs[1], args.out, bootstrap=args.bootstrap, allow_mixed=args.allow_mixed)
        return 0
    if args.protocol:
        raise VsslevalError("--protocol only applies with --from-store (a report shows each run's own protocol)")
    if args.allow_nonfinite:
        raise VsslevalError("--allow-nonfinite only applies with --from-store (a report reads each run's metrics "
                            "as written; rescore a run with `vssleval report --from-store RUN --out DIR --allow-nonfinite`)")
    formats = _formats(args.format)
    report(args.runs, args.out, allow_mixed=args.allow_mixed, maps=not args.no_maps, overlays=args.overlays,
           sweep_samples=args.sweep_samples, sweep_points=args.sweep_points, formats=formats,
           ci_style=args.ci_style)
    return 0
