#!/usr/bin/env python
"""Rewrite the tables of docs/ that are generated from the code (docs/testing.md, "Docs agree with the code").

A generated table sits between two marker comments in one page of ``docs/``::

    <!-- NAME: begin (generated) -->
    ...exactly the text BLOCKS[NAME] builds from the code...
    <!-- NAME: end -->

``tests/test_docs_facts.py`` fails while a table differs from what the code gives; this script
writes them:

    python scripts/docs_tables.py            # rewrite every stale table in place
    python scripts/docs_tables.py --check    # list the stale tables, exit 1 if there is one
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))


def _cells(*cells: str) -> str:
    """One Markdown table row (a ``|`` inside a cell is escaped)."""
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def catalog_table() -> str:
    """docs/metrics.md §12: the metric catalog of every protocol."""
    from vssleval.metrics.catalog import markdown
    from vssleval.metrics.protocols import PROTOCOLS

    return markdown({name: p.metrics for name, p in PROTOCOLS.items()})


def run_options_table() -> str:
    """docs/api.md §2: every row of ``RUN_OPTIONS``: keyword, flag, defaults, commands, recorded name, help."""
    from vssleval.api.options import REQUIRED, RUN_OPTIONS

    lines = [_cells("keyword", "flag", "default", "commands", "recorded as", "what"), "|---|---|---|---|---|---|"]
    for o in RUN_OPTIONS:
        default = "required" if o.default is REQUIRED else f"`{o.default!r}`"
        if o.cli_default is not REQUIRED:
            default += f" (command line: `{o.cli_default!r}`)"
        lines.append(_cells(f"`{o.name}`", "—" if o.cli is None else f"`{o.flag}`", default, ", ".join(o.commands),
                            f"`{o.record}`" if o.record else "—", o.help.replace("%%", "%")))
    return "\n".join(lines) + "\n"


def _bound(x: float) -> str:
    """A bound as a reader writes it: ``2^63 - 1``, ``10^6``, ``1 MiB`` sizes aside."""
    if isinstance(x, int) and x > 2 ** 16 and (x + 1) & x == 0:
        return f"2^{(x + 1).bit_length() - 1} - 1"
    if isinstance(x, int) and x >= 10 ** 4 and str(x).rstrip("0") == "1":
        return f"10^{len(str(x)) - 1}"
    from vssleval.limits import _number_text

    return _number_text(x)


def limits_table() -> str:
    """docs/api.md §5: every row of ``vssleval.limits.LIMITS``: option, command, type, range, reason."""
    from vssleval.limits import LIMITS, MEMORY, format_bytes

    lines = [_cells("option", "command", "type", "lowest", "highest", "why"), "|---|---|---|---|---|---|"]
    for row in LIMITS:
        if row.least is None:
            low = "—"
        else:
            shown_least = format_bytes(row.least) if row.kind == "size" else _bound(row.least)
            low = ("> " if row.strict else ">= ") + shown_least
        if row.most is None:
            high = "none"
        elif row.most == MEMORY:
            high = "the memory estimate"
        elif callable(row.most):
            high = (row.most.__doc__ or row.most.__name__).strip().splitlines()[0]
        else:
            high = _bound(row.most)
        lines.append(_cells(row.label or f"`{row.flag}`", f"`{row.scope}`" if row.scope else "—", row.kind, low,
                            high, row.reason))
    return "\n".join(lines) + "\n"


def _four_places(x: float) -> str:
    return f"{x:.4f}" if round(x, 4) == x else repr(x)


def thresholds_table() -> str:
    """docs/models.md §15: the ``thresholds:`` block of every model YAML that has one."""
    from vssleval.models.registry import get_entry, list_models, load_model_config

    lines = [_cells("model", "`max`", "`max10`", "`maxq3`"), "|---|---|---|---|"]
    for name in list_models():
        if get_entry(name).source != "builtin":  # the shipped models only, not a plug-in installed here
            continue
        found = load_model_config(name).get("thresholds") or {}
        if found:
            lines.append(_cells(f"`{name}`", *(_four_places(found[k]) for k in ("max", "max10", "maxq3"))))
    return "\n".join(lines) + "\n"


def layout_defaults_table() -> str:
    """docs/datasets.md §7.2: the options of each base layout's reader and their defaults (``DEFAULTS``)."""
    from vssleval.data.readers import BASE_LAYOUTS

    lines = [_cells("layout", "option", "default"), "|---|---|---|"]
    for layout, (_, defaults) in BASE_LAYOUTS.items():
        for i, (key, value) in enumerate(defaults.items()):
            shown = ", then ".join(f"`{v}`" for v in value) if isinstance(value, list) else f"`{value}`"
            lines.append(_cells(f"`{layout}`" if i == 0 else "", f"`{key}`", shown))
    return "\n".join(lines) + "\n"


#: name -> (page under the repository root, the function that builds its text).
BLOCKS: dict[str, tuple[str, Callable[[], str]]] = {
    "catalog": ("docs/metrics.md", catalog_table),
    "run-options": ("docs/api.md", run_options_table),
    "limits": ("docs/api.md", limits_table),
    "thresholds": ("docs/models.md", thresholds_table),
    "layout-defaults": ("docs/datasets.md", layout_defaults_table),
}


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}: begin (generated) -->\n", f"<!-- {name}: end -->"


def shown(text: str, name: str) -> tuple[int, int]:
    """Where the generated text of block ``name`` lies in ``text`` (start, end); ValueError if the
    markers are missing or out of order."""
    begin, end = markers(name)
    if text.count(begin) != 1 or text.count(end) != 1 or text.index(begin) > text.index(end):
        raise ValueError(f"expected one {begin.strip()} ... {end} pair")
    start = text.index(begin) + len(begin)
    return start, text.index(end)


@functools.cache
def built(name: str) -> str:
    """The text the code gives for block ``name`` (built once per process)."""
    return BLOCKS[name][1]()


def stale(root: Path = ROOT) -> dict[str, tuple[str, str]]:
    """Every block whose text differs from the code's: name -> (what the page shows, what the code gives)."""
    out = {}
    for name, (page, _) in BLOCKS.items():
        text = (root / page).read_text(encoding="utf-8")
        start, end = shown(text, name)
        want = built(name)
        if text[start:end] != want:
            out[name] = (text[start:end], want)
    return out


def rewrite(root: Path = ROOT) -> list[str]:
    """Write every stale block under ``root`` with the code's text; returns the names rewritten."""
    found = stale(root)
    for name, (_, want) in found.items():
        path = root / BLOCKS[name][0]
        text = path.read_text(encoding="utf-8")
        start, end = shown(text, name)
        path.write_text(text[:start] + want + text[end:], encoding="utf-8")
    return list(found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only list the stale tables (exit 1 if any)")
    args = parser.parse_args(argv)
    names = list(stale()) if args.check else rewrite()
    for name in names:
        print(f"{BLOCKS[name][0]}: the {name} table {'is stale' if args.check else 'was rewritten'}")
    return 1 if args.check and names else 0


if __name__ == "__main__":
    sys.exit(main())
