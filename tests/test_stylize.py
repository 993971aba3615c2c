"""The inference arithmetic (src/inference.py) and the Stylizer's precision choice."""

import numpy as np
import pytest

from src import devices, stylize
from src.stylize import Stylizer
from tests.fixtures import BATCH_ROUNDING, noise_images, random_network


@pytest.fixture(scope="module")
def model():
    return random_network(num_styles=2, seed=3)


def test_float32_forward_is_the_model(model):
    images = noise_images(37, 51, count=2)
    weights = [0.3, 0.7]
    ours = Stylizer(model, style_weights=weights, precision="float32")(images)
    expected = np.clip(np.asarray(model(images, style_weights=weights)), 0, 255)
    # Only the summation order differs (TensorFlow fuses each instance norm into one kernel).
    np.testing.assert_allclose(ours, expected, atol=0.01)


@pytest.mark.bfloat16
def test_bfloat16_forward_is_close(model):
    images = noise_images(96, 128)
    half = Stylizer(model, precision="bfloat16")(images)
    full = Stylizer(model, precision="float32")(images)
    assert 0 < np.abs(half - full).mean() < 2.0


@pytest.mark.bfloat16
def test_narrow_images_run_in_float32(model):
    """oneDNN's bfloat16 stride-2 convolution is wrong for 1-pixel-wide outputs."""
    images = noise_images(40, stylize.BFLOAT16_MIN_WIDTH - 1)
    narrow = Stylizer(model, precision="bfloat16")(images)
    expected = np.clip(np.asarray(model(images)), 0, 255)
    np.testing.assert_allclose(narrow, expected, atol=0.01)


def test_stylizer_sees_the_current_weights(model):
    """Training previews go through a Stylizer built once."""
    stylizer = Stylizer(model, precision="float32")
    images = noise_images(32, 32)
    before = stylizer(images)
    # The convolutions' kernels are read at every call.
    kernel = model.blocks[0].conv.kernel
    saved = kernel.numpy()
    kernel.assign(saved[..., ::-1] * 1.5)
    assert np.abs(stylizer(images) - before).max() > 1.0
    kernel.assign(saved)
    np.testing.assert_array_equal(stylizer(images), before)
    # Also the last kernel, which the forward pass rearranges for blocks of pixels at every call.
    last = model.blocks[-1].conv.kernel
    saved = last.numpy()
    last.assign(saved * 1.5 + 0.01)
    assert np.abs(stylizer(images) - before).max() > 1.0
    last.assign(saved)
    np.testing.assert_array_equal(stylizer(images), before)
    # The norms' scales and shifts are compiled in as constants, read again on refresh() (what
    # training does before a preview).
    scale = model.blocks[-1].norm.scale
    saved = scale.numpy()
    scale.assign(saved * 1.5)
    np.testing.assert_array_equal(stylizer(images), before)
    stylizer.refresh()
    assert np.abs(stylizer(images) - before).max() > 1.0
    scale.assign(saved)
    stylizer.refresh()
    np.testing.assert_array_equal(stylizer(images), before)


def test_images_per_pass_respects_the_tile_budget(model):
    stylizer = Stylizer(model, batch_size=4, tile_size=64)
    assert stylizer.images_per_pass(32, 32) == 4
    assert stylizer.images_per_pass(40, 40) == 2
    assert stylizer.images_per_pass(100, 100) == 1


def test_batches_of_what_free_memory_holds(model, monkeypatch):
    """Free memory that holds 2.5 images a pass: batches of two (a share of the memory once
    made the count 2.0, and every batch a TypeError)."""
    from src import memory

    images = noise_images(40, 50, count=5)
    alone = np.concatenate([Stylizer(model, precision="float32")(image[None]) for image in images])
    image_bytes = 40 * 50 * memory.BYTES_PER_PIXEL
    monkeypatch.setattr(memory, "available_memory", lambda: int(2.5 * image_bytes / memory.MEMORY_SHARE) + 1)
    monkeypatch.setattr(memory, "MIN_TILE_SIZE", 8)  # else tiles of 128 would set the budget
    stylizer = Stylizer(model, precision="float32")
    assert stylizer.images_per_pass(40, 50) == 2
    np.testing.assert_allclose(stylizer(images), alone, atol=BATCH_ROUNDING)


def test_bfloat16_flag_on_a_cpu_without_it_is_a_usage_error(monkeypatch, tmp_path, capsys):
    import evaluate

    monkeypatch.setattr(devices, "cpu_flags", lambda: {"avx2"})
    source = tmp_path / "in.png"
    from PIL import Image

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(source)
    argv = [
        "--in-path",
        str(source),
        "--out-path",
        str(tmp_path / "out.png"),
        "--precision",
        "bfloat16",
        "--device",
        "cpu",
    ]
    with pytest.raises(SystemExit) as exit_info:
        evaluate.main(argv)
    assert exit_info.value.code == 2
    assert "no bfloat16 instructions" in capsys.readouterr().err
    assert not (tmp_path / "out.png").exists()
