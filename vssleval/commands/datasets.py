"""``vssleval datasets``: list the registered datasets, or validate a data folder against one."""

from __future__ import annotations

import argparse
import collections

HELP = "list registered datasets; with --data-dir, validate a dataset folder (counts, missing/bad files)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="dataset to validate (needed with --data-dir)")
    parser.add_argument("--data-dir", help="dataset root to validate")
    parser.add_argument("--no-file-check", action="store_true", help="parse annotations only; do not open media")
    parser.add_argument("--skips-out", help="write the bad samples found as JSON to this file")


def _list() -> int:
    from vssleval.data.registry import get_config, list_datasets

    names = list_datasets()
    width = max(len(n) for n in names)
    for name in names:
        cfg = get_config(name)
        print(f"{name:<{width}}  {cfg['layout']:<8}  {cfg.get('description', '')}")
    return 0


def _coverage_line(cov: dict[str, int]) -> str:
    """``4,211 of 5,158 records have media (4,200 usable)``: what a partly downloaded dataset holds."""
    return f"{cov['with_media']:,} of {cov['records']:,} records have media ({cov['usable']:,} usable)"


def run(args: argparse.Namespace) -> int:
    if args.data_dir is None and args.name is None:
        return _list()
    if args.name is None:
        from vssleval.errors import VsslevalError

        raise VsslevalError("give the dataset name to validate, e.g. `vssleval datasets vggss --data-dir DIR`")
    from vssleval.data.gt import gt_map, size_bin
    from vssleval.data.registry import load_dataset

    ds = load_dataset(args.name, args.data_dir, check_files=not args.no_file_check, skip_bad=True)
    neg = sum(s.is_negative for s in ds)
    bins = collections.Counter(size_bin(float(gt_map(s).sum())) for s in ds if not s.is_negative)
    print(f"{ds.name} ({ds.layout}) at {ds.root}")
    for note in ds.notes:
        print(f"  {note}")
    print(f"  samples: {len(ds)} ({len(ds) - neg} positive, {neg} negative)")
    print("  coverage: " + (_coverage_line(ds.coverage()) if not args.no_file_check else "not checked (--no-file-check)"))
    print(f"  boxes: {sum(len(s.boxes) for s in ds)}; size bins: "
          + ", ".join(f"{b} {bins.get(b, 0)}" for b in ("small", "medium", "large", "huge")))
    print(f"  offscreen classes: {len(ds.class_files)}")
    reasons = collections.Counter(s.kind for s in ds.skips)
    print(f"  bad samples: {len(ds.skips)}" + (" (" + ", ".join(f"{k} {n}" for k, n in reasons.most_common()) + ")"
                                               if reasons else ""))
    for s in ds.skips[:20]:
        print(f"    {s.id}: {s.reason} ({s.path})")
    if len(ds.skips) > 20:
        print(f"    ... {len(ds.skips) - 20} more")
    if args.skips_out:
        from vssleval.io_utils import write_json_atomic

        write_json_atomic(args.skips_out, [s.as_dict() for s in ds.skips])
    return 1 if ds.skips else 0
