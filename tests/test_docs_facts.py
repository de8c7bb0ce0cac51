"""Issue 20 item 7: the docs agree with the code (docs/testing.md, "Docs agree with the code").

Every default and constant that README.md and docs/ state is either generated from the code
(``scripts/docs_tables.py``, between marker comments) or read here from the doc's own sentence and
compared with the value the code has. Nothing here restates a value: each check takes one side from
the doc text and the other from the code (an imported constant, a signature, a parser's default, a
YAML file, or what a function returns on a tiny input). Three kinds of check:

* generic scans, which also cover sentences written later: every ``--flag ... (default V)``, every
  ``--flag a|b|c``, every API signature in docs/api.md, every YAML fragment (``key: value``) quoted in
  docs/models.md, docs/protocols.md and docs/datasets.md;
* tables checked row by row (state-dict key counts, vssl_eval's thresholds, the protocol table, the
  spectrogram frame counts);
* :data:`FACTS`: one precise pattern per stated constant, anchored on its sentence.

All of it reads text, parsers, YAMLs and signatures (models are built on the meta device), so the
module takes well under two CPU seconds.
"""

from __future__ import annotations

import argparse
import ast
import csv
import importlib.util
import inspect
import json
import math
import re
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import numpy as np
import pytest
import yaml
from pathlib import Path
from shared import ROOT

import vssleval
from vssleval.api import options as run_options
from vssleval.cli import build_parser

PAGES = ["README.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md"))]


@cache
def page(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


@cache
def flat(name: str) -> str:
    """The page with every run of white space made one space, so a pattern may span a line break."""
    return " ".join(page(name).split())


def pyproject() -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the checks that read pyproject.toml need tomli
        tomllib = pytest.importorskip("tomli")
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"{name}_under_test", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- 1. generated tables ---------------------------------------------------------------------------
DOCS_TABLES = _script("docs_tables")


@pytest.mark.parametrize("name", sorted(DOCS_TABLES.BLOCKS))
def test_generated_table_is_what_the_code_gives(name):
    path = DOCS_TABLES.BLOCKS[name][0]
    text = page(path)
    start, end = DOCS_TABLES.shown(text, name)
    assert text[start:end] == DOCS_TABLES.built(name), (
        f"{path}: the {name} table is stale: run python scripts/docs_tables.py")


def test_a_stale_table_is_found_and_rewritten(tmp_path):
    """The script's own loop on a copy of the pages: rewritten, nothing is stale; a block that lost a
    row is the one listed, and rewriting restores it without touching the rest of the page."""
    (tmp_path / "docs").mkdir()
    for path, _ in DOCS_TABLES.BLOCKS.values():
        (tmp_path / path).write_text(page(path), encoding="utf-8")
    DOCS_TABLES.rewrite(tmp_path)
    assert DOCS_TABLES.stale(tmp_path) == {}
    path = DOCS_TABLES.BLOCKS["limits"][0]
    fresh = (tmp_path / path).read_text(encoding="utf-8")
    (tmp_path / path).write_text(fresh.replace(DOCS_TABLES.built("limits").splitlines()[-1] + "\n", "", 1),
                                 encoding="utf-8")
    assert list(DOCS_TABLES.stale(tmp_path)) == ["limits"]
    assert DOCS_TABLES.rewrite(tmp_path) == ["limits"]
    assert (tmp_path / path).read_text(encoding="utf-8") == fresh


# -- 2. command-line defaults and choices ----------------------------------------------------------
@cache
def cli_flags() -> dict[str, dict[str, argparse.Action]]:
    """``--flag`` -> {subcommand: its argparse action}, over every subcommand of ``vssleval``."""
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    flags: dict[str, dict[str, argparse.Action]] = {}
    for command, parser in sub.choices.items():
        for action in parser._actions:
            for flag in action.option_strings:
                flags.setdefault(flag, {})[command] = action
    return flags


_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "ten": 10, "no": 0}


def number(text: str) -> float | int:
    """A number as the docs write it: ``50 176``, ``0.05``, ``5 %``, ``ten``."""
    text = text.strip().strip("`").replace("\u202f", " ")
    if text in _WORDS:
        return _WORDS[text]
    if text.endswith("%"):
        return float(text[:-1].strip()) / 100
    digits = text.replace(" ", "")
    return int(digits) if re.fullmatch(r"-?\d+", digits) else float(digits)


_DEFAULT = re.compile(r"`(--[a-z][a-z0-9-]*)(?: [A-Z]+)?`[^.;`]{0,40}?default (-?\d[\d.]*(?: ?%)?)")


#: Flags of other programs that the docs describe (page, flag): not vssleval's.
FOREIGN = {("docs/protocols.md", "--threshold"): "vssl_eval's eval.py option (docs/protocols.md §1.1)"}


def stated_cli_defaults() -> Iterator[tuple[str, str, str]]:
    for name in PAGES:
        for m in _DEFAULT.finditer(flat(name)):
            if (name, m.group(1)) not in FOREIGN:
                yield name, m.group(1), m.group(2)


def test_every_stated_cli_default_is_the_parsers():
    """``--flag [METAVAR]`` followed in its clause by ``default V``: V is that flag's default in every
    subcommand that has the flag."""
    found = list(stated_cli_defaults())
    assert len(found) >= 10, found  # the scan itself still finds the sentences
    wrong = []
    for name, flag, value in found:
        defaults = {command: action.default for command, action in cli_flags().get(flag, {}).items()}
        if not defaults or any(d is None or number(value) != d for d in defaults.values()):
            wrong.append(f"{name}: {flag} default {value}, the parser: {defaults or 'no such flag'}")
    assert wrong == []


_CHOICES = re.compile(r"--([a-z][a-z-]*)[ =]([a-z0-9_]+(?:\|[a-z0-9_]+)+)")


def test_every_stated_choice_list_is_the_parsers():
    """``--flag a|b|c``: the parser's choices of that flag, all of them; a flag without choices
    (``--neg``, ``--device``) must accept each value listed."""
    found = [(name, m.group(1), m.group(2).split("|")) for name in PAGES for m in _CHOICES.finditer(flat(name))]
    assert len(found) >= 5
    checks = {o.flag: o.check for o in run_options.RUN_OPTIONS}
    wrong = []
    for name, flag, values in found:
        actions = cli_flags().get(f"--{flag}", {})
        choices = {tuple(a.choices) for a in actions.values() if a.choices}
        if choices:
            if any(set(values) != set(c) for c in choices):
                wrong.append(f"{name}: --{flag} {'|'.join(values)}, the parser: {choices}")
            continue
        assert f"--{flag}" in checks, f"{name}: --{flag} lists values but has neither choices nor a check"
        for value in values:
            try:
                checks[f"--{flag}"](value)
            except vssleval.VsslevalError as e:
                wrong.append(f"{name}: --{flag} {value}: {e}")
    assert wrong == []


def test_every_named_extra_and_environment_variable_exists():
    """``pip install -e '.[X]'``: X is an extra of pyproject.toml; ``VSSLEVAL_NAME``: some code,
    script or test reads it (``VSSLEVAL_DATA_VGGSS`` stands for the prefix ``VSSLEVAL_DATA_``)."""
    extras = pyproject()["project"]["optional-dependencies"]
    named = {m for name in PAGES for m in re.findall(r"(?:vssleval|'\.)\[(\w+)\]", flat(name))}
    assert named and named <= set(extras), named - set(extras)
    # vssleval is not on PyPI: `pip install 'vssleval[X]'` would look for it there; a checkout installs `.`
    pypi = [name for name in PAGES if re.search(r"pip install '?vssleval\[", flat(name))]
    assert pypi == [], f"{pypi}: write pip install -e '.[X]' (the checkout), not 'vssleval[X]' (PyPI)"
    sources = [p for folder in ("vssleval", "scripts", "tests", ".ci") for p in (ROOT / folder).rglob("*")
               if p.is_file() and p.suffix in ("", ".py", ".sh") and p.name != Path(__file__).name]
    code = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in sources + list(ROOT.glob("*.sh")))
    variables = {v for name in PAGES for v in re.findall(r"VSSLEVAL_[A-Z0-9_]*[A-Z0-9]", flat(name))}
    assert len(variables) >= 8
    unread = [v for v in variables if v not in code and v.rsplit("_", 1)[0] + "_" not in code]
    assert unread == []


# -- 3. API signatures -----------------------------------------------------------------------------
def _split_top(text: str) -> list[str]:
    """``a, b=(1, 2), c`` -> items, splitting only on commas outside brackets and quotes."""
    items, depth, quote, cur = [], 0, "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(cur.strip())
            cur = ""
            continue
        cur += ch
    return [i for i in items + [cur.strip()] if i]


