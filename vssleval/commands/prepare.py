"""``vssleval prepare``: build a dataset folder from what users download (docs/datasets.md §10)."""

from __future__ import annotations

import argparse

HELP = "build the VGG-SS, Flickr-SoundNet or IS3 folder from downloaded clips / archives (resumable)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="dataset", metavar="DATASET", required=True)
    v = sub.add_parser("vggss", help="VGG-Sound clips (<id>.mp4/.mkv/.webm) -> frames/ and audio/ (needs PyAV: "
                       "pip install av; in the checkout: pip install -e '.[video]')")
    v.add_argument("--videos", required=True, help="folder holding the clips (searched recursively)")
    v.add_argument("--annotation", help="VGG-SS annotation file (default: vggss.json or vggss_annotations.json "
                   "found in --out, then in --videos)")
    f = sub.add_parser("flickr", help="the Flickr-SoundNet test archive (Annotations/, Data/) -> frames/, audio/, "
                       "Annotations/ and both test lists")
    f.add_argument("--archive", required=True, help="the extracted archive folder")
    f.add_argument("--test-list", help="test id list (default: flickr_test.csv in --out, then flickr_test.csv or "
                   "test_list.txt in --archive)")
    i = sub.add_parser("is3", help="the IS3 release (images or visual_frames, audio_wav, IS3_annotation.json) -> "
                       "the layout --dataset is3 reads")
    i.add_argument("--src", required=True, help="the extracted IS3 folder")
    for p in (v, f, i):
        p.add_argument("--out", required=True, help="the dataset folder to build (an existing one is resumed)")
        p.add_argument("--workers", type=int, default=0, help="parallel processes (default 0: this process)")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from vssleval.data.prepare import prepare_flickr, prepare_is3, prepare_vggss

    common = dict(out=args.out, workers=args.workers, progress=not args.no_progress)
    if args.dataset == "vggss":
        summary = prepare_vggss(args.videos, annotation=args.annotation, **common)
    elif args.dataset == "flickr":
        summary = prepare_flickr(args.archive, test_list=args.test_list, **common)
    else:
        summary = prepare_is3(args.src, **common)
    print(summary.text())
    return summary.exit_code
