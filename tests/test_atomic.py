"""Atomic writes: temporary names that fit wherever the final name fits, and the leftovers of
killed writers removed while those of live ones are kept."""

import os
import subprocess
import sys

import pytest

from src.atomic import atomic_path, remove_stale


def test_a_name_at_the_file_system_limit_can_be_written(tmp_path):
    for name in ("x" * 251 + ".png", "é" * 120 + ".png"):  # 255 bytes; 244 bytes in UTF-8
        with atomic_path(tmp_path / name) as temporary:
            assert len(temporary.name.encode()) <= 255
            temporary.write_text("done")
        assert (tmp_path / name).read_text() == "done"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["x" * 251 + ".png", "é" * 120 + ".png"])


@pytest.mark.skipif(sys.platform != "linux", reason="names that are not UTF-8 are Linux file systems' own")
def test_a_name_that_is_not_utf8_can_be_written(tmp_path):
    """Latin-1 names from an old archive: Python holds their bytes as surrogates, which
    str.encode() refuses; evaluate.py skipped such photos and transform_video.py stopped."""
    names = [os.fsdecode(b"caf\xe9.png"), os.fsdecode(b"x" * 249 + b"\xe9\xff.png")]  # the second at the limit
    for name in names:
        with atomic_path(tmp_path / name) as temporary:
            assert len(os.fsencode(temporary.name)) <= 255
            temporary.write_text("done")
        assert (tmp_path / name).read_text() == "done"
    assert sorted(os.listdir(os.fsencode(tmp_path))) == [b"caf\xe9.png", b"x" * 249 + b"\xe9\xff.png"]


def test_two_long_names_get_different_temporaries(tmp_path):
    names = ["y" * 250 + ".png", "y" * 249 + "z.png"]
    paths = []
    for name in names:
        with atomic_path(tmp_path / name) as temporary:
            paths.append(temporary.name)
            temporary.write_text(name)
    assert paths[0] != paths[1]
    assert all((tmp_path / name).read_text() == name for name in names)


def dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_leftovers_of_dead_writers_go_and_a_live_writers_stay(tmp_path):
    dead, alive = dead_pid(), os.getppid()
    stale = tmp_path / f".photo.png.{dead}.tmp"
    live = tmp_path / f".photo.png.{alive}.tmp"
    other = tmp_path / f".other.png.{dead}.tmp"
    for path in (stale, live, other):
        path.write_text("half")
    remove_stale(tmp_path / "photo.png")
    assert not stale.exists() and live.exists() and other.exists()
    with atomic_path(tmp_path / "other.png") as temporary:  # every write cleans up after the dead
        temporary.write_text("done")
    assert not other.exists() and live.exists()


def test_a_failed_write_leaves_the_old_file(tmp_path):
    (tmp_path / "a.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "a.txt") as temporary:
            temporary.write_text("new")
            raise RuntimeError
    assert (tmp_path / "a.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
