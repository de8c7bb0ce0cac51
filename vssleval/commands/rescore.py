"""``vssleval rescore RUN_DIR --out DIR``: score a run's heatmap store again (no model runs) and write
what ``evaluate`` writes (:func:`vssleval.api.rescore`; docs/report.md)."""

from __future__ import annotations

import argparse

from vssleval.vocabulary import PROTOCOL_SUMMARIES

HELP = "score a run's heatmap store again (no model runs) and write evaluate's outputs to --out"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN_DIR", help="a run directory written by `vssleval evaluate` or `infer`")
    add_rescore_options(p, "--out", required=True)


def add_rescore_options(p: argparse.ArgumentParser, *out: str, required: bool) -> None:
    """``--out`` (when named in ``out``), ``--protocol``, ``--bootstrap``, ``--max-memory``,
    ``--allow-nonfinite``; shared with the deprecated ``report --from-store``."""
    if out:
        p.add_argument(*out, required=required, help="output directory for metrics.json, per_sample.csv, report.md")
    p.add_argument("--protocol", choices=list(PROTOCOL_SUMMARIES), help="the protocol to score under (default: the run's)")
    p.add_argument("--bootstrap", type=int, default=1000,
                   help="bootstrap resamples for the 95%% intervals (default 1000; 0: none)")
    p.add_argument("--max-memory", metavar="SIZE", help="memory the scoring may use, e.g. 16G "
                   "(default: what the system has available)")
    p.add_argument("--allow-nonfinite", action="store_true",
                   help="score NaN/inf maps under the protocol's rule (with a warning) instead of refusing")


def run(args: argparse.Namespace) -> int:
    from vssleval.api import rescore

    rescore(args.run, args.out, protocol=args.protocol, bootstrap=args.bootstrap, max_memory=args.max_memory,
            allow_nonfinite=args.allow_nonfinite)
    return 0