def documented_signatures() -> list[tuple[str, dict[str, str | None], bool]]:
    """(function, {parameter: default text or None}, whole) for every ``vssleval.f(...)`` block of
    docs/api.md (whole: the block lists every parameter) and every call of the overview table."""
    text = page("docs/api.md")
    found = []
    for m in re.finditer(r"^vssleval\.(\w+)\(((?:(?!vssleval\.).)*?)\)\s*->", text, flags=re.S | re.M):
        params: dict[str, str | None] = {}
        for item in _split_top(" ".join(m.group(2).split())):
            if item.startswith("<the same, without "):  # infer: evaluate's keywords less those named
                skip = item[len("<the same, without "):-1].split(", ")
                params.update({k: v for k, v in found[-1][1].items()
                               if k not in skip and k not in ("model", "dataset")})
            elif item not in ("*", "...", "…"):
                name, _, default = item.partition("=")
                params[name.strip()] = default.strip() or None
        found.append((m.group(1), params, True))
    for cell, *_ in _table_rows("docs/api.md", "| function | what it does | CLI |"):
        for m in re.finditer(r"`(\w+)\((.*?)\)`", cell):
            params = {n.strip(): (d.strip() or None) for n, _, d in (i.partition("=") for i in _split_top(m.group(2))
                                                                      if i not in ("*", "...", "…"))}
            found.append((m.group(1), params, False))
    return found


def test_every_documented_signature_is_the_functions():
    documented = documented_signatures()
    assert {f for f, _, whole in documented if whole} >= {"load_model", "evaluate", "infer", "report", "compare",
                                                          "rescore"}
    wrong = []
    for function, params, whole in documented:
        real = inspect.signature(getattr(vssleval, function)).parameters
        if whole and set(params) != set(real):
            wrong.append(f"{function}: documented {sorted(set(params) - set(real))} that it lacks, "
                         f"lacks {sorted(set(real) - set(params))}")
        for name, default in params.items():
            if name not in real:
                wrong.append(f"{function}: no parameter {name}")
            elif default not in (None, "...") and ast.literal_eval(default) != real[name].default:
                wrong.append(f"{function}({name}={default}): the function's default is {real[name].default!r}")
    assert wrong == []


# -- 4. YAML fragments quoted in the docs ----------------------------------------------------------
@cache
def model_yamls() -> dict[str, Any]:
    return {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in (ROOT / "configs" / "models").glob("*.yaml")}


@cache
def dataset_trees() -> list[Any]:
    from vssleval.data.readers import BASE_LAYOUTS

    configs = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in (ROOT / "configs" / "datasets").glob("*.yaml")]
    return configs + [{"options": defaults} for _, defaults in BASE_LAYOUTS.values()]


def _mappings(tree: Any) -> Iterator[dict]:
    if isinstance(tree, dict):
        yield tree
        for value in tree.values():
            yield from _mappings(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from _mappings(value)


def _within(want: Any, have: Any) -> bool:
    """``want`` is ``have`` or, for mappings, a part of it (numbers compared as numbers)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(k in have and _within(v, have[k]) for k, v in want.items())
    if isinstance(want, (int, float)) and isinstance(have, (int, float)) and not isinstance(have, bool):
        return float(want) == float(have)
    return want == have


def _placeholder(value: Any) -> bool:
    """Not a config value: a schema placeholder (``L``, ``[h, w]``, ``{mean, std}``, ``...``,
    ``images/<basename>``) or printed text (``coverage: 4,211 of 5,158 records ...``)."""
    if isinstance(value, dict):
        return any(_placeholder(v) for v in value.values())
    if isinstance(value, list):
        return any(_placeholder(v) for v in value)
    return value is None or (isinstance(value, str) and (len(value) <= 1 or value in ("...", "…")
                                                         or "<" in value or " " in value))


def yaml_fragments(name: str) -> Iterator[tuple[str, str, str, dict]]:
    """(section heading, subsection heading, fragment text, parsed) for every backticked
    ``key: value`` of a page."""
    heading = subheading = ""
    for part in re.split(r"(?m)^(#{2,3} .*)$", page(name)):
        if part.startswith("## "):
            heading, subheading = part, ""
            continue
        if part.startswith("### "):
            subheading = part
            continue
        for m in re.finditer(r"`([a-z_][a-z0-9_]*: [^`]+)`", part):
            text = " ".join(m.group(1).split())
            try:
                parsed = yaml.safe_load(text)
            except yaml.YAMLError:
                parsed = yaml.safe_load("{" + text + "}")  # `start: 0.0, duration_s: 3.0`
            if isinstance(parsed, dict) and not _placeholder(parsed):
                yield heading, subheading, text, parsed


#: Fragments of sections that other work is rewriting now; each is reported, not edited, here.
NOT_YET: dict[tuple[str, str], str] = {}


@pytest.mark.parametrize("name", ["docs/models.md", "docs/protocols.md", "docs/datasets.md", "README.md"])
def test_every_quoted_yaml_fragment_is_in_a_config(name):
    """A ``key: value`` fragment in a model's section of docs/models.md must be in that model's YAML
    (the models a heading names in backticks), and in a subsection about one preset (``### 5.4
    `native` preset``) in that preset's block; elsewhere in some model YAML (docs/datasets.md: some
    dataset YAML, reader default or model YAML)."""
    checked, wrong = 0, []
    for heading, subheading, text, fragment in yaml_fragments(name):
        if name == "docs/datasets.md":
            trees = dataset_trees() + list(model_yamls().values())
        else:
            named = [model_yamls()[n] for n in re.findall(r"`([a-z0-9-]+)`", heading) if n in model_yamls()]
            trees = named if name == "docs/models.md" and named else list(model_yamls().values())
            presets = re.findall(r"`(\w+)` preset", subheading)
            if name == "docs/models.md" and named and len(presets) == 1:
                trees = [m["presets"][presets[0]] for m in named]
        checked += 1
        if not any(_within(fragment, m) for tree in trees for m in _mappings(tree)) and (name, text) not in NOT_YET:
            wrong.append(f"{(subheading or heading).strip()}: `{text}`")
    assert checked >= {"docs/models.md": 100, "docs/protocols.md": 1, "docs/datasets.md": 2}.get(name, 0)
    assert wrong == []


# -- 5. tables checked row by row ------------------------------------------------------------------
#: The docs' names of the models (a naming convention, not a value).
DISPLAY = {"EZ-VSL": "ezvsl", "SLAVC": "slavc", "FNAC": "fnac", "LVS": "lvs", "SSL-Align": "sslalign",
           "SSL-TIE": "ssltie", "SACL": "sacl", "OGL prior": "ogl"}


def _table_rows(name: str, header: str) -> list[list[str]]:
    """The body rows of the first table of ``name`` whose header row starts with ``header``."""
    lines = page(name).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows


def _key_counts(model: str) -> tuple[int, dict[str, int]]:
    """The model's state-dict keys (built on the meta device): total and per top-level module."""
    from vssleval.models.registry import _expected_shapes

    keys = list(_expected_shapes(model))
    per: dict[str, int] = {}
    for k in keys:
        per[k.split(".")[0]] = per.get(k.split(".")[0], 0) + 1
    return len(keys), per


def test_state_dict_key_counts_in_models_md():
    """The key-count table of §2.7 and each "**N keys**" of a model's section."""
    rows = _table_rows("docs/models.md", "| model | keys | layout |")
    assert len(rows) >= 6
    for names, keys, _ in rows:
        for display in names.split(", "):
            total, per = _key_counts(DISPLAY[display])
            stated = [number(x) for x in keys.split("+")]
            assert (sum(stated) == total if len(stated) > 1 else stated[0] == total), (display, keys, total)
            if len(stated) > 1:
                assert sorted(stated) == sorted(per.values()), (display, keys, per)
    heading = ""
    for part in re.split(r"(?m)^(## .*)$", page("docs/models.md")):
        if part.startswith("## "):
            heading = part
            continue
        model = next((n for n in re.findall(r"`([a-z0-9-]+)`", heading) if n in model_yamls()), None)
        if model is None or model == "aclssl":  # §17.3 states its counts per part, checked in FACTS
            continue
        total, per = _key_counts(model)
        for m in re.finditer(r"\*\*(\d+) keys", part):
            assert int(m.group(1)) in {total, *per.values()}, (heading, m.group(0), total, per)


