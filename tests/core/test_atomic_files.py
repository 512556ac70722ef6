from __future__ import annotations

import pytest

from core.atomic_files import PARTIAL_PREFIX, atomic_output, remove_stale_partials


def test_success_replaces_the_destination(tmp_path):
    target = tmp_path / "sub" / "result.txt"
    with atomic_output(target) as temp:
        assert temp.parent == target.parent and temp.suffix == ".txt" and temp.name.startswith(PARTIAL_PREFIX)
        temp.write_text("new")
    assert target.read_text() == "new" and list(target.parent.iterdir()) == [target]


def test_failure_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "result.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_output(target) as temp:
            temp.write_text("half")
            raise RuntimeError("cancelled")
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]


def test_stale_partials_are_removed(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / f"{PARTIAL_PREFIX}x-photo.png").write_bytes(b"")
    (tmp_path / "keep.png").write_bytes(b"")
    assert remove_stale_partials(tmp_path) == 1
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["keep.png"]
