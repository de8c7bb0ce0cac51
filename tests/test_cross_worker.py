"""``cross_worker.build_once``: one build per session, reused, never a half-written folder."""

from __future__ import annotations

import pytest

from cross_worker import build_once, session_root


def test_built_once_then_reused(tmp_path_factory):
    calls = []

    def build(folder):
        calls.append(folder)
        (folder / "value.txt").write_text("42")

    first = build_once(tmp_path_factory, "answer-test", build)
    again = build_once(tmp_path_factory, "answer-test", build)
    assert first == again and (first / "value.txt").read_text() == "42"
    assert calls == [first]  # built in place: a build may record its own paths


def test_a_failed_build_leaves_nothing_that_is_trusted(tmp_path_factory):
    def broken(folder):
        (folder / "half.txt").write_text("half")
        raise RuntimeError("killed mid-build")

    with pytest.raises(RuntimeError):
        build_once(tmp_path_factory, "broken-test", broken)
    assert not (session_root(tmp_path_factory) / "broken-test").exists()
    done = build_once(tmp_path_factory, "broken-test", lambda f: (f / "ok.txt").write_text("ok"))
    assert sorted(p.name for p in done.iterdir()) == ["ok.txt"]
