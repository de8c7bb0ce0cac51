"""The README's promises: two set-up commands, and the notebook example really runs (its "Your own
model in five minutes" commands run in tests/test_new_model.py, with docs/api.md §8's walk)."""

import re
import tempfile

import pytest

from shared import ROOT

from vssleval.metrics.protocols import get_protocol

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _block(lang: str, after: str) -> str:
    start = README.index(after)
    m = re.compile(rf"```{lang}\n(.*?)```", re.S).search(README, start)
    return m.group(1)


def test_two_setup_commands_at_the_top():
    setup = _block("bash", "## Set-up")
    commands = [line.split("#")[0].strip() for line in setup.splitlines() if line.strip()]
    assert commands == ["bash eval_models.sh", "bash scripts/test.sh"]
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.slow  # a whole evaluation and report
def test_notebook_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the example writes runs/my-report/ in the working directory
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # and its run (out=None) in a new temp folder
    namespace: dict = {}
    exec(compile(_block("python", "## In a notebook"), "README.md", "exec"), namespace)
    results = namespace["results"]
    assert 0.0 <= results.metrics["ciou"] <= 1.0 and results.metrics["n_seeds"] == 2
    assert namespace["positive"].shape == (16, 7, 7) and namespace["noise"].shape == (2, 16, 7, 7)
    assert (tmp_path / "runs" / "my-report" / "report.md").is_file()
    assert results.out.parent == tmp_path and results.out.name.startswith("vssleval-run-")
    # it prints the headline numbers the tables show, under the catalog's names for them
    shown = {m.short: m.key for m in get_protocol("vssleval").metrics if m.headline}
    line = f"cIoU@0.5 {results.metrics[shown['cIoU@0.5']]:.3f}, pIA silence {results.metrics[shown['pIA silence']]:.3f}"
    assert shown["pIA silence"] == "pia_silence_adap" and line in capsys.readouterr().out
