"""``vssleval new-model NAME``: write a commented model template, ``NAME.py`` and ``NAME.yaml``, that
evaluates as written (README, "Your own model in five minutes"; docs/api.md §8).

The two files are the package data ``vssleval/templates/model.py.tmpl`` and ``model.yaml.tmpl``
with the name and the class name filled in. Nothing here imports torch or the engine: the command
answers at once (docs/performance.md, "A CLI that answers at once"); the written ``NAME.py`` imports
torch when a run loads it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import keyword
import os
import re
import sys
from pathlib import Path
from string import Template

from vssleval.errors import VsslevalError
from vssleval.io_utils import atomic_path, ensure_output_dir
from vssleval.models.registry import list_models
from vssleval.resources import describe_install

HELP = "write a commented template of your own model (NAME.py + NAME.yaml) that evaluates as written"

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
#: output suffix -> its template in :data:`TEMPLATE_DIR`
TEMPLATES = {".py": "model.py.tmpl", ".yaml": "model.yaml.tmpl"}
#: a name is a module name and a registered model name at once: lower case, so that the class's
#: registered name, the file and the run folder ``runs/<name>-...`` all spell it the same way
NAME_RULE = re.compile(r"[a-z][a-z0-9_]*")
ALLOWED = "lower-case letters a-z, digits 0-9 and _, starting with a letter"
MAX_NAME = 64
#: names the ``.py`` template binds at module level, which its class must not shadow
TEMPLATE_GLOBALS = frozenset({"F", "nn", "torch", "VsslModel", "annotations"})


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME", help=f"the model's name, also its file and module name ({ALLOWED}); "
                                                "it must not be a registered model (`vssleval models`)")
    p.add_argument("--out", default=".", metavar="DIR",
                   help="folder to write NAME.py and NAME.yaml into (created if needed; default: the current folder)")
    p.add_argument("--overwrite", action="store_true", help="replace NAME.py / NAME.yaml if they already exist")


def class_name(name: str) -> str:
    """The class the template defines for ``name``: its ``_``-separated words capitalised, with
    ``Model`` added unless it already ends so (``my_net`` -> ``MyNetModel``, ``mymodel`` ->
    ``Mymodel``), and ``My`` in front where that would shadow a name the template imports."""
    words = "".join(w[:1].upper() + w[1:] for w in name.split("_"))
    cls = words if words.lower().endswith("model") else f"{words}Model"
    return f"My{cls}" if cls in TEMPLATE_GLOBALS else cls


def name_problem(name: str, out: Path) -> str | None:
    """Why ``name`` cannot name a new model written into ``out``, or None when it can: it must be a
    module name (:data:`NAME_RULE`, not a keyword), import nothing else in its place, and be no
    registered model."""
    if not NAME_RULE.fullmatch(name) or len(name) > MAX_NAME:
        return f"{name!r} cannot be a model and module name: use {ALLOWED}, at most {MAX_NAME} characters"
    if keyword.iskeyword(name):
        return f"{name!r} is a Python keyword, so {name}.py cannot be imported as a module"
    if name in list_models():
        return f"{name!r} is already a registered model (`vssleval models` lists them)"
    shadowed = _shadowed_module(name, out)
    if shadowed:
        return (f"{name!r} is already the name of the importable module {shadowed}: Python started in the "
                f"folder of {name}.py would import that file in its place")
    return None


def _shadowed_module(name: str, out: Path) -> str | None:
    """The module (standard library, built in, installed) that a file ``name.py`` would hide when
    its folder is first on ``sys.path``; None when there is none, or it is the file this command
    writes (a rerun with ``--overwrite``). A plain folder (a namespace package) hides nothing."""
    if name in {"vssleval", *sys.builtin_module_names, *sys.stdlib_module_names}:
        return name
    try:
        spec = importlib.util.find_spec(name)  # a top-level name: found on sys.path, nothing imported
    except (ImportError, ValueError):  # a module in sys.modules without a spec: it exists
        return name
    if spec is None or not spec.has_location or not spec.origin:
        return None
    origin = Path(spec.origin).resolve()
    return None if origin == (out / f"{name}.py").resolve() else f"{name} ({origin})"


def suggest(name: str, out: Path) -> str:
    """A free name close to ``name``, for the refusal of a taken one."""
    cleaned = re.sub(r"^[^a-z]+", "", re.sub(r"[^a-z0-9_]", "_", name.lower()))[:MAX_NAME - 3]
    if not cleaned:
        return ""
    for candidate in dict.fromkeys(c for c in (cleaned, f"my_{cleaned}", f"{cleaned}_v2") if c != name):
        if name_problem(candidate, out) is None:
            return f"; try {candidate!r}"
    return ""


def render(template: str, name: str) -> str:
    """The text of one template (a file of :data:`TEMPLATE_DIR`) with ``$name`` and ``$class_name``
    filled in (``$$`` is a literal ``$``)."""
    path = TEMPLATE_DIR / template
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise VsslevalError(f"vssleval cannot find its package data: the template {path} is missing "
                            f"({exc.strerror or exc}). {describe_install()}; reinstall vssleval") from exc
    return Template(text).substitute(name=name, class_name=class_name(name))


def targets(name: str, out: Path, overwrite: bool) -> dict[Path, str]:
    """The files to write (path -> template); a :class:`VsslevalError` when one exists (a dangling
    link too) and ``overwrite`` is not set."""
    paths = {out / f"{name}{suffix}": template for suffix, template in TEMPLATES.items()}
    existing = [str(p) for p in paths if os.path.lexists(p)]
    if existing and not overwrite:
        raise VsslevalError(f"{' and '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; "
                            "choose another NAME or --out, or pass --overwrite to replace "
                            f"{'it' if len(existing) == 1 else 'them'}")
    return paths


def write_all(texts: dict[Path, str]) -> None:
    """Write every file atomically (vssleval.io_utils.atomic_path): each is written in full beside its
    path before any is renamed into place, so a failure while writing leaves every file as it was."""
    with contextlib.ExitStack() as stack:
        for path, text in texts.items():
            tmp = stack.enter_context(atomic_path(path, size_hint=len(text.encode("utf-8"))))
            tmp.write_text(text, encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    name, out = args.name, Path(args.out)
    problem = name_problem(name, out)
    if problem:
        raise VsslevalError(problem + suggest(name, out))
    paths = targets(name, out, args.overwrite)
    texts = {path: render(template, name) for path, template in paths.items()}  # before any file is written
    ensure_output_dir(out)
    write_all(texts)
    py, yaml = paths
    print(f"wrote {py} (class {class_name(name)}, model name {name!r}) and {yaml}; evaluate it as it is with:")
    print(f"  vssleval evaluate --model-file {py}:{class_name(name)} --dataset synthetic-vggss --limit 8 --seeds 2")
    return 0