def test_vssl_eval_thresholds_in_protocols_md():
    """protocols.md §4.1 restates the thresholds with vssl_eval's commented alternatives (not in the
    code); the three active ones are the YAMLs'."""
    rows = _table_rows("docs/protocols.md", "| model | th_max | th_max10 | th_maxq3")
    assert len(rows) == len([m for m in model_yamls().values() if m.get("thresholds")])
    for display, t_max, t_max10, t_maxq3 in rows:
        active = model_yamls()[DISPLAY[display]]["thresholds"]
        assert [float(t_max), float(t_max10), float(t_maxq3.split()[0])] == [
            active["max"], active["max10"], active["maxq3"]], display


def test_protocol_table_in_protocols_md():
    """§10: what each protocol object declares (negatives required, OGL, boxes, catalog size)."""
    from vssleval.metrics.protocols import PROTOCOLS
    from vssleval.vocabulary import NEGATIVES

    header = "| part | `vssleval` | `juanola2025` | `native` (§11.3) |"
    rows = {r[0].split("`")[1]: r[1:] for r in _table_rows("docs/protocols.md", header) if r[0].startswith("`")}
    protocols = [PROTOCOLS[n] for n in ("vssleval", "juanola2025", "native")]
    words = {(): "none", tuple(NEGATIVES): "all three", True: "yes", False: "no"}
    for attribute in ("negatives_required", "needs_ogl", "needs_boxes"):
        for cell, protocol in zip(rows[attribute], protocols):
            value = getattr(protocol, attribute)
            assert cell.startswith(words[tuple(value) if isinstance(value, tuple) else value]), (attribute, cell)
    for cell, protocol in zip(rows["metrics"], protocols[:2]):
        n, sections = re.match(r"(\d+) rows in (\w+) sections?", cell).groups()
        assert (int(n), number(sections)) == (len(protocol.metrics), len(protocol.sections())), cell


def test_registered_datasets_table_in_datasets_md():
    """datasets.md §1.1: every registered dataset, its layout (and base layout), config file and, for
    the generated ones, the record count."""
    from vssleval.data.registry import list_datasets

    rows = _table_rows("docs/datasets.md", "| name | layout | ground truth |")
    assert sorted(r[0].strip("`") for r in rows) == sorted(list_datasets(ROOT / "configs" / "datasets"))
    for name, layout, _, records, config in rows:
        cfg = _dataset(name.strip("`"))
        named = re.findall(r"`(\w+)`", layout)
        assert named[0] == cfg["layout"] and named[1:] == ([cfg["options"]["base_layout"]] if named[1:] else []), name
        assert config == f"`{name.strip('`')}.yaml`"
        if "generated" in records:
            assert number(records.split()[0]) == cfg["synthetic"]["n"], name
            scenes = re.search(r"= (\d+) scenes", records)
            assert scenes is None or int(scenes.group(1)) * 2 == cfg["synthetic"]["n"], name


@pytest.mark.parametrize("name, sentence", [
    ("docs/metrics.md", r"`<k>_ci95_high` for every headline key `k` \(([^)]*)\)"),
    ("README.md", r"headline (.*?), each the mean over seeds with `_std` and a 95 % bootstrap interval"),
])
def test_interval_keys_listed_in_the_docs(name, sentence):
    """The keys that get ``_ci95_*`` intervals (``<neg>`` and ``<variant>`` standing for each negative
    and each audio variant) are the clean catalog's ``interval`` rows."""
    from vssleval.metrics.protocols import PROTOCOLS
    from vssleval.vocabulary import AUDIO_VARIANTS, NEGATIVES

    listed = re.search(sentence, flat(name)).group(1)
    expand = {"<neg>": NEGATIVES, "<variant>": AUDIO_VARIANTS}
    keys = set()
    for key in re.findall(r"`([^`]+)`", listed):
        holder = next((h for h in expand if h in key), None)
        keys |= {key.replace(holder, v) for v in expand[holder]} if holder else {key}
    assert keys == {m.key for m in PROTOCOLS["vssleval"].metrics if m.interval}


def test_spectrogram_frame_counts_in_models_md():
    """§3.4: hop and frame count of each row, and the other rates, from the front-end's own count."""
    from vssleval.frontends.spectrogram import num_frames

    nperseg = number(re.search(r"`nfft = nperseg = (\d+)`", flat("docs/models.md")).group(1))
    assert {f["nperseg"] for m in model_yamls().values() for f in _mappings(m) if "nperseg" in f} == {nperseg}
    rows = _table_rows("docs/models.md", "| clip | noverlap | hop | T at 16 kHz |")
    assert len(rows) == 4
    for clip, noverlap, hop, frames in rows:
        seconds = number(clip.split()[0])
        assert int(hop) == nperseg - int(noverlap)
        for t, rate in re.findall(r"(\d+)(?: at (\d+(?:\.\d+)?) kHz)?", frames):
            sr = float(rate) * 1000 if rate else 16000
            assert int(t) == num_frames(int(seconds * sr), nperseg, int(noverlap)), (clip, t, rate)


# -- 6. one stated constant each -------------------------------------------------------------------
def _yaml(model: str, *path: str) -> Any:
    node = model_yamls()[model]
    for key in path:
        node = node[key]
    return node


def _dataset(name: str) -> dict:
    """A dataset config as the registry resolves it (``extends`` applied)."""
    from vssleval.data.registry import get_config

    return get_config(name, ROOT / "configs" / "datasets")


def _limit_message(name: str, value: Any) -> str:
    from vssleval import limits

    with pytest.raises(vssleval.VsslevalError) as info:
        limits.check(name, value)
    return str(info.value)


def _torch_pin() -> tuple[str, str]:
    text = (ROOT / "scripts" / "setup_env.sh").read_text(encoding="utf-8")
    return re.search(r'VSSLEVAL_TORCH:-torch==(\S+) torchvision==(\S+)}"', text).groups()


def _option(name: str) -> run_options.Option:
    return next(o for o in run_options.RUN_OPTIONS if o.name == name)


def _hw() -> int:
    from vssleval.data.types import GT_SIZE

    return GT_SIZE * GT_SIZE


def _median_rule() -> tuple[int, int]:
    """(sorted index of the upper-median threshold, pixels selected) on a map without ties."""
    from vssleval.metrics.thresholds import binarize, upper_median_threshold

    ramp = np.arange(_hw(), dtype=np.float32).reshape(1, 224, 224)
    t = upper_median_threshold(ramp)
    return int(np.asarray(t).ravel()[0]), int(binarize(ramp, t).sum())


def _confidence_top() -> int:
    """How many values ``confidence`` averages: one pixel of 1 among zeros gives 1 / that number."""
    from vssleval.metrics.detection import confidence

    one = np.zeros((1, 224, 224))
    one[0, 0, 0] = 1.0
    return round(1 / float(confidence(one)[0]))


def _curve(fn: str, value: float) -> float:
    from vssleval.metrics import curves

    return getattr(curves, fn)(np.full(7, value))


def _grid_differs() -> str:
    from vssleval.metrics.curves import GRID

    return ", ".join(str(i) for i in range(len(GRID)) if GRID[i] != i / 20)


def _size_bins() -> list[float]:
    from vssleval.metrics.detection import SIZE_BINS

    return [SIZE_BINS[b][i] for b, i in (("small", 1), ("medium", 0), ("medium", 0), ("medium", 1),
                                         ("large", 0), ("large", 0), ("large", 1), ("huge", 0))]


def _bin_sides() -> list[float]:
    from vssleval.metrics.detection import SIZE_BINS

    return [math.sqrt(SIZE_BINS[b][1]) for b in ("small", "medium", "large")]


def _negatives_word(protocol: str) -> str:
    from vssleval.metrics.protocols import PROTOCOLS
    from vssleval.vocabulary import NEGATIVES

    return {tuple(NEGATIVES): "all three", (): "none"}[tuple(PROTOCOLS[protocol].default_negatives)]


def _default_out() -> str:
    from vssleval.commands._common import default_out

    args = argparse.Namespace(out=None, model_file=None, model="<model>", dataset="<dataset>", preset="<preset>",
                              protocol="<protocol>")
    return default_out(args).as_posix()


