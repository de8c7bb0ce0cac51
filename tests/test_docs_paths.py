"""Issue 19: the user-facing docs describe the full fixture set by what it is and by
``VSSLEVAL_FIXTURES``, never by ``../shared``, a folder beside the checkout that no user has."""

from __future__ import annotations

from shared import ROOT

DOCS = [ROOT / "README.md", ROOT / "tests" / "fixtures" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_docs_do_not_send_users_to_a_shared_folder():
    naming = [str(doc.relative_to(ROOT)) for doc in DOCS
              if "../shared" in (text := doc.read_text(encoding="utf-8")) or "shared/fixtures" in text]
    assert naming == []
    for doc in (ROOT / "README.md", ROOT / "docs" / "testing.md"):  # what users are told instead
        assert "VSSLEVAL_FIXTURES" in doc.read_text(encoding="utf-8"), doc
