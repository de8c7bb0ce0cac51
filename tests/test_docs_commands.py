"""Issue 22 item 5: every command block of README.md and docs/*.md runs as written from a fresh clone
(docs/testing.md, "Docs as tests").

Every fenced block of a page carries a marker, an HTML comment on the line above it:

* ``<!-- docs-test: run -->``: executed as written, in document order, in a fresh copy of the
  checkout (one per page); ``limit=N`` / ``seeds=N`` append ``--limit N`` / ``--seeds N`` to each
  ``evaluate`` / ``infer`` command (the page says in its prose that a quick try can add them);
  ``lines=1,3`` runs only those lines of the block and parses the others (a reason is required).
* ``<!-- docs-test: parse (why it cannot run here) -->``: every ``vssleval`` line goes through the
  real CLI parser, the block through ``bash -n`` (Python: ``compile``), and a script it names must exist.
* ``<!-- docs-test: file path=P -->``: the page tells the reader to save this block as ``P``; it is
  written there (YAML must load, Python must compile) before the blocks after it run.
* ``<!-- docs-test: text (what it is) -->``: not a command (console output, a layout tree, a signature).

A block without a marker fails, naming page and line, and so does an indented code block (fence it).
The copy holds the checkout's files (tracked and not ignored), ``vssleval`` and ``python`` come from
this interpreter's environment with the copy first on ``PYTHONPATH``; the blocks may write only
under ``runs/`` (and the files the page saves), the repository must not change. README's quoted
numbers (the main job's table, the leaderboard excerpt, the ``compare`` line) are compared with the
outputs of its own commands, rounded as printed.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from shared import ROOT

PAGES = ["README.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md"))]
MARKER = re.compile(r"^\s*<!-- docs-test: (.*?) -->\s*$")
FENCE = re.compile(r"^(\s*)```(\S*)\s*$")
KINDS = ("run", "parse", "file", "text")
BASH = ("bash", "sh", "console", "shell")
#: a run block's command must finish within this (a guard against a hang; the main job takes ~1 min)
HANG_S = 1800


@dataclass(frozen=True)
class Marker:
    kind: str
    options: dict[str, str] = field(default_factory=dict)
    reason: str | None = None


@dataclass(frozen=True)
class Block:
    page: str
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    marker: Marker | None

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def parse_marker(body: str) -> Marker:
    """``run limit=8 seeds=2 (why)`` -> Marker('run', {'limit': '8', 'seeds': '2'}, 'why')."""
    reason = None
    m = re.search(r"\((.*)\)\s*$", body)
    if m:
        reason, body = m.group(1).strip(), body[:m.start()]
    kind, *rest = body.split()
    options = dict(item.split("=", 1) for item in rest if "=" in item)
    if any("=" not in item for item in rest):
        raise ValueError(f"marker options are key=value: {body!r}")
    return Marker(kind, options, reason)


def page_blocks(page: str) -> list[Block]:
    """The fenced blocks of ``page`` with the marker on the line above each (None if there is none)."""
    lines = (ROOT / page).read_text(encoding="utf-8").split("\n")
    out, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if re.match(r"^\s*```\s*$", lines[j]))
        above = lines[i - 1] if i else ""
        mm = MARKER.match(above)
        indent = len(m.group(1))
        text = "\n".join(line[indent:] for line in lines[i + 1:end]) + "\n"
        out.append(Block(page, i + 1, m.group(2), text, parse_marker(mm.group(1)) if mm else None))
        i = end + 1
    return out


def indented_code_lines(page: str) -> list[int]:
    """Lines that open an indented (unfenced) code block: 4+ spaces after a blank line, outside a
    fence and not the continuation of a list item."""
    lines = (ROOT / page).read_text(encoding="utf-8").split("\n")
    found, in_fence, in_list = [], False, False
    for n, line in enumerate(lines):
        if FENCE.match(line) or re.match(r"^\s*```\s*$", line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        if re.match(r"^\s*([*-]|\d+\.)\s", line):
            in_list = True
        elif line and not line.startswith(" "):
            in_list = False
        if line.startswith("    ") and line.strip() and n and not lines[n - 1].strip() and not in_list:
            found.append(n + 1)
    return found


def marker_problems(block: Block) -> list[str]:
    """What is wrong with a block's marker (empty: nothing)."""
    mk = block.marker
    if mk is None:
        return [f"{block.where}: a ```{block.lang} block without a <!-- docs-test: ... --> marker above it"]
    problems = []
    if mk.kind not in KINDS:
        problems.append(f"{block.where}: marker kind {mk.kind!r} is not one of {KINDS}")
    if mk.kind in ("parse", "text") and not mk.reason:
        problems.append(f"{block.where}: a {mk.kind} marker needs its reason in parentheses")
    if mk.kind == "run" and "lines" in mk.options and not mk.reason:
        problems.append(f"{block.where}: lines= needs the reason the other lines only parse")
    if mk.kind == "run" and block.lang not in (*BASH, "python"):
        problems.append(f"{block.where}: only bash and python blocks can run, not {block.lang!r}")
    if mk.kind == "file" and "path" not in mk.options:
        problems.append(f"{block.where}: a file marker names its path=")
    unknown = set(mk.options) - {"run": {"limit", "seeds", "lines"}, "file": {"path"}}.get(mk.kind, set())
    if unknown:
        problems.append(f"{block.where}: unknown marker options {sorted(unknown)}")
    return problems


