"""``vssleval compare RUN_A RUN_B --out DIR``: B - A per metric on the same samples, with a paired
bootstrap interval and a permutation p-value, written to ``compare.csv`` (:func:`vssleval.api.compare`;
docs/report.md)."""

from __future__ import annotations

import argparse

HELP = "compare two runs on the same samples: B - A per metric, paired interval and p-value (compare.csv)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs=2, metavar="RUN_DIR", help="the two run directories A and B")
    p.add_argument("--out", required=True, help="output directory for compare.csv")
    p.add_argument("--allow-mixed", action="store_true", help="compare two runs on different data")
    p.add_argument("--bootstrap", type=int, default=1000,
                   help="bootstrap resamples and permutations (default 1000; 0: none)")


def run(args: argparse.Namespace) -> int:
    from vssleval.api import compare

    compare(args.runs[0], args.runs[1], args.out, bootstrap=args.bootstrap, allow_mixed=args.allow_mixed)
    return 0
