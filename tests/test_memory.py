"""The memory budget: --tile-size's checks, and when images run whole, how many per pass, and
when in tiles. And the C allocator keeping what a stylizing loop frees."""

import os
import platform
import subprocess
import sys

import pytest

from src import memory
from src.stylize import Stylizer
from tests.fixtures import ROOT, random_network


@pytest.fixture(scope="module")
def model():
    return random_network()


@pytest.mark.parametrize("bad", [-1, 1, 31])
def test_tile_size_validation(model, bad):
    with pytest.raises(ValueError, match="at least 32"):
        memory.check_tile_size(bad)
    with pytest.raises(ValueError, match="at least 32"):
        Stylizer(model, tile_size=bad)
    assert memory.check_tile_size(0) == 0
    assert memory.check_tile_size(32) == 32


@pytest.mark.parametrize(
    ("text", "message"), [("5", "at least 32"), ("abc", "not a whole number"), ("-3", "at least 32")]
)
def test_tile_size_flag_is_checked_by_the_parser(text, message, capsys):
    import evaluate

    with pytest.raises(SystemExit) as exit_info:
        evaluate.build_parser().parse_args(["--in-path", "a", "--out-path", "b", "--tile-size", text])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_plan_tiles_only_above_the_budget():
    assert memory.plan(100, 100, 4, tile_size=64)[:2] == (1, 64)
    assert memory.plan(60, 60, 4, tile_size=64)[:2] == (1, None)
    assert memory.plan(30, 30, 4, tile_size=64)[:2] == (4, None)  # four fit in 64 x 64
    assert memory.plan(30, 40, 8, tile_size=64)[:2] == (3, None)
    side = memory.auto_tile_size()
    assert side >= 4 * memory.MIN_TILE_SIZE and side % 64 == 0
    assert memory.plan(side, side, 4)[1] is None  # whole images go up to a larger budget
    assert memory.plan(100 * side, side, 4)[:2] == (1, side)


def test_batches_follow_free_memory_not_the_tile_size(monkeypatch):
    photo_bytes = 680 * 1024 * memory.BYTES_PER_PIXEL  # 1024x680: 0.42 GB a pass
    monkeypatch.setattr(memory, "available_memory", lambda: 16 << 30)
    assert memory.plan(680, 1024, 4) == (4, None, 2 << 30)  # MAX_WHOLE_BYTES holds four
    monkeypatch.setattr(memory, "available_memory", lambda: 4 * photo_bytes)
    assert memory.plan(680, 1024, 4)[:2] == (1, None)  # a quarter of it holds one
    # A laptop with 5 GiB free holds three: a count, not 3.0, which broke evaluate.py's batches.
    monkeypatch.setattr(memory, "available_memory", lambda: 5 << 30)
    plan = memory.plan(680, 1024, 4)
    assert plan[:2] == (3, None) and type(plan.batch) is int and type(plan.whole_bytes) is int


def test_a_slim_network_runs_larger_images_whole_and_a_wide_one_tiles_sooner(monkeypatch):
    assert memory.bytes_per_pixel(1.0) == memory.BYTES_PER_PIXEL
    quarter, double = memory.bytes_per_pixel(0.25), memory.bytes_per_pixel(2.0)
    assert memory.FIXED_BYTES_PER_PIXEL < quarter < memory.BYTES_PER_PIXEL / 2 and double > 1.8 * memory.BYTES_PER_PIXEL
    monkeypatch.setattr(memory, "available_memory", lambda: 16 << 30)
    side = 2200  # 4.8 megapixels: above the full network's whole-image budget, within a quarter's
    assert memory.plan(side, side, 4)[:2] == (1, memory.auto_tile_size())
    assert memory.plan(side, side, 4, per_pixel=quarter) == (2, None, 2 << 30)  # two at once, even
    assert memory.plan(1500, 1500, 4)[1] is None and memory.plan(1500, 1500, 4, per_pixel=double)[1] is not None
    # Slimmer networks also get larger tiles; --tile-size N keeps meaning "whole up to N x N".
    assert memory.auto_tile_size(per_pixel=quarter) > memory.auto_tile_size()
    assert memory.plan(300, 300, 1, tile_size=256, per_pixel=quarter)[1] == 256
    assert memory.plan(256, 256, 1, tile_size=256, per_pixel=double)[1] is None


def test_check_fits_names_memory_and_disk(monkeypatch, tmp_path):
    import collections
    import shutil

    monkeypatch.setattr(memory, "available_memory", lambda: 8 << 30)
    memory.check_fits(4000, 3000)  # 12 MP: buffers in memory, 0.1 GiB of pixels
    with pytest.raises(memory.DoesNotFit, match=r"30000x30000 \(900 megapixels\) needs about 13.2 GiB of memory; 8.0 GiB"):
        memory.check_fits(30000, 30000)
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda folder: usage(1 << 40, 0, 1 << 30))
    with pytest.raises(memory.DoesNotFit, match=f"temporary disk space in {tmp_path}.*FST_TMPDIR.*1.0 GiB is free"):
        memory.check_fits(12000, 12000, folder=str(tmp_path))
    assert memory.buffers_on_disk(12000, 12000) and not memory.buffers_on_disk(4000, 3000)


def test_a_photo_too_large_is_refused_before_decoding(tmp_path, capsys, monkeypatch):
    import evaluate
    from PIL import Image

    Image.new("RGB", (600, 500)).save(tmp_path / "big.png")
    Image.new("RGB", (60, 50)).save(tmp_path / "small.png")
    monkeypatch.setattr(memory, "WORKING_SET_BYTES", 1 << 50)  # no machine has that
    status = evaluate.main(["--in-path", str(tmp_path), "--out-path", str(tmp_path / "out"), "--tile-size", "64"])
    err = capsys.readouterr().err
    assert status == 1
    assert "big.png: too large for this machine" in err and "GiB of memory" in err and "Traceback" not in err
    assert sorted(os.listdir(tmp_path / "out")) == ["small.png"]


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="tunes glibc's malloc; elsewhere it does nothing")
def test_freed_blocks_are_kept_for_the_next_frame():
    # glibc made to map every block afresh (its thresholds fixed at their starting value): each
    # frame then faults in every page it writes, about 43,500 in ten frames of 17 MiB. Once
    # keep_freed_memory has run, the blocks freed by a frame serve the next: no page faults.
    environment = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    faults = {}
    for mode in ("plain", "keep"):
        command = [sys.executable, "-m", "tests.in_subprocess.freed_memory", mode]
        done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT, env=environment)
        faults[mode] = int(done.stdout)
    assert faults["plain"] > 20000 and faults["keep"] < 200, faults