# -- commands of a block ---------------------------------------------------------------------------
def command_lines(block: Block) -> list[tuple[int, str]]:
    """(1-based line in the block, command) of a shell block: continuations joined, comments and
    blank lines dropped; in a ``console`` block only the ``$ `` lines."""
    out, pending, start = [], "", 0
    for n, raw in enumerate(block.text.splitlines(), 1):
        line = raw
        if block.lang == "console":
            if not line.startswith("$ ") and not pending:
                continue
            line = line[2:] if line.startswith("$ ") else line
        if not pending:
            start = n
        if line.rstrip().endswith("\\"):
            pending += line.strip()[:-1].strip() + " "
            continue
        command = (pending + line.strip()).strip()
        pending = ""
        if command and not command.startswith("#"):
            out.append((start, command))
    return out


def words(command: str) -> list[str]:
    """The command's words, its comment and leading ``NAME=value`` assignments dropped."""
    argv = shlex.split(command, comments=True)
    while argv and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", argv[0]):
        argv.pop(0)
    return argv


def vssleval_argv(argv: list[str]) -> list[str] | None:
    """The ``vssleval`` arguments of a command line (``vssleval X``, ``python -m vssleval X``,
    ``python -m vssleval.evaluate``, ``torchrun ... -m vssleval.evaluate``), or None."""
    if argv and argv[0] == "vssleval":
        return argv[1:]
    if argv and argv[0] in ("python", "python3", "torchrun") and "-m" in argv:
        module, rest = argv[argv.index("-m") + 1], argv[argv.index("-m") + 2:]
        if module == "vssleval":
            return rest
        if module.startswith("vssleval."):
            return [module.split(".", 1)[1], *rest]
    return None


def with_limits(command: str, options: dict[str, str]) -> str:
    """``command`` with ``--limit N`` / ``--seeds N`` of the marker appended if it evaluates or infers."""
    argv = vssleval_argv(words(command))
    if not argv or argv[0] not in ("evaluate", "infer"):
        return command
    extra = [f"--{key} {options[key]}" for key in ("limit", "seeds") if key in options]
    return " ".join([command.split(" #")[0].rstrip(), *extra])


