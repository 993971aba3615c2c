"""src/out_paths.py: where outputs go."""

import time

from src.out_paths import into_folder, new_file, takes_many


def test_a_new_file_is_named_by_the_time_and_never_one_that_exists(tmp_path):
    now = time.mktime((2026, 12, 7, 9, 5, 3, 0, 0, -1))
    first = new_file(tmp_path / "takes", "take", ".mp4", now)
    assert first == tmp_path / "takes" / "take_20261207_090503.mp4" and not first.parent.exists()  # nothing made yet
    first.parent.mkdir()
    first.write_bytes(b"a take")
    second = new_file(tmp_path / "takes", "take", ".mp4", now)
    assert second.name == "take_20261207_090503_2.mp4"
    second.write_bytes(b"another")
    assert new_file(tmp_path / "takes", "take", ".mp4", now).name == "take_20261207_090503_3.mp4"


def test_a_folder_is_one_that_exists_or_ends_in_a_separator(tmp_path):
    (tmp_path / "there").mkdir()
    assert into_folder(tmp_path / "there") and into_folder(f"{tmp_path}/new/") and not into_folder(tmp_path / "new")


def test_on_windows_either_separator_ends_a_folder(monkeypatch):
    import os

    monkeypatch.setattr(os, "sep", "\\")
    monkeypatch.setattr(os, "altsep", "/")
    assert into_folder("results/") and into_folder("results\\") and not into_folder("results")


def test_a_folder_or_a_pattern_takes_many_inputs(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "a.jpg").write_bytes(b"")
    assert takes_many(tmp_path / "photos") and takes_many(f"{tmp_path}/*.jpg")
    assert not takes_many(tmp_path / "a.jpg") and not takes_many(tmp_path / "missing.jpg")


def test_a_folder_that_cannot_be_written_says_why(tmp_path, monkeypatch):
    """A folder on a read-only file system (a mounted camera card, a read-only share) is named as
    such; the checks are os.access's and statvfs's, stood in for here, as root passes them."""
    import os
    import types

    import pytest

    from src.out_paths import OutPathError, check_folder

    monkeypatch.setattr(os, "access", lambda path, mode: False)
    monkeypatch.setattr(os, "statvfs", lambda path: types.SimpleNamespace(f_flag=os.ST_RDONLY))
    with pytest.raises(OutPathError, match=f"cannot write into {tmp_path}: {tmp_path} is on a read-only file system"):
        check_folder(tmp_path)
    monkeypatch.setattr(os, "statvfs", lambda path: types.SimpleNamespace(f_flag=0))
    with pytest.raises(OutPathError, match=f"cannot create folder {tmp_path / 'new'}: {tmp_path} is not writable"):
        check_folder(tmp_path / "new")
