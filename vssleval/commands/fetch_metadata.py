"""``vssleval fetch-metadata``: download public test-set metadata into a dataset folder (explicit opt-in)."""

from __future__ import annotations

import argparse

from vssleval.errors import VsslevalError

HELP = "download public metadata (annotation JSON/CSV) of a dataset into its data folder; needs internet"


def _dataset_names() -> str:
    """The registered names for the help text; the parser of every command is built from this
    module, so an unreadable dataset config must not stop them all here (the command that reads
    the configs reports it)."""
    from vssleval.data.registry import list_datasets

    try:
        return ", ".join(list_datasets())
    except VsslevalError:
        return "see `vssleval datasets`"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help=f"dataset name ({_dataset_names()}), or DATASET-SPLIT for a "
                        "split's id lists (e.g. vggss-heard: EZ-VSL's heard / unheard test lists)")
    parser.add_argument("--dest", required=True, help="the dataset root (where the reader looks for metadata)")
    parser.add_argument("--force", action="store_true", help="download again even if a file is already there")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per download (default 30)")


def run(args: argparse.Namespace) -> int:
    from vssleval.data.fetch import MetadataFile, fetch_metadata
    from vssleval.data.registry import get_config
    from vssleval.data.splits import split_metadata

    split = split_metadata(args.dataset)
    raw = split if split is not None else get_config(args.dataset).get("metadata") or []
    entries = [MetadataFile.from_config(e) for e in raw]
    if not entries:
        print(f"{args.dataset}: no metadata to fetch")
        return 0
    for path in fetch_metadata(entries, args.dest, force=args.force, timeout=args.timeout):
        print(f"ok  {path}")
    return 0