def check_parses(block: Block, lines: list[tuple[int, str]] | None = None) -> list[str]:
    """Problems of a block checked without running it (see the module docstring)."""
    if block.lang == "python":
        try:
            compile(block.text, block.where, "exec")
        except SyntaxError as e:
            return [f"{block.where}: {e}"]
        return []
    problems = []
    proc = subprocess.run(["bash", "-n"], input=block.text, text=True, capture_output=True)
    if proc.returncode:
        problems.append(f"{block.where}: bash -n: {proc.stderr.strip()}")
    for n, command in command_lines(block) if lines is None else lines:
        problems += [f"{block.where} line {n} ({command}): {p}" for p in check_command(command)]
    return problems


def check_command(command: str) -> list[str]:
    """A shell command's ``vssleval`` arguments against the real parser; a script it runs exists."""
    argv = words(command)
    args = vssleval_argv(argv)
    if args is not None:
        return parser_errors(args)
    if len(argv) > 1 and argv[0] in ("bash", "sh", "python", "python3") and not argv[1].startswith("-"):
        return [] if (ROOT / argv[1]).is_file() else [f"{argv[1]} is not a file of the checkout"]
    if argv[:3] == ["python", "-m", "pytest"]:
        paths = [a.split("::")[0] for a in argv[3:] if a.startswith("tests/")]
        return [f"{p} is not in the checkout" for p in paths if not (ROOT / p).exists()]
    return []


def parser_errors(args: list[str]) -> list[str]:
    from vssleval.cli import build_parser

    import contextlib
    import io

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(args)
    except SystemExit as e:
        if e.code:
            return [err.getvalue().strip().splitlines()[-1] if err.getvalue().strip() else f"exit {e.code}"]
    return []


# -- running a page in a fresh copy ----------------------------------------------------------------
def checkout_files() -> list[str]:
    """The checkout's files a clone would have: tracked, plus new files not ignored."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, check=True).stdout.decode()
    return sorted({f for f in out.split("\0") if f and (ROOT / f).is_file()})


def repo_state() -> set[str]:
    """``git status`` of the repository, ignored files included (caches of Python and pytest aside)."""
    out = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    return {line for line in out.splitlines()
            if not re.search(r"__pycache__|\.pytest_cache|\.hypothesis|\.egg-info", line)}


def fresh_clone(dest: Path) -> Path:
    for name in checkout_files():
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, dest / name)
    return dest


def environment(clone: Path, scratch: Path, cache: Path) -> dict[str, str]:
    """A newcomer's environment: this venv's ``vssleval`` and ``python`` first on PATH, the copy's
    package first on the path, no ``VSSLEVAL_*`` of ours; caches and temporary folders in ``scratch``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VSSLEVAL_")}
    bin_dir = str(Path(sys.executable).parent)
    env.update(PATH=bin_dir + os.pathsep + env.get("PATH", ""), PYTHONPATH=str(clone),
               VSSLEVAL_PYTHON=sys.executable,  # scripts/setup_env.sh: use this environment, install nothing
               VSSLEVAL_CACHE=str(cache), TMPDIR=str(scratch / "tmp"), MPLCONFIGDIR=str(scratch / "mpl"),
               MPLBACKEND="Agg")
    # no PYTHONPYCACHEPREFIX: under one, every subprocess recompiles torch's and numpy's modules
    # instead of reading their installed caches (3 to 4 s a command); the copy's own __pycache__
    # folders are left out of the files it writes (PageRun.new_files)
    for name in ("tmp", "mpl"):
        (scratch / name).mkdir(parents=True, exist_ok=True)
    return env


DOCTEST_DRIVER = ("import doctest, sys; t = doctest.DocTestParser().get_doctest(sys.stdin.read(), {}, "
                  "'block', None, 0); r = doctest.DocTestRunner(); r.run(t); sys.exit(bool(r.failures))")


@dataclass
class Ran:
    block: Block
    command: str
    returncode: int
    output: str


