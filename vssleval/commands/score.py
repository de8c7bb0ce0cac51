"""``vssleval score MAPS --dataset D --data-dir DIR --out DIR``: score a maps file computed anywhere
(docs/maps-format.md) and write a run folder (:func:`vssleval.api.score`)."""

from __future__ import annotations

import argparse

from vssleval.commands.rescore import add_rescore_options

HELP = "score a maps file (.npz: `export`'s, or any framework's, docs/maps-format.md) and write a run folder"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("maps", metavar="MAPS", help="the .npz maps file (docs/maps-format.md)")
    p.add_argument("--dataset", help="the registered dataset the maps are of (default: the one the file names)")
    p.add_argument("--data-dir", help="the dataset's folder (omitted: the embedded synthetic benchmark)")
    p.add_argument("--out", help="the run folder to write (default runs/<file name>-<--dataset>, or runs/<file name>)")
    p.add_argument("--skip-bad", action="store_true", help="load the dataset leaving bad records out")
    p.add_argument("--overwrite", action="store_true", help="replace another run in --out")
    add_rescore_options(p, required=False)


def run(args: argparse.Namespace) -> int:
    from vssleval.api.scoring import default_out, score

    out = args.out if args.out is not None else default_out(args.maps, args.dataset)
    score(args.maps, out, dataset=args.dataset, data_dir=args.data_dir, protocol=args.protocol,
          bootstrap=args.bootstrap, max_memory=args.max_memory, allow_nonfinite=args.allow_nonfinite,
          skip_bad=args.skip_bad, overwrite=args.overwrite)
    return 0
