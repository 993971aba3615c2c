"""Convolutions on blocks of pixels (src/pixel_blocks.py): the same sums as the plain
convolution, at inference (src/inference.py) and in training (ConvBlock.call)."""

import numpy as np
import pytest
from keras import ops

from src import pixel_blocks
from src.pixel_blocks import convolve_on_blocks, on_blocks
from src.transform import ConvBlock, build_transform_net
from tests.fixtures import count_blocked_calls, noise_images


def conv_block(filters, kernel_size, channels, **kwargs):
    block = ConvBlock(filters, kernel_size, relu=False, **kwargs)
    block.build((None, None, None, channels))
    return block


@pytest.mark.parametrize("kernel_size", [9, 7, 5, 3, 1])
@pytest.mark.parametrize("blocks", [2, 3])
@pytest.mark.parametrize(
    "padding, height, width",
    [("same", 1, 1), ("same", 1, 7), ("same", 2, 3), ("same", 5, 5), ("same", 12, 17)]
    + [("valid", 9, 9), ("valid", 10, 13), ("valid", 16, 11)],
)
def test_a_convolution_on_blocks_of_pixels_is_the_convolution(kernel_size, blocks, padding, height, width):
    """The same sums on blocks x blocks blocks, whatever the kernel (taps beyond it are zeros),
    the image's size (padded to whole blocks, then cropped), the edges, and "valid" as the
    tiles use it."""
    kernel = conv_block(5, kernel_size, 6).conv.kernel
    x = np.random.default_rng(kernel_size).normal(size=(2, height, width, 6)).astype(np.float32)
    expected = np.asarray(ops.conv(x, kernel, 1, padding=padding))
    ours = np.asarray(convolve_on_blocks(x, kernel, blocks, padding))
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, atol=1e-4)


@pytest.mark.bfloat16
def test_a_convolution_on_blocks_of_pixels_in_bfloat16_is_the_convolution_in_bfloat16():
    """Both round the same inputs and taps to bfloat16 and sum in float32: only the order of the
    sums differs, whichever kernels oneDNN picks on this CPU for the wider channels."""
    kernel = conv_block(3, 9, 32).conv.kernel
    x = np.random.default_rng(2).normal(size=(1, 31, 45, 32)).astype(np.float32)
    rounded = ops.cast(x, "bfloat16"), ops.cast(kernel, "bfloat16")
    expected = np.asarray(ops.cast(ops.conv(*rounded, 1, "same"), "float32"))
    ours = convolve_on_blocks(x, kernel, dtype="bfloat16", result_dtype="float32")
    assert ours.dtype == "float32"
    # The outputs themselves are rounded to bfloat16 (8 bits of mantissa), each once.
    np.testing.assert_allclose(np.asarray(ours), expected, rtol=2e-2, atol=2e-2 * np.abs(expected).max())


def test_the_full_resolution_convolutions_to_few_channels_run_on_blocks():
    """The last convolution (to RGB) of every network, and the first of students narrower than
    half width; never a 3x3 (four times the multiply-adds on blocks) nor a strided one."""

    def blocked(width):
        return [block.name for block in build_transform_net(width=width).layers_in_order() if on_blocks(block)]

    assert blocked(1.0) == blocked(0.5) == ["conv_out"]
    assert blocked(0.25) == ["conv1", "conv_out"]


def output_and_gradient(block, x, weights, training):
    """The block's output, and the gradient for its kernel of a fixed weighted sum of it."""
    import tensorflow as tf

    probe = np.random.default_rng(6).normal(size=(*x.shape[:-1], block.filters)).astype(np.float32)
    with tf.GradientTape() as tape:
        y = tf.cast(block(x, weights, training=training), "float32")
        loss = tf.reduce_sum(y * probe)
    return np.asarray(y), np.asarray(tape.gradient(loss, block.conv.kernel))


