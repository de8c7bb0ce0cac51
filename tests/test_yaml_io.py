"""Issue 19: every YAML vssleval reads (model configs, dataset configs, plug-in YAMLs) goes through one
safe loader (vssleval/yaml_io.py); any problem is one ``vssleval: error:`` line naming the file and
the line, never a parser traceback, and a ``!!python/...`` tag is refused without running anything."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from vssleval.cli import main
from vssleval.errors import VsslevalError
from vssleval.models.registry import load_model_config
from vssleval.resources import dataset_config_dir

PLUGIN = '''
from vssleval.models.baselines import CenterPrior


class Yamly(CenterPrior):
    pass
'''

GOOD_YAML = """\
model: {size: 7}
checkpoint: {}
presets:
  juanola2025:
    audio: {}
    image: {}
    map: {raw: identity, upsample: {positive: bilinear}, normalize: none}
"""

#: name -> (YAML bytes, what the one-line message must say)
BAD_YAMLS = {
    "python_tag": (b"model: !!python/object/apply:os.system ['touch CANARY']\n",
                   "line 1, column 8: the tag !!python/object/apply:os.system asks for a Python object"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "it is not UTF-8 text (byte 0 is b'\\x89', line 1)"),
    "nul_character": (b"model: {}\nname: a\x00b\n", "line 2: character U+0000 is not allowed"),
    "repeated_key": (GOOD_YAML.encode() + b"presets: {}\n", "line 8, column 1: key 'presets' is given twice"),
    "preset_block_not_a_mapping": (GOOD_YAML.replace("audio: {}", "audio: 5").encode(),
                                   "preset 'juanola2025': `audio` must be a mapping"),
    "threshold_not_a_number": (GOOD_YAML.replace("checkpoint: {}", "checkpoint: {}\nthresholds: {max: abc}").encode(),
                               "`thresholds: max` must be a finite number, got str 'abc'"),
    "checkpoint_parts_not_a_mapping": (GOOD_YAML.replace("checkpoint: {}", "checkpoint: {parts: 5}").encode(),
                                       "`checkpoint: parts` must map module prefixes to file names, got int 5"),
    "native_evaluator_not_a_name": (GOOD_YAML.replace("checkpoint: {}",
                                                      "checkpoint: {}\nnative_evaluator: [1]").encode(),
                                    "`native_evaluator:` must be an evaluator's name, got list [1]"),
    "model_section_not_a_mapping": (GOOD_YAML.replace("model: {size: 7}", "model: [7]").encode(),
                                    "`model:` must be a mapping (the model's constructor arguments), got list [7]"),
}


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a CANARY written by the tag would land here
    (tmp_path / "yamly.py").write_text(textwrap.dedent(PLUGIN))
    return tmp_path


@pytest.mark.parametrize("case", sorted(BAD_YAMLS))
def test_bad_plugin_yaml_is_one_line_naming_file_and_line(plugin, case, capsys):
    text, expected = BAD_YAMLS[case]
    (plugin / "yamly.yaml").write_bytes(text)
    code = main(["evaluate", "--model-file", f"{plugin / 'yamly.py'}:Yamly", "--limit", "2", "--seeds", "1",
                 "--device", "cpu", "--bootstrap", "0", "--out", str(plugin / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    [line] = [l for l in err.splitlines() if l.startswith("vssleval: error:")]
    assert str(plugin / "yamly.yaml") in line and expected in line, line
    assert not (plugin / "CANARY").exists() and not (plugin / "run").exists()


def _datasets_with_config(tmp_path, monkeypatch, capsys, name: str, text: str) -> tuple[Path, str]:
    """``vssleval datasets`` with the shipped dataset configs plus ``name`` holding ``text``: it must
    exit 2 without a traceback; returns the added file and stderr."""
    configs = tmp_path / "datasets"
    shutil.copytree(dataset_config_dir(), configs)
    (configs / name).write_text(text)
    monkeypatch.setenv("VSSLEVAL_DATASET_CONFIGS", str(configs))
    from vssleval.data import registry

    registry._raw_configs.cache_clear()
    try:
        assert main(["datasets"]) == 2
    finally:
        registry._raw_configs.cache_clear()
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return configs / name, err


def test_dataset_configs_go_through_the_same_loader(tmp_path, monkeypatch, capsys):
    path, err = _datasets_with_config(tmp_path, monkeypatch, capsys, "evil.yaml", "layout: !!python/name:os.system\n")
    assert f"cannot read dataset config {path}, line 1, column 9: the tag !!python/name:os.system" in err


def test_dataset_config_sections_of_the_wrong_type(tmp_path, monkeypatch, capsys):
    path, err = _datasets_with_config(tmp_path, monkeypatch, capsys, "odd.yaml", "layout: vggss\nextends: [vggss]\n")
    assert f"dataset config {path}: `extends:` must be text, got list ['vggss']" in err


def test_every_shipped_yaml_reads_under_the_strict_loader():
    """No shipped config repeats a key (the strict loader would refuse it) or holds a tag."""
    from vssleval.models.registry import list_models

    for name in list_models():
        assert isinstance(load_model_config(name), dict)
    with pytest.raises(VsslevalError, match="given twice"):
        from vssleval.yaml_io import parse_yaml

        parse_yaml("a: 1\na: 2\n", "x.yaml", "test")
