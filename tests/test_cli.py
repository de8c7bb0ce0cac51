"""The console script wiring: discovery of subcommands and clean user-facing errors."""

import re
import subprocess
import sys

from vssleval import cli


#: The subcommands the README documents: written out here, not read from the code
#: under test, so a command that stops being discovered (a renamed module, an import error) fails.
DOCUMENTED_COMMANDS = ("compare", "datasets", "evaluate", "export", "fetch-metadata", "infer", "models", "new-model",
                       "prepare", "report", "rescore", "synth", "train-synthetic")


def test_help_lists_the_documented_commands(capsys):
    assert cli.main([]) == 1
    out = capsys.readouterr().out
    listed = set(re.findall(r"^    ([a-z][a-z-]+)(?:  |$)", out, flags=re.M))
    assert set(DOCUMENTED_COMMANDS) <= listed, out


def test_python_dash_m_is_the_same_program():
    res = subprocess.run([sys.executable, "-m", "vssleval", "--version"], capture_output=True, text=True)
    assert res.returncode == 0
    assert res.stdout.startswith("vssleval ")


def test_dotted_entry_points_are_the_commands(tmp_path):
    """``python -m vssleval.evaluate`` / ``vssleval.infer`` (the design card's spellings) run the commands."""
    for name in ("evaluate", "infer"):
        res = subprocess.run([sys.executable, "-m", f"vssleval.{name}", "--help"], capture_output=True, text=True,
                             cwd=tmp_path)
        assert res.returncode == 0, res.stderr
        assert res.stdout.startswith(f"usage: python -m vssleval.{name} ") and "--neg" in res.stdout
