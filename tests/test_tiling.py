"""Tiled stylization (src/tiling.py) gives the untiled picture, in any size, with every style."""

import collections
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from src import tiling
from src.stylize import Stylizer
from tests.fixtures import ROOT, noise_images, random_network


@pytest.fixture(scope="module")
def model():
    return random_network()


# (60, 60, 56): the residual blocks run whole at 1/4 resolution; the others tile them too.
@pytest.mark.parametrize(
    ("height", "width", "tile"), [(70, 100, 32), (71, 103, 32), (97, 61, 48), (64, 64, 32), (60, 60, 56)]
)
def test_tiled_equals_untiled(model, height, width, tile, monkeypatch):
    tiled_middle = []
    original = tiling.Tiler._tiled_middle
    monkeypatch.setattr(tiling.Tiler, "_tiled_middle", lambda *args: tiled_middle.append(True) or original(*args))
    images = noise_images(height, width)
    whole = Stylizer(model, precision="float32", tile_size=4096)(images)
    tiled = Stylizer(model, precision="float32", tile_size=tile)(images)
    # Only the summation order of the statistics differs.
    np.testing.assert_allclose(tiled, whole, atol=0.02)
    assert np.abs(whole - 127.5).mean() > 1.0  # a picture, not a constant
    assert bool(tiled_middle) == (tile != 56)


def test_tiled_equals_the_model_itself(model):
    images = noise_images(70, 100, count=2)
    tiled = Stylizer(model, precision="float32", tile_size=32)(images)
    expected = np.clip(np.asarray(model(images)), 0, 255)
    np.testing.assert_allclose(tiled, expected, atol=0.02)


def test_tiles_normalized_on_their_own_would_differ(model):
    """The point of global statistics: stylizing each tile as an image shows seams."""
    image = noise_images(64, 64)
    whole = Stylizer(model, precision="float32", tile_size=4096)(image)
    halves = np.concatenate([Stylizer(model, precision="float32")(half) for half in np.split(image, 2, axis=2)], axis=2)
    assert np.abs(halves - whole).max() > 1.0


def test_multi_style_model_tiles_with_its_style_weights():
    model = random_network(num_styles=3, seed=2)
    images = noise_images(70, 90)
    weights = [0.2, 0.5, 0.3]
    whole = Stylizer(model, style_weights=weights, precision="float32", tile_size=4096)(images)
    tiled = Stylizer(model, style_weights=weights, precision="float32", tile_size=32)(images)
    np.testing.assert_allclose(tiled, whole, atol=0.02)
    first_style = Stylizer(model, precision="float32", tile_size=32)(images)
    assert np.abs(first_style - tiled).mean() > 1.0


@pytest.mark.bfloat16
def test_bfloat16_tiles_match_untiled_bfloat16(model):
    """bfloat16 rounds intermediate values, so tiles and whole images round a few values
    differently; on a tiny image that is all."""
    images = noise_images(96, 128)
    whole = Stylizer(model, precision="bfloat16", tile_size=4096)(images)
    tiled = Stylizer(model, precision="bfloat16", tile_size=48)(images)
    assert np.abs(tiled - whole).mean() < 1.0


