"""The one YAML reader of vssleval: model configs, dataset configs and plug-in YAMLs all come through
:func:`read_yaml_mapping`.

Reading is safe: plain mappings, lists, strings, numbers, booleans and null only. A tag that would
build a Python object (``!!python/object/apply:...``) is refused, and nothing in the file runs.
Any problem with the file (unreadable, not UTF-8 text, a syntax error, a refused tag, a key given
twice, not a mapping) is one :class:`~vssleval.errors.VsslevalError` line naming the file, the line
and the fix, never a parser traceback (docs/models.md §1, "Your own model").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from vssleval.errors import VsslevalError
from vssleval.io_utils import os_error_text

_MERGE_TAG = "tag:yaml.org,2002:merge"


class _StrictSafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also refuses a key given twice in one mapping: PyYAML keeps the last
    silently, so a pasted second ``presets:`` block would replace the first without a word."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                continue
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice (first on line {seen[key] + 1})", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def _where(path: Path, mark: Any) -> str:
    """``file, line L, column C`` (1-based) for a PyYAML mark, or just the file."""
    if mark is None:
        return str(path)
    return f"{path}, line {mark.line + 1}, column {mark.column + 1}"


def _problem(exc: yaml.YAMLError) -> tuple[str, Any]:
    """(what went wrong in one line, its mark) for any PyYAML error."""
    if isinstance(exc, yaml.constructor.ConstructorError) and "could not determine a constructor" in str(exc.problem):
        tag = str(exc.problem).split("tag", 1)[-1].strip().strip("'").replace("tag:yaml.org,2002:", "!!")
        return (f"the tag {tag} asks for a Python object, which vssleval never builds from a YAML (nothing in "
                "the file was run); remove the tag and write the value as plain YAML", exc.problem_mark)
    if isinstance(exc, yaml.MarkedYAMLError):
        text = " ".join(p for p in (exc.context, exc.problem) if p)
        return text or type(exc).__name__, exc.problem_mark or exc.context_mark
    if isinstance(exc, yaml.reader.ReaderError):
        char = exc.character if isinstance(exc.character, int) else ord(exc.character[:1] or "\0")
        return f"character U+{char:04X} is not allowed in YAML text ({exc.reason})", None
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__, None


def _line_of(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def parse_yaml(text: str, path: str | Path, what: str) -> Any:
    """The YAML document in ``text`` (read from ``path``), safely; errors name ``what`` and ``path``."""
    path = Path(path)
    try:
        return yaml.load(text, Loader=_StrictSafeLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        problem, mark = _problem(exc)
        where = _where(path, mark)
        if mark is None and isinstance(exc, yaml.reader.ReaderError):
            where = f"{path}, line {_line_of(text, exc.position)}"
        raise VsslevalError(f"cannot read {what} {where}: {problem}") from exc


def read_yaml_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """The mapping held by the YAML file ``path`` (``{}`` for an empty file).

    ``what`` names the file in messages (``"model config"``, ``"dataset config"``, ...). Raises
    :class:`VsslevalError` (one line: the file, the line where known, the fix) for a file that
    cannot be read, is not UTF-8 text, is not valid YAML, holds a Python tag or a repeated key, or
    holds something other than a mapping at the top.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise VsslevalError(f"cannot read {what} {path}: {os_error_text(exc)}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise VsslevalError(f"cannot read {what} {path}: it is not UTF-8 text (byte {exc.start} is "
                            f"{raw[exc.start:exc.start + 1]!r}, line {line}); a YAML file is plain text") from exc
    data = parse_yaml(text, path, what)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise VsslevalError(f"{what} {path} must be a YAML mapping (lines of `key: value`), but it holds "
                            f"a {type(data).__name__}")
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise VsslevalError(f"{what} {path}: top-level key {bad[0]!r} is not a name; keys are text such as "
                            "`model:`, `presets:`")
    return data