def _mel_zero_filters(sample_rate: int) -> int:
    from vssleval.frontends.mel import mel_filterbank

    n_fft, n_mels = _yaml("ssltie", "presets", "native", "audio", "frontend", "n_fft"), 257
    bank = mel_filterbank(n_fft // 2 + 1, n_mels, sample_rate)
    return int((bank.abs().sum(0) == 0).sum())


def _mel_frames(seconds: float, sample_rate: int) -> int:
    import torch

    from vssleval.frontends.mel import mel_spectrogram

    return mel_spectrogram(torch.zeros(int(seconds * sample_rate)), sample_rate).shape[-1]


def _vggish_shape() -> tuple[int, ...]:
    import torch

    from vssleval.frontends.vggish import vggish_examples

    return tuple(vggish_examples(torch.zeros(48000, dtype=torch.float64)).shape)


def _fbank(arg: str) -> Any:
    from vssleval.frontends.fbank import kaldi_fbank

    return inspect.signature(kaldi_fbank).parameters[arg].default


def _fbank_frames() -> int:
    import torch

    from vssleval.frontends.fbank import kaldi_fbank

    return kaldi_fbank(torch.zeros(160000), num_mel_bins=_aclssl_frontend()["num_mel_bins"]).shape[0]


def _aclssl_frontend() -> dict:
    return _yaml("aclssl", "presets", "native", "audio", "frontend")


def _povey_power(doc_power: float) -> float:
    """``doc_power`` when the povey window is the symmetric Hann window to that power."""
    import torch

    from vssleval.frontends.fbank import povey_window

    hann = torch.hann_window(9, periodic=False, dtype=torch.float64)
    assert torch.allclose(povey_window(9, torch.float64), hann.pow(doc_power))
    return doc_power


def _aclssl_part_keys() -> dict[str, int]:
    from vssleval.models.registry import _expected_shapes

    keys = list(_expected_shapes("aclssl"))
    return {p: sum(k.startswith(p) for k in keys) for p in ("acl.audio_proj.", "acl.masker_i.", "beats.", "clipseg.")}


def _one(module: str, attr: str, times: int = 1) -> Callable[[], tuple]:
    """The code's value for a fact stating one constant (``times`` times)."""
    return lambda: (getattr(importlib.import_module(module), attr),) * times


def _is(module: str, attr: str) -> Callable[[], Any]:
    def value() -> Any:
        return getattr(importlib.import_module(module), attr)

    return value


_M = "vssleval.metrics"
#: (id, page, pattern with one group per stated value (``NUM``: a number), the code's values). Each pattern
#: is anchored on the sentence that states the value, so a reworded sentence fails here and is updated with it.
FACTS: list[tuple[str, str, str, Callable[[], tuple]]] = [
    # README.md
    ("readme-torch-pin", "README.md", r"`pip install torch==(\S+) torchvision==(\S+)`", _torch_pin),
    ("readme-python", "README.md", r"On a fresh machine with only Python ≥ NUM:",
     lambda: (pyproject()["project"]["requires-python"].lstrip(">="),)),
    ("readme-bundle-size", "README.md", r"a compact fixture bundle committed under `tests/fixtures/` \(NUM MB, "
     r"rebuilt by `scripts/make_test_fixtures\.py`", lambda: (round(_bundle_bytes() / 1e6, 1),)),
    ("readme-protocol-default", "README.md", r"`--protocol (\w+)\|juanola2025\|native`: clean metrics \(default\)",
     lambda: (_option("protocol").default,)),
    ("readme-benchmark-size", "README.md", r"generates the embedded benchmark \((\d+) synthetic samples in the "
     r"VGG-SS layout and (\d+) in the IS3 layout, (\d+) sound/object classes",
     lambda: (_dataset("synthetic-vggss")["synthetic"]["n"], _dataset("synthetic-is3")["synthetic"]["n"],
              len(_is("vssleval.data.synthetic.classes", "CLASSES")()))),
    ("readme-cache-env", "README.md", r"cached under `~/\.cache/vssleval/`; `\$(\w+)` overrides",
     _one("vssleval.data.synthetic.cache", "CACHE_ENV")),
    ("readme-main-job-seeds", "README.md", r"with all three negatives and (\d+) seeds, and writes",
     lambda: (int(re.search(r'"--seeds", type=int, default=(\d+)', (ROOT / "scripts" / "main_job.py").read_text())
                  .group(1)),)),
    ("readme-leaderboard-resamples", "README.md", r"\[95 % bootstrap interval over samples, (\d+) resamples\]",
     lambda: (_option("bootstrap").default,)),
    ("readme-compare-permutations", "README.md", r"p = 0\.001 \((\d+) permutations\)",
     lambda: (cli_flags()["--bootstrap"]["compare"].default,)),
    ("readme-prepare-frame", "README.md", r"the frame shown at (\d+) s — the middle frame VGG-SS annotates — as "
     r"`frames/<id>\.jpg`, and the clip's first (\d+) s of audio as a (\d+)-kHz mono wav",
     lambda: (_is("vssleval.data.prepare.vggss", "WINDOW_S")() / 2, _is("vssleval.data.prepare.vggss", "WINDOW_S")(),
              _is("vssleval.data.prepare.vggss", "SAMPLE_RATE")() / 1000)),
    ("readme-min-audio", "README.md", r"too short \(< NUM s\)", lambda: (_is("vssleval.data.checks",
                                                                               "MIN_AUDIO_SECONDS")(),)),
    ("readme-min-resamples", "README.md", r"A bootstrap interval is printed only from at least (\d+) resamples",
     _one(f"{_M}.resampling", "MIN_RESAMPLES")),
    ("readme-default-out", "README.md", r"`--out DIR` \(default `([^`]+)`\)", lambda: (_default_out(),)),
    ("readme-compat-lines", "README.md", r"`metrics/<model>_<testset>\.txt` \((\d+) lines\)",
     lambda: (len(_is(f"{_M}.protocols.juanola2025", "metric_keys")()()),)),
    # docs/api.md
    ("api-recorded-names", "docs/api.md", r"keeps two older names: `neg` is recorded as `(\w+)`, `workers` as "
     r"`(\w+)`", lambda: (_option("neg").record, _option("workers").record)),
    ("api-default-out", "docs/api.md", r"`out` defaults to `([^`]+)` on the command line", lambda: (_default_out(),)),
    ("api-batch-size", "docs/api.md", r"`batch_size=None` is (\d+)", lambda: (run_options.DEFAULT_BATCH_SIZE,)),
    ("api-overlays", "docs/api.md", r"`infer --overlays` draws (\d+) figures on the command line, (none) in the API",
     lambda: (_option("overlays").cli_default, {0: "none"}.get(_option("overlays").default))),
    ("api-preset", "docs/api.md", r'`preset`: `"(\w+)"` \(default\)',
     _one("vssleval.vocabulary", "DEFAULT_PRESET")),
    ("api-negatives", "docs/api.md", r"\(default: the protocol's, i\.e\. (all three), or (none) under `native`\)",
     lambda: (_negatives_word("vssleval"), _negatives_word("native"))),
    ("api-memory-scores", "docs/api.md", r"\| scores, ids and per-sample rows \| S x N x (\d+) KiB \|",
     lambda: (_is("vssleval.limits", "PER_SEED_SAMPLE")() // 1024,)),
    ("api-memory-batch", "docs/api.md", r"\| min\(B, N\) x S x (\d+) MiB \|",
     lambda: (_is("vssleval.limits", "PER_BATCH_SEED")() // 2 ** 20,)),
    ("api-memory-bank", "docs/api.md", r"\| noise bank of K clips \| K x S x (\d+) KiB \|",
     lambda: (_is("vssleval.limits", "PER_BANK_CLIP")() // 1024,)),
    ("api-memory-bootstrap", "docs/api.md", r"\| bootstrap \| R x \((\d+) B x N \+ (\d+) B x S\) \|",
     lambda: tuple(sum(_is("vssleval.limits", "bootstrap_bytes")()(n, s, 1).values()) for n, s in ((1, 0), (0, 1)))),
    ("api-memory-synth", "docs/api.md", r"\| `synth --n` \| n x (\d+) KiB of memory, n x (\d+) kB of disk",
     lambda: (_is("vssleval.limits", "PER_SYNTH_RECORD")() // 1024,
              _is("vssleval.limits", "SYNTH_RECORD_DISK")() / 1000)),
    ("api-memory-training", "docs/api.md", r"\| training data \| (\d+) KiB per picture \+ (\d+) KiB per record \|",
     lambda: (_is("vssleval.limits", "PER_TRAIN_PICTURE")() / 1024,
              _is("vssleval.limits", "PER_TRAIN_RECORD")() / 1024)),
    ("api-limit-message", "docs/api.md", r"\(`(--overlays must be >= 0 and <= 100, got -1) \(\.\.\.\)`\)",
     lambda: (_limit_message("overlays", -1).split(" (")[0],)),
    ("api-limit-message-2", "docs/api.md", r"\(`(--limit must be >= 1) \.\.\.`\)",
     lambda: (_limit_message("limit", 0).split(", got")[0],)),
    # docs/metrics.md
    ("metrics-grid", "docs/metrics.md", r"evaluated on a \*\*(\d+) × (\d+)\*\* grid, HW = ([\d ]+) pixels",
     lambda: (_is("vssleval.data.types", "GT_SIZE")(), _is("vssleval.data.types", "GT_SIZE")(), _hw())),
    ("metrics-median-rule", "docs/metrics.md", r"\| LVS `test\.py` \| OpenCV bilinear \(`INTER_LINEAR`\) \| "
     r"per-image min-max \| value at ascending sorted index ([\d ]+) = HW/2 \| `>` \| ([\d ]+) \|", _median_rule),
    ("metrics-ogl-alpha", "docs/metrics.md", r"blend α·AV \+ \(1 − α\)·OBJ with α = NUM and min-max the result",
     _one(f"{_M}.protocols.vssleval", "OGL_ALPHA")),
    ("metrics-auc-grid", "docs/metrics.md", r"at the (\d+) thresholds t_i = NUM · i, i = 0 … (\d+)",
     lambda: (len(_is(f"{_M}.curves", "GRID")()), _is(f"{_M}.curves", "GRID")()[1],
              len(_is(f"{_M}.curves", "GRID")()) - 1)),
    ("metrics-grid-float", "docs/metrics.md", r"For i ∈ \{([\d, ]+)\} the two differ: 0\.05 · 3 = NUM,",
     lambda: (_grid_differs(), repr(float(_is(f"{_M}.curves", "GRID")()[3])))),
    ("metrics-auc-zero", "docs/metrics.md", r"Special values: all cIoUs 0 → AUC = NUM", lambda: (_curve("auc", 0),)),
    ("metrics-aoc-ends", "docs/metrics.md", r"all pIA = 0 gives (\d+) and all pIA = 1 gives NUM",
     lambda: (_curve("aoc", 0), _curve("aoc", 1))),
    ("metrics-test-vectors", "docs/metrics.md", r"All cIoUs 0 → AUC NUM; all pIA 0 → AOC (\d+); all pIA 1 → AOC "
     r"NUM", lambda: (_curve("auc", 0), _curve("aoc", 0), _curve("aoc", 1))),
    ("metrics-confidence", "docs/metrics.md", r"the HW // 4 = ([\d ]+) largest of ([\d ]+),",
     lambda: (_confidence_top(), _hw())),
    ("metrics-iou-thresholds", "docs/metrics.md", r"θ ∈ \{NUM, NUM\}; both are reported",
     lambda: inspect.signature(_is(f"{_M}.detection", "extended_metrics")()).parameters["thetas"].default),
    ("metrics-ap-stride", "docs/metrics.md", r"k = max\(1, ⌊n / (\d+)⌋\)", _one(f"{_M}.detection", "AP_STEP")),
    ("metrics-f1-stride", "docs/metrics.md", r"m = max\(1, ⌊n / (\d+)⌋\)", _one(f"{_M}.detection", "F1_STEP")),
    ("metrics-size-bins", "docs/metrics.md", r"small \[0, 32²\) = \[0, ([\d ]+)\); medium \[([\d ]+), 96²\) = "
     r"\[([\d ]+), ([\d ]+)\); large \[([\d ]+), 144²\) = \[([\d ]+), ([\d ]+)\); huge \[([\d ]+), 10 000²\)",
     lambda: tuple(_size_bins())),
    ("metrics-size-bins-data", "docs/metrics.md",
     r"\(`vssleval\.data\.SIZE_BINS` uses (\+∞) as the upper end of `huge`",
     lambda: ({math.inf: "+∞"}.get(_is("vssleval.data", "SIZE_BINS")()["huge"][1]),)),
    ("metrics-calibration", "docs/metrics.md", r"plus one point NUM below the smallest and one NUM above the "
     r"largest", _one(f"{_M}.calibration", "OUTER_MARGIN", times=2)),
    ("metrics-calibration-rule", "docs/metrics.md", r"Rule `(\w+)` \(default\) maximises TPR − FPR",
     lambda: (inspect.signature(_is(f"{_M}.calibration", "calibrate_threshold")()).parameters["rule"].default,)),
    ("metrics-accumulator", "docs/metrics.md", r'acc = Accumulator\(protocol="(\w+)", thresholds=\{\.\.\.\}, '
     r'upsample="(\w+)", seeds=\[\.\.\.\], bootstrap=(\d+)\)',
     lambda: (inspect.signature(_is(_M, "Accumulator")()).parameters["protocol"].default, _accumulator_upsample(),
              inspect.signature(_is(_M, "Accumulator")()).parameters["bootstrap"].default)),
    ("metrics-accumulator-upsample", "docs/metrics.md", r"`vssleval` takes one op for every variant \(default "
     r"`(\w+)`\)", lambda: (_accumulator_upsample(),)),
    ("metrics-schema", "docs/metrics.md", r"`schema_version` \((\d+)\)",
     _one(f"{_M}.accumulator", "SCHEMA_VERSION")),
    ("metrics-bootstrap-keys", "docs/metrics.md", r"`--bootstrap` resamples, default (\d+); 0 = keys and block absent; "
     r"1 to (\d+) = keys absent",
     lambda: (_option("bootstrap").default, _is(f"{_M}.resampling", "MIN_RESAMPLES")() - 1)),
    ("metrics-compat-keys", "docs/metrics.md", r"the (\d+) keys of vssl_eval's text file .* the text file and the "
     r"(\d+) `\.npy` dumps go under `metrics/`", lambda: (len(_is(f"{_M}.protocols.juanola2025", "metric_keys")()()),
                                                          len(_is(f"{_M}.protocols.juanola2025", "MAX_MIN_FILES")()))),
    ("metrics-bootstrap-rng", "docs/metrics.md", r"with replacement from `numpy\.random\.default_rng\((\d+)\)`",
     _one(f"{_M}.resampling", "DEFAULT_SEED")),
    ("metrics-fewest-resamples", "docs/metrics.md", r"\*\*Fewest resamples: (\d+)\.\*\*",
     _one(f"{_M}.resampling", "MIN_RESAMPLES")),
    ("metrics-tail-rule", "docs/metrics.md", r"asks for at least (\d+) draws beyond each end.* B >= (\d+) / NUM = "
     r"(\d+) \(`vssleval\.metrics\.resampling\.MIN_RESAMPLES`",
     lambda: (_is(f"{_M}.resampling", "TAIL_DRAWS")(), _is(f"{_M}.resampling", "TAIL_DRAWS")(),
              (1 - _is(f"{_M}.resampling", "LEVEL")()) / 2, _is(f"{_M}.resampling", "MIN_RESAMPLES")())),
    ("metrics-size-breakdown", "docs/metrics.md",
     r"small < (\d+)², medium \d+²–(\d+)², large \d+²–(\d+)², huge",
     lambda: tuple(_bin_sides())),
    # docs/protocols.md
    ("protocols-default", "docs/protocols.md", r"\* \*\*`(\w+)`\*\* \(default\): every metric has one rule",
     lambda: (_option("protocol").default,)),
    ("protocols-compat-files", "docs/protocols.md", r"writing the same `metrics/<model>_<testset>\.txt` \((\d+) "
     r"`Key: value` lines, 2 decimals, ×100 except Max/Min\) and (\d+) `metrics/max_min/\*\.npy` dumps",
     lambda: (len(_is(f"{_M}.protocols.juanola2025", "metric_keys")()()),
              len(_is(f"{_M}.protocols.juanola2025", "MAX_MIN_FILES")()))),
    ("protocols-seed-count", "docs/protocols.md", r"S = (\d+) seed repetitions",
     lambda: (len(_is("vssleval.engine.spec", "PROTOCOL_SEEDS")()),)),
    ("protocols-seeds", "docs/protocols.md", r"`random_seeds = \[([\d, ]+)\]`",
     lambda: (", ".join(map(str, _is("vssleval.engine.spec", "PROTOCOL_SEEDS")())),)),
    ("protocols-more-seeds", "docs/protocols.md", r"uses the first K of vssl_eval's ten values above, then (\d+), "
     r"(\d+), …", lambda: tuple(_is("vssleval.engine.spec", "seed_list")()(12)[10:])),
    ("protocols-streams", "docs/protocols.md", r"Streams: (\d+) = the sample's noise, (\d+) = its offscreen draw, "
     r"(\d+) = which noise-bank slot it hears, (\d+) = the noise-bank clips",
     lambda: tuple(_is("vssleval.data.negatives", n)() for n in ("NOISE_STREAM", "OFFSCREEN_STREAM",
                                                                 "BANK_ASSIGN_STREAM", "BANK_NOISE_STREAM"))),
    ("protocols-compat-alpha", "docs/protocols.md", r"Bₓ = α·Nₓ \+ \(1 − α\)·O, α = NUM, on raw scales",
     _one(f"{_M}.protocols.juanola2025", "QUIRK_OGL_ALPHA")),
    ("protocols-median-index", "docs/protocols.md",
     r"t_med\(M\) = sort\(M\)\[([\d ]+)\], ([\d ]+) = int\(([\d ]+) / 2\)",
     lambda: (_hw() // 2, _hw() // 2, _hw())),
    ("protocols-fixed-threshold", "docs/protocols.md", r"\*\*Fixed\*\*: `--threshold` = NUM, used for",
     _one(f"{_M}.protocols.juanola2025", "QUIRK_FIXED_THRESHOLD")),
    ("protocols-auc-zero", "docs/protocols.md", r"all-zero IoUs give NUM \(NUM after ×100\)",
     lambda: (_curve("auc", 0), 100 * _curve("auc", 0))),
    ("protocols-quirk-11", "docs/protocols.md", r"\*\*OGL unnormalised\*\*: NUM·raw AV \+ NUM·raw "
     r"mean\|feature\|.* Clean: min-max each map, blend with α = NUM, min-max again; only rank",
     lambda: (_is(f"{_M}.protocols.juanola2025", "QUIRK_OGL_ALPHA")(),
              1 - _is(f"{_M}.protocols.juanola2025", "QUIRK_OGL_ALPHA")(),
              _is(f"{_M}.protocols.vssleval", "OGL_ALPHA")())),
    ("protocols-quirk-12", "docs/protocols.md", r"\*\*Fixed NUM means different things per family\*\*",
     _one(f"{_M}.protocols.juanola2025", "QUIRK_FIXED_THRESHOLD")),
    ("protocols-quirk-table-ogl", "docs/protocols.md", r"\| `NUM·AV \+ NUM·OBJ` on raw scales \(float32\), "
     r"thresholds compared on that blend \| min-max each map, blend with α = NUM, min-max again",
     lambda: (_is(f"{_M}.protocols.juanola2025", "QUIRK_OGL_ALPHA")(),
              1 - _is(f"{_M}.protocols.juanola2025", "QUIRK_OGL_ALPHA")(),
              _is(f"{_M}.protocols.vssleval", "OGL_ALPHA")())),
    ("protocols-clean-ogl", "docs/protocols.md", r"\*\*OGL\*\*: min-max normalise the upsampled AV and object maps, "
     r"blend with α = NUM, min-max again", _one(f"{_M}.protocols.vssleval", "OGL_ALPHA")),
    ("protocols-accumulator-op", "docs/protocols.md", r"`Accumulator` defaults to `(\w+)`",
     lambda: (_accumulator_upsample(),)),
    ("protocols-aggregation", "docs/protocols.md", r"for every headline metric the catalog marks `interval` "
     r"\(docs/metrics\.md §11\.1, §12; default (\d+) resamples, generator seed (\d+)\)",
     lambda: (_option("bootstrap").default, _is(f"{_M}.resampling", "DEFAULT_SEED")())),
    ("protocols-run-defaults", "docs/protocols.md", r"default to preset `(\w+)` \(the inputs vssl_eval gives each "
     r"model\), protocol `(\w+)`, (all three) negatives, (\d+) seeds \(§2\.5\), (no) noise bank, batch size (\d+), "
     r"data loading in the main process \((\d+) workers\) and device `(\w+)`; the CLI's default dataset is the "
     r"embedded `([\w-]+)`", lambda: (_is("vssleval.vocabulary", "DEFAULT_PRESET")(), _option("protocol").default,
                                      _negatives_word(_option("protocol").default), _option("seeds").default,
                                      _option("noise_bank").default, _option("batch_size").default,
                                      _option("workers").default, _option("device").default,
                                      _option("dataset").default)),
    ("protocols-slavc-tau", "docs/protocols.md", r"\| `slavc` \| torch bicubic, align_corners=True \| fixed range "
     r"\(x \+ 1/τ\)/\(2/τ\), τ = NUM;", _one(f"{_M}.protocols.native.slavc", "TAU")),
    ("protocols-sacl-threshold", "docs/protocols.md", r"\| `sacl` \| OpenCV linear \| \(x − min\)/ptp\(x\), no flat "
     r"guard \(flat → NaN\) \| `>= NUM` on the normalised map",
     _one(f"{_M}.protocols.native.sacl", "THRESHOLD")),
    ("protocols-aclssl-table", "docs/protocols.md", r"\| sigmoid; no min-max \| `>=` each of NUM, NUM, …, "
     r"NUM \(headline NUM\)", lambda: _aclssl_thresholds()[:3] + _aclssl_thresholds()[4:]),
    ("protocols-aclssl-sweep", "docs/protocols.md", r"one evaluator for each of (\d+) absolute values NUM, "
     r"NUM, …, NUM and prints", lambda: (len(_is(f"{_M}.protocols.native.aclssl", "THRESHOLDS")()),)
     + _aclssl_thresholds()[:3]),
    ("protocols-aclssl-headline", "docs/protocols.md", r"The headline `ciou` / `auc` are the values at `t = NUM`",
     _one(f"{_M}.protocols.native.aclssl", "HEADLINE_THRESHOLD")),
    # docs/models.md
    ("models-default-preset", "docs/models.md", r"The default preset is `(\w+)` "
     r"\(`vssleval\.models\.registry\.DEFAULT_PRESET`\)",
     _one("vssleval.models.registry", "DEFAULT_PRESET")),
    ("models-synth-tau", "docs/models.md", r"\(data seed, split, steps, learning rate, \*\*τ = NUM\*\*, …\)",
     lambda: (json.loads((ROOT / "checkpoints" / "synth-ezvsl.json").read_text())["config"]["tau"],)),
    ("models-tower-keys", "docs/models.md", r"Each tower contributes \*\*(\d+) state-dict keys\*\*.* That is \*\*(\d+) "
     r"keys per tower\*\*.* its image tower has \*\*exactly torchvision's (\d+) keys\*\*",
     lambda: (_key_counts("ezvsl")[1]["imgnet"], _key_counts("lvs")[1]["imgnet"], _key_counts("sacl")[1]["imgnet"])),
    ("models-imagenet", "docs/models.md", r"ImageNet values \*\*mean \[([\d., ]+)\], std \[([\d., ]+)\]\*\*",
     lambda: tuple(", ".join(map(str, _is("vssleval.frontends.image", n)()))
                   for n in ("IMAGENET_MEAN", "IMAGENET_STD"))),
    ("models-mel-frames", "docs/models.md",
     r"output `\[1, 257, T\]` with \*\*T = 1 \+ N // (\d+)\*\*, i\.e\. (\d+) for "
     r"10 s at 16 kHz \((\d+) at 22\.05 kHz\)",
     lambda: (_yaml("ssltie", "presets", "native", "audio", "frontend", "hop_length"), _mel_frames(10, 16000),
              _mel_frames(10, 22050))),
    ("models-mel-empty-filters", "docs/models.md",
     r"\*\*(\d+) of the 257 filters are all zero at 16 kHz\*\* \((\d+) at "
     r"22\.05 kHz\)", lambda: (_mel_zero_filters(16000), _mel_zero_filters(22050))),
    ("models-vggish-frames", "docs/models.md", r"frames of \*\*(\d+) samples \((\d+) ms\)\*\* every \*\*(\d+) samples "
     r"\((\d+) ms\)\*\*", lambda: _vggish_frames()),
    ("models-vggish-mel", "docs/models.md", r"\*\*(\d+) mel bands between (\d+) and (\d+) Hz\*\*.* `ln\(mel \+ NUM\)`",
     lambda: tuple(_is("vssleval.frontends.vggish", n)() for n in ("NUM_MEL", "MEL_LO_HZ", "MEL_HI_HZ", "LOG_OFFSET"))),
    ("models-vggish-examples", "docs/models.md", r"non-overlapping examples of \*\*(\d+) frames \(NUM s\)\*\*.* A "
     r"3-s clip gives (\d+) frames, i\.e\. `\[(\d+), (\d+), (\d+)\]`",
     lambda: (round(_is("vssleval.frontends.vggish", "EXAMPLE_S")() / _is("vssleval.frontends.vggish", "HOP_S")()),
              _is("vssleval.frontends.vggish", "EXAMPLE_S")(), 1 + (48000 - 400) // 160) + _vggish_shape()),
    ("models-aclssl-keys", "docs/models.md", r"\| `acl` \| `Param_best\.pth` \| .*? \| (\d+) \+ (\d+) \|.*?\| `beats` "
     r"\| .*? \| (\d+) used \+ the 2 `predictor\.\*` keys .*?\| `clipseg` \| .*? \| (\d+) \(\+ 2 `position_ids`",
     lambda: tuple(_aclssl_part_keys().values())),
    ("models-fbank", "docs/models.md", r"with (\d+) bins and otherwise default options: (\d+)-ms frames every (\d+) ms "
     r"without padding \((\d+) frames for 10 s\), no dither, per-frame DC removal, pre-emphasis NUM \(first "
     r"sample replicated\), the povey window \(symmetric Hann to the power NUM\)",
     lambda: (_aclssl_frontend()["num_mel_bins"], _fbank("frame_length_ms"), _fbank("frame_shift_ms"), _fbank_frames(),
              _fbank("preemphasis"), _povey_power(number(re.search(r"Hann to the power (\d+(?:\.\d+)?)",
                                                                    flat("docs/models.md")).group(1))))),
    ("models-fbank-range", "docs/models.md", r"mel = 1127 ln\(1 \+ f/700\), (\d+) Hz to Nyquist",
     lambda: (_fbank("low_freq"),)),
    ("models-fbank-scale", "docs/models.md", r"the waveform times `input_scale` (\d+)",
     lambda: (_aclssl_frontend()["input_scale"],)),
    # docs/datasets.md
    ("datasets-grid", "docs/datasets.md", r"the \*\*(\d+) × (\d+)\*\* evaluation grid \(`GT_SIZE = (\d+)`\)",
     _one("vssleval.data.types", "GT_SIZE", times=3)),
    ("datasets-synthetic", "docs/datasets.md", r"(\d+) records each, seed (\d+), split `(\w+)` \(`synthetic: \{layout, "
     r"n: (\d+), seed: (\d+)\}` in the YAML\)",
     lambda: (_is("vssleval.data.synthetic.cache", "DEFAULT_N")(), _is("vssleval.data.synthetic.cache",
                                                                          "DEFAULT_TEST_SEED")(), "test",
              _dataset("synthetic-vggss")["synthetic"]["n"], _dataset("synthetic-vggss")["synthetic"]["seed"])),
    ("datasets-synthetic-version", "docs/datasets.md", r"-v<generator version>` \(version (\d+)\)",
     _one("vssleval.data.synthetic.generate", "GENERATOR_VERSION")),
    ("datasets-synthetic-disk", "docs/datasets.md", r"a disk with less free space than n × (\d+) kB",
     lambda: (_is("vssleval.limits", "SYNTH_RECORD_DISK")() / 1000,)),
    ("datasets-synthetic-media", "docs/datasets.md", r"(\d+) classes, each a distinct shape/texture and a distinct "
     r"sound; audio is (\d+) s at (\d+) kHz; pictures are (\d+) × (\d+)",
     lambda: (len(_is("vssleval.data.synthetic.classes", "CLASSES")()), _is("vssleval.data.synthetic.sound",
                                                                              "DURATION_S")(),
              _is("vssleval.data.synthetic.sound", "SR")() / 1000, _is("vssleval.data.synthetic.render", "SIZE")(),
              _is("vssleval.data.synthetic.render", "SIZE")())),
    ("datasets-synthetic-areas", "docs/datasets.md",
     r"small ([\d ]+)–([\d ]+) px², medium ([\d ]+)–([\d ]+), large "
     r"([\d ]+)–([\d ]+), huge ([\d ]+)–([\d ]+),",
     lambda: tuple(v for b in ("small", "medium", "large", "huge")
                   for v in _is("vssleval.data.synthetic.generate", "AREA_RANGES")()[b])),
    ("datasets-synthetic-is3", "docs/datasets.md", r"two objects per picture, each covering NUM–NUM of the "
     r"image, (\d+) px apart; names `<objA>_<objB>_<(\d+) \+ scene>_<target>`",
     lambda: _is("vssleval.data.synthetic.generate", "IS3_AREA_FRACTION")() + (
         _is("vssleval.data.synthetic.generate", "IS3_GAP")(), _is("vssleval.data.synthetic.generate",
                                                                   "IS3_SCENE_BASE")())),
    ("datasets-min-audio", "docs/datasets.md", r"hold at least \*\*NUM s\*\* \(`MIN_AUDIO_SECONDS`",
     _one("vssleval.data.checks", "MIN_AUDIO_SECONDS")),
    ("datasets-name-limits", "docs/datasets.md", r"(\d+) and (\d+) where the system does not say",
     lambda: (_is("vssleval.data.checks", "FALLBACK_NAME_MAX")(), _is("vssleval.data.checks", "FALLBACK_PATH_MAX")())),
    ("datasets-csv-limit", "docs/datasets.md", r"a field over the `csv` module's (\d+) KiB limit",
     lambda: (csv.field_size_limit() // 1024,)),
    ("datasets-skipped-columns", "docs/datasets.md", r"the full list goes to `skipped\.csv` in the run folder "
     r"\(`([\w,]+)`\)", lambda: (",".join(_is("vssleval.data.checks", "SKIP_COLUMNS")()),)),
    ("datasets-prepare-columns", "docs/datasets.md", r"`missing\.csv` and `bad\.csv` \(columns `([\w,]+)`, the "
     r"`skipped\.csv` format of §8\)", lambda: (",".join(_is("vssleval.data.checks", "SKIP_COLUMNS")()),)),
    ("datasets-prepare-summary", "docs/datasets.md", r"names the first (\w+) unreadable ones",
     _one("vssleval.data.prepare.common", "SHOWN_BAD")),
    ("datasets-prepare-frame", "docs/datasets.md", r"\*\*NUM s after the first video frame\*\*",
     lambda: (_is("vssleval.data.prepare.vggss", "WINDOW_S")() / 2,)),
    ("datasets-prepare-jpeg", "docs/datasets.md", r"written at its own size as a JPEG of quality (\d+) \(Pillow",
     _one("vssleval.data.prepare.vggss", "JPEG_QUALITY")),
    ("datasets-prepare-audio", "docs/datasets.md", r"\*\*The audio: the first (\d+) s, (\d+) kHz, mono\.\*\*.* so the "
     r"wav is written at \*\*(\d+) kHz\*\*",
     lambda: (_is("vssleval.data.prepare.vggss", "WINDOW_S")(),) + (_is("vssleval.data.prepare.vggss",
                                                                         "SAMPLE_RATE")() / 1000,) * 2),
    ("datasets-bad-clips", "docs/datasets.md", r"covers less than (\d+) s − NUM s and the file declares",
     lambda: (_is("vssleval.data.prepare.vggss", "WINDOW_S")(), _is("vssleval.data.prepare.clips",
                                                                     "SHORT_TOLERANCE_S")())),
    ("datasets-vfr", "docs/datasets.md", r"frame durations differ by more than max\((\d+) time-base ticks, (\d+) % of "
     r"the median\)", lambda: (_is("vssleval.data.prepare.clips", "VFR_TICKS")(),
                                100 * _is("vssleval.data.prepare.clips", "VFR_FRACTION")())),
    ("datasets-channels", "docs/datasets.md", r"\| `multichannel_audio` \| more than (\d+) channels",
     _one("vssleval.data.prepare.clips", "MAX_CHANNELS")),
    ("datasets-flickr-jpeg", "docs/datasets.md", r"A picture that is not a JPEG is re-encoded at quality (\d+)",
     _one("vssleval.data.prepare.flickr", "JPEG_QUALITY")),
    ("datasets-video", "docs/datasets.md", r"\(H\.264 `crf (\d+)`, 4:2:0, (\d+) fps, and AAC at (\d+) kHz mono\)",
     lambda: (_is("vssleval.data.synthetic.video", "CRF")(), _is("vssleval.data.synthetic.video", "FPS")(),
              _is("vssleval.data.synthetic.sound", "SR")() / 1000)),
    ("datasets-video-shift", "docs/datasets.md", r"shifted sideways by (\d+) px per frame of distance from frame (\d+) "
     r"\(the frame at (\d+) s\)", lambda: (_is("vssleval.data.synthetic.video", "SHIFT_PX")(),
                                           _is("vssleval.data.synthetic.video", "FPS")() * _half_clip(), _half_clip())),
    # docs/report.md
    ("report-summary-columns", "docs/report.md", r"\| `summary\.csv` \| `([\w,]+)` for every number",
     lambda: (",".join(_is("vssleval.report.tables", "SUMMARY_COLUMNS")()),)),
    ("report-compare-columns", "docs/report.md", r"written to `DIR/compare\.csv` \(`([\w, ]+)`; the labels",
     lambda: (",".join(_is("vssleval.report.compare", "COMPARE_COLUMNS")()),)),
    ("report-format", "docs/report.md", r"`--format ([\w,]+)` \(leaderboard files; `none` for no leaderboard\)",
     lambda: (cli_flags()["--format"]["report"].default,)),
    ("report-owner-file", "docs/report.md", r"else the run named in `([\w.-]+)` \(written by `evaluate` and",
     _one("vssleval.engine.store.ownership", "OWNER_FILE")),
    ("report-slug", "docs/report.md", r"its safe characters, at most (\d+), and a hash of the label",
     _one("vssleval.report.runs", "SLUG_CHARS")),
    ("report-label-sha", "docs/report.md", r"`checkpoint sha256` \(its first (\d+) hex digits, when two checkpoints",
     _one("vssleval.report.labels", "SHA_DIGITS")),
    ("report-data-digest", "docs/report.md", r"the first (\d+) hex digits of its data digest",
     _one("vssleval.fingerprint", "SHORT")),
    ("report-classes", "docs/report.md", r"the report shows the (\d+) best and (\d+) worst by cIoU@0\.5",
     _one("vssleval.report.breakdowns", "SHOWN_CLASSES", times=2)),
    ("report-few-resamples", "docs/report.md", r"or with fewer than (\d+) resamples \(too few for a 95 % interval",
     _one(f"{_M}.resampling", "MIN_RESAMPLES")),
    ("report-compare-few", "docs/report.md", r"Below (\d+) resamples no interval is given",
     _one(f"{_M}.resampling", "MIN_RESAMPLES")),
    ("report-store-format", "docs/report.md", r'`config\.json` records `store_format` as `\{"version": (\d+), '
     r'"vssleval": .*? and `COMPLETE` records `store_format` \((\d+)\).*? reads store format (\d+) only',
     _one("vssleval.engine.store.manifest", "STORE_FORMAT", times=3)),
    ("report-shard-name", "docs/report.md", r"one `shard-(N+)\.npz` per batch",
     lambda: ("N" * int(re.search(r"\\d\{(\d+)\}", _is("vssleval.engine.store.shards", "SHARD_RE")().pattern)
                       .group(1)),)),
    ("report-fingerprint-format", "docs/report.md", r"hold the summary as `fingerprint`: `format` \((\d+)\)",
     _one("vssleval.fingerprint", "FORMAT")),
    ("report-tex-sizes", "docs/report.md", r"in a fixed type size, (\d+) pt for the cells and (\d+) pt for a cell's "
     r"second line .*? with (\d+) pt on each side of a column",
     lambda: tuple(_is("vssleval.report.latex", k)() for k in ("BODY_PT", "SUB_PT", "TABCOLSEP_PT"))),
    ("report-tex-widths", "docs/report.md", r"`\\textwidth` of (\d+) pt, the narrowest .*? narrow enough for one "
     r"column \((\d+) pt\)", lambda: tuple(_is("vssleval.report.latex", k)() for k in ("TEXT_WIDTH_PT", "COLUMN_WIDTH_PT"))),
    ("report-tex-label", "docs/report.md", r"a run label is wrapped to at most (\d+) pt",
     _one("vssleval.report.latex", "LABEL_MAX_PT")),
    # docs/performance.md, docs/testing.md
    ("performance-batch", "docs/performance.md", r"\*\*Default: (\d+) on every device\*\* \(`--batch-size`, "
     r"`RunSpec\.batch_size`\)", lambda: (_option("batch_size").default,)),
    ("performance-torch", "docs/performance.md", r"torch (\S+) CPU, one thread per side", lambda: _torch_pin()[:1]),
    ("extending-headline", "docs/extending.md", r"`headline` \(report tables, (on) by default\)",
     lambda: ({True: "on", False: "off"}[_field_default(_is(f"{_M}.catalog", "Metric")(), "headline")],)),
    ("testing-bundle-size", "docs/testing.md", r"\*\*Bundle\*\* — `tests/fixtures/`, committed \(about (\d+) MB\)",
     lambda: (round(_bundle_bytes() / 1e6),)),
    ("testing-durations", "docs/testing.md", r"`--durations=(\d+)` is on by default \(`pyproject\.toml`\), so each run "
     r"ends with its (\d+) slowest tests", lambda: (_durations(),) * 2),
    ("testing-retention", "docs/testing.md", r'\(`tmp_path_retention_policy = "(\w+)"` in `pyproject\.toml`\)',
     lambda: (_pytest_ini()["tmp_path_retention_policy"],)),
    ("testing-tmp-peak", "docs/testing.md", r"warns below NUM GiB \(`tests/conftest\.py::TMP_PEAK_GIB`\)",
     lambda: (float(re.search(r"^TMP_PEAK_GIB = (\d+(?:\.\d+)?)", (ROOT / "tests" / "conftest.py").read_text(), re.M)
                    .group(1)),)),
    ("testing-workers", "docs/testing.md", r"at most\s+`tests/conftest\.py::MAX_AUTO_WORKERS` = (\d+)",
     lambda: (int(re.search(r"^MAX_AUTO_WORKERS = (\d+)", (ROOT / "tests" / "conftest.py").read_text(), re.M)
                  .group(1)),)),
]


def _accumulator_upsample() -> str:
    """The op ``Accumulator(upsample=None)`` gives every variant under the clean protocol."""
    from vssleval.metrics import Accumulator

    return Accumulator("vssleval", upsample=None, bootstrap=0).ops


def _aclssl_thresholds() -> tuple:
    t = _is(f"{_M}.protocols.native.aclssl", "THRESHOLDS")()
    return (t[0], t[1], t[-1], len(t), _is(f"{_M}.protocols.native.aclssl", "HEADLINE_THRESHOLD")())


def _vggish_frames() -> tuple:
    v = importlib.import_module("vssleval.frontends.vggish")
    return (round(v.WINDOW_S * v.SAMPLE_RATE), round(v.WINDOW_S * 1000), round(v.HOP_S * v.SAMPLE_RATE),
            round(v.HOP_S * 1000))


def _field_default(cls: type, name: str) -> Any:
    import dataclasses

    return next(f.default for f in dataclasses.fields(cls) if f.name == name)


def _bundle_bytes() -> int:
    """The bytes of the bundle scripts/make_test_fixtures.py writes: tests/fixtures/ less the folders it
    carries unchanged (``SEPARATE_DIRS``)."""
    separate = _script("make_test_fixtures").SEPARATE_DIRS
    root = ROOT / "tests" / "fixtures"
    return sum(p.stat().st_size for p in root.rglob("*")
               if p.is_file() and p.relative_to(root).parts[0] not in separate)


def _half_clip() -> float:
    """The middle of a synthetic clip, where ``prepare`` takes its frame (s)."""
    return _is("vssleval.data.synthetic.sound", "DURATION_S")() / 2


def _pytest_ini() -> dict:
    return pyproject()["tool"]["pytest"]["ini_options"]


def _durations() -> int:
    return int(re.search(r"--durations=(\d+)", _pytest_ini()["addopts"]).group(1))


def same(stated: str, code: Any) -> bool:
    """A stated value (the doc's text) against the code's: text as text, numbers as numbers."""
    if isinstance(code, str):  # white space aside: a code span may wrap at a line end
        return "".join(stated.split()) == "".join(code.split())
    if isinstance(code, bool) or code is None:
        return False
    try:
        return math.isclose(number(stated), code, rel_tol=1e-12, abs_tol=1e-15)
    except ValueError:
        return False


def fact_pattern(pattern: str) -> str:
    """A FACTS pattern as a regular expression: ``NUM`` is one group holding a number (``0.05``, ``1000``)."""
    return pattern.replace("NUM", r"(\d+(?:\.\d+)?)")


@pytest.mark.parametrize("fact", FACTS, ids=[f[0] for f in FACTS])
def test_stated_constant_is_the_codes(fact):
    _, name, pattern, code = fact
    found = re.findall(fact_pattern(pattern), flat(name))
    assert len(found) == 1, f"{name}: {len(found)} sentences match {pattern!r} (one expected): reworded? update FACTS"
    stated = found[0] if isinstance(found[0], tuple) else (found[0],)
    values = tuple(code())
    assert len(stated) == len(values) and all(same(s, v) for s, v in zip(stated, values)), (
        f"{name} states {stated}, the code has {values}")
