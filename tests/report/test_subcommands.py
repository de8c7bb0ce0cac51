"""``vssleval rescore`` and ``vssleval compare``: the two jobs ``vssleval report`` no longer does.

The old spellings (``report --from-store``, ``report --compare``) still work, write the same files and
print exactly one deprecation line on stderr; the new ones print none (docs/report.md).
"""

from __future__ import annotations

import json
import subprocess
import sys

from vssleval import timing
from vssleval.cli import main


def _note_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if "deprecated" in line]


def test_rescore_subcommand_equals_the_old_spelling(runs, tmp_path, capsys):
    run = str(runs["center"])
    assert main(["rescore", run, "--out", str(tmp_path / "new"), "--bootstrap", "0"]) == 0
    assert _note_lines(capsys.readouterr().err) == []
    assert main(["report", "--from-store", run, "--out", str(tmp_path / "old"), "--bootstrap", "0"]) == 0
    notes = _note_lines(capsys.readouterr().err)
    assert notes == ["vssleval: note: `vssleval report --from-store` is deprecated; use "
                     "`vssleval rescore RUN_DIR --out DIR`"]
    new, old = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("new", "old"))
    assert new["command"]["argv"][1] == "rescore" and old["command"]["argv"][1:3] == ["report", "--from-store"]
    for key in timing.PROCESS_KEYS:  # each process's own timing and command line
        new.pop(key), old.pop(key)
    assert new == old
    assert (tmp_path / "new" / "per_sample.csv").read_text() == (tmp_path / "old" / "per_sample.csv").read_text()


def test_rescore_passes_its_protocol_on(runs, tmp_path, capsys):
    """A vssleval run holds no OGL prior, so rescoring it under juanola2025 is refused: the flag arrived."""
    assert main(["rescore", str(runs["center"]), "--protocol", "juanola2025", "--out", str(tmp_path / "j"),
                 "--bootstrap", "0"]) == 2
    assert "OGL object prior" in capsys.readouterr().err


def test_compare_subcommand_equals_the_old_spelling(runs, tmp_path, capsys):
    a, b = str(runs["center"]), str(runs["random"])
    assert main(["compare", a, b, "--out", str(tmp_path / "new"), "--bootstrap", "20"]) == 0
    assert _note_lines(capsys.readouterr().err) == []
    assert main(["report", a, b, "--compare", "--out", str(tmp_path / "old"), "--bootstrap", "20"]) == 0
    assert len(_note_lines(capsys.readouterr().err)) == 1
    assert (tmp_path / "new" / "compare.csv").read_text() == (tmp_path / "old" / "compare.csv").read_text()


def test_compare_needs_two_runs(runs, tmp_path, capsys):
    for argv in ([str(runs["center"])], [str(runs["center"])] * 3):
        try:
            code = main(["compare", *argv, "--out", str(tmp_path / "x")])
        except SystemExit as exc:  # argparse: a usage error
            code = exc.code
        assert code == 2
    assert not (tmp_path / "x").exists()


def test_report_refuses_rescore_options_without_the_old_flag(runs, tmp_path, capsys):
    assert main(["report", str(runs["center"]), "--protocol", "juanola2025", "--out", str(tmp_path / "r")]) == 2
    assert "`vssleval rescore`" in capsys.readouterr().err


def test_compare_imports_no_torch(runs, tmp_path):
    """``vssleval compare`` reads two runs' per-sample records: NumPy work only, so a fresh
    interpreter running it never imports torch (about 2.5 CPU-s of start-up; docs/performance.md §8).
    ``vssleval report`` does: its threshold sweep upsamples the stored maps with torch's kernels."""
    code = ("import sys; from vssleval.cli import main; "
            f"rc = main(['compare', {str(runs['center'])!r}, {str(runs['random'])!r}, '--out', "
            f"{str(tmp_path / 'c')!r}, '--bootstrap', '20']); "
            "print(rc, sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "0 []"
    assert (tmp_path / "c" / "compare.csv").is_file()
