"""``vssleval published``: what each zoo model's README or paper reports, with its source, training
set, test list and size and scoring rule (docs/published.md). Reads ``vssleval/published.yaml``
and the registries' names only: no torch."""

from __future__ import annotations

import argparse

HELP = ("print the numbers each zoo model's README or paper reports, with the source, training set, "
        "test list and scoring rule")
INDENT = " " * 4


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="a registered model (`vssleval models`); default: every model")
    p.add_argument("--dataset", help="a registered dataset (`vssleval datasets`), e.g. vggss, flickr249, "
                                     "vggss_extended; default: every dataset")


def _check(kind: str, name: str | None, known: list[str]) -> None:
    """A name that no registry holds: the one-line error of the other commands, with a suggestion."""
    from vssleval.errors import VsslevalError, did_you_mean

    if name is not None and name not in known:
        raise VsslevalError(f"unknown {kind} {name!r}{did_you_mean(name, known)}; registered: {', '.join(known)} "
                            f"(`vssleval {kind}s` lists them)")


def row_lines(row, published) -> list[str]:
    """One published row: its values on the first line, then where each fact comes from."""
    first = row[0]
    values = ", ".join(f"{published.label(v)} {v.shown}" for v in row)
    what = f"{first.model} on {first.dataset}" + (f" ({first.subset})" if first.subset else "")
    lines = [f"{what}: {values}" + (" (fractions, as printed)" if first.unit == "fraction" else "")]
    size = f"{first.test_size:,} ids" if first.test_size is not None else "size not stated by the source"
    evaluator = (f"vssleval: --preset native --protocol native, evaluator {first.evaluator}"
                 if first.evaluator else "no vssleval evaluator reproduces it")
    lines += [f"{INDENT}variant: {first.variant}"] if first.variant else []
    lines += [f"{INDENT}trained on: {first.train_set}",
              f"{INDENT}source: [{first.source_kind}] {first.source}",
              f"{INDENT}test list: {first.test_list} ({first.test_about}); {size}",
              f"{INDENT}scoring: {first.scoring} ({evaluator})"]
    lines += [f"{INDENT}AV+OGL: the native protocol computes no object prior, so no run is matched to it"
              ] if first.object_prior else []
    lines += [f"{INDENT}note: {n}" for n in first.notes]
    return lines


def run(args: argparse.Namespace) -> int:
    from vssleval import published as pub
    from vssleval.data.registry import list_datasets
    from vssleval.models.registry import list_models

    _check("model", args.model, list_models())
    _check("dataset", args.dataset, list_datasets())
    data = pub.load()
    rows = pub.by_row(data.lookup(args.model, args.dataset))
    for row in rows:
        print("\n".join(row_lines(row, data)))
    if not rows:
        asked = " on ".join(x for x in (args.model, args.dataset) if x)
        print(f"no published number with a source for {asked}")
    for kind, word in (("cautions", "caution"), ("gaps", "missing")):
        for text in data.notes(kind, args.model, args.dataset):
            print(f"{word}: {text}")
    print("values are as printed by the source; vssleval writes fractions (37.18 % = 0.3718); "
          "see docs/published.md")
    return 0
