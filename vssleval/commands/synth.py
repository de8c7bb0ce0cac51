"""``vssleval synth``: write the embedded synthetic benchmark in the VGG-SS or IS3 layout."""

from __future__ import annotations

import argparse
import time

HELP = "generate the synthetic benchmark (deterministic; VGG-SS or IS3 layout)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vssleval.data.synthetic import DEFAULT_N, DEFAULT_TEST_SEED  # numpy, no torch: only for this parser

    parser.add_argument("--layout", choices=("vggss", "is3"), default="vggss", help="on-disk layout (default vggss)")
    parser.add_argument("--n", type=int, default=DEFAULT_N, help=f"samples/records (IS3: even) (default {DEFAULT_N})")
    parser.add_argument("--seed", type=int, default=DEFAULT_TEST_SEED,
                        help=f"generator seed, any integer >= 0 (default {DEFAULT_TEST_SEED})")
    parser.add_argument("--split", choices=("test", "train"), default="test",
                        help="'train' draws from streams disjoint from every 'test' seed (default test)")
    parser.add_argument("--out", required=True, help="new output folder (must not exist or be empty)")
    parser.add_argument("--as-videos", action="store_true",
                        help="VGG-SS layout: write each record as a 10-s video clip <id>.mp4 (H.264 + AAC) beside the "
                             "annotation files, the input of `vssleval prepare vggss` (needs PyAV)")
    parser.add_argument("--max-memory", metavar="SIZE", help="memory the generator may use, e.g. 4G (default: what "
                        "the system has available)")


def run(args: argparse.Namespace) -> int:
    from vssleval.data.synthetic import synth
    from vssleval.shown_paths import for_console

    t0 = time.perf_counter()
    out = synth(args.layout, args.n, args.seed, args.out, split=args.split, max_memory=args.max_memory,
                as_videos=args.as_videos)
    what = "video clips" if args.as_videos else "samples"
    print(f"wrote {args.n} {args.layout}-layout {what} (seed {args.seed}, {args.split}) to {for_console(out)} "
          f"in {time.perf_counter() - t0:.1f} s")
    return 0