def run_block(block: Block, clone: Path, env: dict[str, str]) -> list[Ran]:
    """Execute a run block in ``clone``: each shell command in turn (stopping at the first failure),
    a Python block as one program (a ``>>>`` block as a doctest)."""
    if block.lang == "python":
        doctest = block.text.lstrip().startswith(">>>")
        cmd = [sys.executable, "-c", DOCTEST_DRIVER] if doctest else [sys.executable, "-"]
        proc = subprocess.run(cmd, input=block.text, cwd=clone, env=env, text=True, capture_output=True,
                              timeout=HANG_S)
        return [Ran(block, "python", proc.returncode, proc.stdout + proc.stderr)]
    keep = {int(n) for n in block.marker.options["lines"].split(",")} if "lines" in block.marker.options else None
    ran = []
    for n, command in command_lines(block):
        if keep is not None and n not in keep:
            continue
        command = with_limits(command, block.marker.options)
        proc = subprocess.run(["bash", "-c", command], cwd=clone, env=env, text=True, capture_output=True,
                              timeout=HANG_S)
        ran.append(Ran(block, command, proc.returncode, proc.stdout + proc.stderr))
        if proc.returncode:
            break
    return ran


def save_file(block: Block, clone: Path) -> None:
    path = clone / block.marker.options["path"]
    if block.lang == "yaml":
        yaml.safe_load(block.text)
    elif block.lang == "python":
        compile(block.text, block.where, "exec")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(block.text, encoding="utf-8")


@dataclass
class PageRun:
    clone: Path
    ran: list[Ran]
    saved: list[str]
    repo_before: set[str]
    repo_after: set[str]

    def failures(self) -> list[str]:
        return [f"{r.block.where}: `{r.command}` exit {r.returncode}\n{r.output[-3000:]}"
                for r in self.ran if r.returncode]

    def new_files(self) -> list[str]:
        """Files in the copy that it did not start with (the Python caches aside)."""
        have = set(checkout_files())
        return sorted(str(p.relative_to(self.clone)) for p in self.clone.rglob("*")
                      if p.is_file() and "__pycache__" not in p.parts and str(p.relative_to(self.clone)) not in have)


def run_page(page: str, base: Path, cache: Path) -> PageRun:
    """Every run and file block of ``page``, in order, in a fresh copy under ``base``."""
    before = repo_state()
    clone = fresh_clone(base / "clone")
    env = environment(clone, base / "scratch", cache)
    ran, saved = [], []
    for block in page_blocks(page):
        if block.marker and block.marker.kind == "file":
            save_file(block, clone)
            saved.append(block.marker.options["path"])
        elif block.marker and block.marker.kind == "run":
            ran += run_block(block, clone, env)
            if ran and ran[-1].returncode:
                break  # later blocks may depend on this one
    return PageRun(clone, ran, saved, before, repo_state())


def runnable_pages() -> list[str]:
    return [p for p in PAGES if any(b.marker and b.marker.kind == "run" for b in page_blocks(p))]


def check_page_run(run: PageRun) -> None:
    assert run.failures() == [], "\n\n".join(run.failures())
    assert run.repo_after == run.repo_before, "the repository changed: " + str(run.repo_after ^ run.repo_before)
    stray = [f for f in run.new_files() if not f.startswith("runs/") and f not in run.saved]
    assert stray == [], f"written outside runs/: {stray}"