def test_tiles_have_one_shape_and_cover_every_pixel_once():
    cases = [((70, 100), 32, 1), ((5, 7), 2, 1), ((64, 64), 64, 1), ((3, 1), 8, 1), ((71, 103), 32, 4), ((13, 9), 5, 2)]
    for size, side, align in cases:
        tiles = list(tiling._tiles(size, side, align))
        ((height, width),) = {(r1 - r0, c1 - c0) for (r0, r1), (c0, c1) in tiles}
        assert height % align == width % align == 0 and height < side + align and width < side + align
        assert len(tiles) <= -(-size[0] // side) * -(-size[1] // side)
        covered = np.zeros(size, int)
        for (r0, r1), (c0, c1) in tiles:
            assert r0 < size[0] and c0 < size[1]  # past the edge by less than a tile
            covered[r0:r1, c0:c1] += 1
        assert (covered == 1).all()


def test_every_pass_calls_each_function_with_one_shape(model, monkeypatch):
    """XLA compiles a function once per shape: edge tiles of their own shapes made JAX compile
    hundreds of times on a photo."""
    from src import inference

    passes, shapes = [0], collections.defaultdict(set)
    next_pass = tiling._Progress.next_pass
    monkeypatch.setattr(tiling._Progress, "next_pass", lambda *args: passes.append(passes.pop() + 1) or next_pass(*args))
    compile_function = inference.compile_function

    def recording(model, function, signature):
        compiled, key = compile_function(model, function, signature), object()

        def call(*args):
            shapes[passes[0], key].add(tuple(np.shape(a) for a in args))
            return compiled(*args)

        return call

    monkeypatch.setattr(inference, "compile_function", recording)
    Stylizer(model, precision="float32", tile_size=32)(noise_images(71, 103))
    assert passes[0] > 20 and len(shapes) > 50  # the residual blocks tiled too
    assert all(len(seen) == 1 for seen in shapes.values())


def test_evaluate_tiles_end_to_end(tmp_path):
    from PIL import Image

    import evaluate

    source = tmp_path / "photo.png"
    Image.fromarray(noise_images(50, 75)[0].astype(np.uint8)).save(source)
    argv = ["--in-path", str(source), "--precision", "float32"]
    assert evaluate.main([*argv, "--out-path", str(tmp_path / "whole.png")]) == 0
    assert evaluate.main([*argv, "--out-path", str(tmp_path / "tiled.png"), "--tile-size", "32"]) == 0
    whole = np.asarray(Image.open(tmp_path / "whole.png"), dtype=int)
    tiled = np.asarray(Image.open(tmp_path / "tiled.png"), dtype=int)
    assert whole.shape == (50, 75, 3)
    assert np.abs(whole - tiled).max() <= 1  # rounding to 8 bits


def test_tiling_on_jax():
    """The same tiles through JAX (the GPU machines' backend): one subprocess, as the backend is
    chosen at import."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.in_subprocess.tiling_jax"],
        cwd=ROOT,
        env={**__import__("os").environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    whole_error, tiled_error = map(float, result.stdout.split())
    assert whole_error < 0.02 and tiled_error < 0.02


def test_buffers_on_disk_give_the_same_picture_in_bytes_with_progress(model, monkeypatch, tmp_path):
    """Photos whose tiler buffers exceed memory.MAX_BUFFER_BYTES keep them in files and come back
    as uint8 made stripe by stripe: the same pixels, colour, strength and mixes included."""
    from src import memory
    from src.pixels import to_uint8

    second = random_network(seed=5)
    image = np.clip(noise_images(70, 100), 0, 255).astype(np.uint8)
    options = {"precision": "float32", "tile_size": 32, "preserve_color": True, "strength": 0.7}
    in_memory = Stylizer([model, second], style_weights=[1, 2], **options)(image.astype(np.float32))
    monkeypatch.setattr(memory, "MAX_BUFFER_BYTES", 0)
    monkeypatch.setenv("FST_TMPDIR", str(tmp_path))
    reports = []
    on_disk = Stylizer([model, second], style_weights=[1, 2], **options)(image, progress=reports.append)
    assert on_disk.dtype == np.uint8 and on_disk.shape == image.shape
    assert np.abs(on_disk.astype(int) - to_uint8(in_memory)).max() <= 1
    assert reports == sorted(reports) and reports[-1] == pytest.approx(1.0) and len(reports) > 20


def open_files_in(folder):
    """This process's open files in folder (Linux's /proc): the buffers' unnamed files included."""
    paths = (os.readlink(entry) for entry in Path("/proc/self/fd").iterdir() if entry.is_symlink())
    return [path for path in paths if path.startswith(str(folder))]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="lists open files in Linux's /proc")
@pytest.mark.parametrize("stop_after", [3, 40, None])
def test_buffers_on_disk_are_closed_at_once_even_when_stopped(model, monkeypatch, tmp_path, stop_after):
    """Each buffer's file (its disk space) is given back as soon as the tiler is done with it,
    and when it is stopped halfway, even while the traceback still holds the tiler's frames."""
    from src import memory

    monkeypatch.setattr(memory, "MAX_BUFFER_BYTES", 0)
    monkeypatch.setenv("FST_TMPDIR", str(tmp_path))
    steps, seen = [], []

    def progress(done):
        steps.append(done)
        seen.append(len(open_files_in(tmp_path)))
        if len(steps) == stop_after:
            raise KeyboardInterrupt

    image = np.clip(noise_images(70, 100), 0, 255).astype(np.uint8)
    stylizer = Stylizer([model, random_network(seed=5)], precision="float32", tile_size=32)
    if stop_after is None:
        stylizer(image, progress=progress)
        assert max(seen) >= 3  # the buffers were files, up to three at once
    else:
        with pytest.raises(KeyboardInterrupt) as stopped:
            stylizer(image, progress=progress)
        assert stopped.traceback  # held, and with it the frames of the tiler that was stopped
    assert open_files_in(tmp_path) == []


def test_a_student_mixed_with_a_tiled_network_runs_whole(model, monkeypatch):
    """With little memory free, the full network tiles a photo that its quarter-width student
    runs whole; their mix is the mix of their whole pictures."""
    from src import memory
    from src.transform import build_transform_net

    student = build_transform_net(width=0.25)
    image = noise_images(150, 170)
    whole = [Stylizer(m, precision="float32", tile_size=4096)(image) for m in (model, student)]
    per_pixel = memory.bytes_per_pixel()
    monkeypatch.setattr(memory, "available_memory", lambda: 4 * 20000 * per_pixel)  # whole up to 20,000 pixels
    mixed = Stylizer([model, student], style_weights=[1, 3], precision="float32")
    assert mixed.tiles(150, 170) and not Stylizer(student).tiles(150, 170)
    expected = 0.25 * whole[0] + 0.75 * whole[1]
    assert np.abs(mixed(image) - expected).max() < 0.05
