"""The README's promise of two set-up commands (its other blocks run in tests/test_docs_readme.py,
the notebook example's printed numbers included; "Your own model in five minutes" runs in
tests/test_new_model.py, with docs/api.md §8's walk)."""

import re

from shared import ROOT

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