def markdown_rows(text: str) -> list[list[str]]:
    """Cells of every table row in ``text`` (the separator row dropped)."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in text.splitlines()
            if line.startswith("|")]
    return [r for r in rows if not all(set(c) <= set(":-") for c in r)]


# -- tests: markers and parsing (fast) -------------------------------------------------------------
@pytest.mark.parametrize("page", PAGES)
def test_every_block_has_a_valid_marker(page):
    problems = [p for block in page_blocks(page) for p in marker_problems(block)]
    problems += [f"{page}:{n}: an indented code block; fence it (```bash, ```text, ...) and mark it"
                 for n in indented_code_lines(page)]
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("page", PAGES)
def test_blocks_that_cannot_run_here_parse(page):
    problems = []
    for block in page_blocks(page):
        mk = block.marker
        if mk is None or mk.kind not in ("parse", "run"):
            continue
        if mk.kind == "parse":
            problems += check_parses(block)
        elif "lines" in mk.options and block.lang in BASH:
            keep = {int(n) for n in mk.options["lines"].split(",")}
            problems += check_parses(block, [(n, c) for n, c in command_lines(block) if n not in keep])
    assert problems == [], "\n".join(problems)


def test_a_stray_output_or_a_changed_repository_fails(tmp_path):
    """What the run tests assert after a page ran: outputs only under runs/ (and the files the page
    saves), the repository unchanged."""
    for name in ("runs/main/metrics.json", "tiny_model.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    check_page_run(PageRun(tmp_path, [], ["tiny_model.py"], {"a"}, {"a"}))
    (tmp_path / "cmp").mkdir()
    (tmp_path / "cmp" / "compare.csv").write_text("x")
    with pytest.raises(AssertionError, match="cmp/compare.csv"):
        check_page_run(PageRun(tmp_path, [], ["tiny_model.py"], {"a"}, {"a"}))
    with pytest.raises(AssertionError, match="repository changed"):
        check_page_run(PageRun(tmp_path, [], [], {"a"}, {"a", "?? runs/"}))


def test_the_checks_catch_what_they_should(tmp_path):
    """The parse checks fail on a wrong option, a wrong choice, a missing script and bad bash; the
    marker reader requires a marker and a reason."""
    def block(text, lang="bash", marker=Marker("parse", {}, "r")):
        return Block("X.md", 1, lang, text, marker)

    assert check_parses(block("vssleval evaluate --model center --dataset synthetic-is3 --seeds 2\n")) == []
    assert check_parses(block("vssleval evaluate --modle center\n"))
    assert check_parses(block("vssleval report R --ci-style nonsense --out D\n"))
    assert check_parses(block("torchrun --nproc_per_node 4 -m vssleval.evaluate --bogus 1\n"))
    assert check_parses(block("bash scripts/no_such_script.sh\n"))
    assert check_parses(block("if then fi\n"))
    assert check_parses(block("def f(:\n", "python"))
    assert marker_problems(block("x\n", marker=None))
    assert marker_problems(block("x\n", marker=Marker("parse")))
    assert parse_marker("run limit=8 seeds=2") == Marker("run", {"limit": "8", "seeds": "2"})
    assert with_limits("vssleval evaluate --model x  # try", {"limit": "8", "seeds": "2"}) == \
        "vssleval evaluate --model x --limit 8 --seeds 2"
    assert with_limits("vssleval report R --out D", {"limit": "8"}) == "vssleval report R --out D"
    console = block("$ vssleval models \\\n  --help\nsome output\n", "console")
    assert command_lines(console) == [(1, "vssleval models --help")]
    wrong = Block("X.md", 1, "python", ">>> 1 + 1\n3\n", Marker("run"))
    right = Block("X.md", 1, "python", ">>> 1 + 1\n2\n", Marker("run"))
    assert [r.returncode for b in (wrong, right) for r in run_block(b, tmp_path, dict(os.environ))] == [1, 0]
    failing = Block("X.md", 1, "bash", "false\ntouch never\n", Marker("run"))
    assert [r.returncode for r in run_block(failing, tmp_path, dict(os.environ))] == [1]  # stops there
    assert not (tmp_path / "never").exists()


# -- tests: running the pages ----------------------------------------------------------------------
@pytest.mark.slow  # subprocesses that import torch, small evaluations
@pytest.mark.parametrize("page", [p for p in runnable_pages() if p != "README.md"])
def test_page_runs_as_written(page, tmp_path, docs_cache):
    check_page_run(run_page(page, tmp_path, docs_cache))
