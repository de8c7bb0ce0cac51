"""The console script wiring: discovery of subcommands and clean user-facing errors."""

import subprocess
import sys

from vssleval import cli


def test_help_lists_discovered_commands(capsys):
    assert cli.main([]) == 1
    out = capsys.readouterr().out
    for name in cli._command_modules():
        assert name in out


def test_python_dash_m_is_the_same_program():
    res = subprocess.run([sys.executable, "-m", "vssleval", "--version"], capture_output=True, text=True)
    assert res.returncode == 0
    assert res.stdout.startswith("vssleval ")