def test_training_on_the_cpu_runs_the_blocks_with_the_same_outputs_and_gradients(monkeypatch):
    block = conv_block(3, 9, 8, num_styles=2)
    x = np.random.default_rng(4).normal(size=(2, 13, 18, 8)).astype(np.float32)
    weights = np.asarray([[1.0, 0.0], [0.3, 0.7]], np.float32)
    calls = count_blocked_calls(monkeypatch)
    plain, plain_gradient = output_and_gradient(block, x, weights, training=False)
    assert not calls
    ours, our_gradient = output_and_gradient(block, x, weights, training=True)
    assert calls
    np.testing.assert_allclose(ours, plain, atol=1e-4)
    np.testing.assert_allclose(our_gradient, plain_gradient, atol=1e-4 * np.abs(plain_gradient).max())
    # Not where the backend sees a GPU: there the blocks were not measured.
    calls.clear()
    monkeypatch.setattr("src.devices.gpu_compute_capabilities", lambda: [(9, 0)])
    output_and_gradient(block, x, weights, training=True)
    assert not calls


@pytest.mark.tf_bfloat16
def test_mixed_bfloat16_training_keeps_the_layers_number_format(monkeypatch):
    """Under mixed_bfloat16 the blocked convolution hands the instance norm bfloat16, as Conv2D
    does, and the block's output stays near the plain one's."""
    import keras

    calls = count_blocked_calls(monkeypatch)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        block = conv_block(3, 9, 8)
        x = np.random.default_rng(5).normal(size=(1, 10, 14, 8)).astype(np.float32)
        weights = np.ones((1, 1), np.float32)
        blocked = convolve_on_blocks(ops.cast(x, "bfloat16"), block.conv.kernel, dtype=block.compute_dtype)
        assert keras.backend.standardize_dtype(blocked.dtype) == "bfloat16"
        trained, plain = block(x, weights, training=True), block(x, weights)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert len(calls) == 1
    assert keras.backend.standardize_dtype(trained.dtype) == keras.backend.standardize_dtype(plain.dtype) == "bfloat16"
    trained, plain = (np.asarray(ops.cast(y, "float32")) for y in (trained, plain))
    # Instance-normalized outputs, each rounded to bfloat16 once: about 1% of their spread.
    assert np.abs(trained - plain).max() < 0.05 * np.abs(plain).max()


def test_a_network_paints_the_same_in_training_as_in_use(monkeypatch):
    """A quarter-width network: its first and its last convolution on blocks."""
    model = build_transform_net(num_styles=1, width=0.25, residual_blocks=1)
    images = noise_images(21, 30, count=2)
    calls = count_blocked_calls(monkeypatch)
    trained = np.asarray(model(images, training=True))
    assert len(calls) == 2
    np.testing.assert_allclose(trained, np.asarray(model(images)), atol=1e-3)


def test_whether_the_blocks_are_used_follows_the_gpus(monkeypatch):
    monkeypatch.setattr("src.devices.gpu_compute_capabilities", lambda: [])
    assert pixel_blocks.pays_off()
    monkeypatch.setattr("src.devices.gpu_compute_capabilities", lambda: [(8, 6)])
    assert not pixel_blocks.pays_off()


def test_inference_uses_the_blocks_on_the_cpu_only(monkeypatch):
    from src.stylize import Stylizer

    calls = count_blocked_calls(monkeypatch, "src.inference")
    model = build_transform_net(width=0.25, residual_blocks=1)
    images = noise_images(20, 28)
    on_the_cpu = Stylizer(model, precision="float32", engine="tensorflow")(images)
    assert len(calls) == 2  # traced once: the first and the last convolution
    monkeypatch.setattr("src.devices.gpu_compute_capabilities", lambda: [(8, 6)])
    calls.clear()
    plain = Stylizer(model, precision="float32", engine="tensorflow")(images)
    assert not calls
    np.testing.assert_allclose(plain, on_the_cpu, atol=1e-3)
