"""Convolutions computed on blocks of pixels (space-to-depth): the same sums in another order,
for the 9x9 convolutions at full resolution to few channels.

oneDNN and OpenVINO vectorise a convolution over its output channels, so a 9x9 convolution to 3
channels fills a fraction of each vector: the transform network's last one was the slowest layer
of the teacher and of a slim student. On 2x2 blocks it is a 5x5 convolution from 4 x C to 12
channels at a quarter of the pixels: 25 / 81 x 16 / 4 = 1.23 times the multiply-adds, and
faster on both inference engines in both precisions and in the training step on the CPU
(bench/README.md, "The 9x9 convolutions on blocks of pixels").

On the CPU, src/inference.py runs them this way at inference, and `ConvBlock.call`
(src/transform.py) when training. Exports and every other call of the Keras model keep the
plain convolution, the form every runtime knows.
"""

import numpy as np
from keras import ops


def on_blocks(block):
    """The convolutions worth running on blocks of pixels: a ConvBlock's 9x9 ones at full
    resolution, stride 1, to fewer than 16 channels, which are the last one (to RGB) and a
    quarter-width student's first. The teacher's first (to 32) ran slower on blocks, a
    half-width student's (to 16) no faster; a 3x3 would cost 4 times its multiply-adds."""
    return block.kernel_size == 9 and block.strides == 1 and not block.transpose and block.filters < 16


def pays_off():
    """Whether to use the blocks at all: on the CPU, where they were measured faster; not where
    the Keras backend sees a GPU, where they were not measured."""
    from src.devices import gpu_compute_capabilities

    return not gpu_compute_capabilities()


def convolve_on_blocks(x, kernel, blocks=2, padding="same", dtype=None, result_dtype=None):
    """x (B, H, W, C) convolved with a stride-1 kernel (K, K, C, O), K odd, computed on `blocks`
    x `blocks` blocks of pixels: space-to-depth, one convolution, depth-to-space, cropped; the
    sums of `ops.conv(x, kernel, 1, padding)` in another order. "valid" (tiles,
    src/tiling.py): the "same" result without its border of half a kernel, where the plain one
    would have read padding.

    dtype: the convolution's number format, which x and the kernel are cast to once rearranged
    (None: x's); result_dtype: the output's, cast to before its rearrangement (None: dtype).
    """
    size, filters = kernel.shape[0], kernel.shape[-1]
    kernel = blocked_kernel(kernel, blocks)  # (K, K, C, O) -> (K', K', b*b*C, b*b*O)
    batch, height, width, channels = ops.shape(x)[0], ops.shape(x)[1], ops.shape(x)[2], x.shape[-1]
    rows, columns = (height + blocks - 1) // blocks, (width + blocks - 1) // blocks
    # Zeros beyond the edge are what "same" padding reads there anyway.
    x = ops.pad(x, [[0, 0], [0, rows * blocks - height], [0, columns * blocks - width], [0, 0]])
    # Five dimensions, not six: OpenVINO's transposes run faster with fewer (bench/README.md).
    x = ops.reshape(x, (batch, rows, blocks, columns, blocks * channels))
    x = ops.reshape(ops.transpose(x, (0, 1, 3, 2, 4)), (batch, rows, columns, blocks * blocks * channels))
    dtype = dtype or x.dtype
    y = ops.conv(ops.cast(x, dtype), ops.cast(kernel, dtype), 1, padding="same")
    y = ops.cast(y, result_dtype or dtype)
    y = ops.reshape(y, (batch, rows, columns, blocks, blocks * filters))
    y = ops.reshape(ops.transpose(y, (0, 1, 3, 2, 4)), (batch, rows * blocks, columns * blocks, filters))
    border = size // 2 if padding == "valid" else 0
    return y[:, border : height - border, border : width - border, :]


def blocked_kernel(kernel, blocks):
    """A stride-1 "same" kernel (K, K, C, O), K odd -> the kernel of the same convolution on
    blocks x blocks blocks of pixels, (K', K', b*b*C, b*b*O) with K' = 2 * ceil((K // 2) / b) + 1:
    output pixel b*P + r reads input pixel b*Q + t through tap b*(Q - P) + t - r + K // 2, zero
    where that falls outside the kernel. Built from the kernel at every call, by gathers (which
    carry gradients): a training preview sees the current weights, and training trains the
    kernel itself."""
    size, channels, filters = kernel.shape[0], kernel.shape[2], kernel.shape[3]
    reach = (size // 2 + blocks - 1) // blocks
    offset = np.arange(-reach, reach + 1)[:, None, None]  # Q - P
    phase_in, phase_out = np.arange(blocks)[None, :, None], np.arange(blocks)[None, None, :]
    tap = blocks * offset + phase_in - phase_out + size // 2  # (K', b, b)
    tap = np.where((tap >= 0) & (tap < size), tap, size).reshape(-1)  # `size`: the zero tap padded on
    padded = ops.pad(kernel, [[0, 1], [0, 1], [0, 0], [0, 0]])
    taps = ops.take(ops.take(padded, tap, axis=0), tap, axis=1)  # (K'*b*b, K'*b*b, C, O)
    span = 2 * reach + 1
    taps = ops.reshape(taps, (span, blocks, blocks, span, blocks, blocks, channels, filters))
    # (dy, t_y, r_y, dx, t_x, r_x, C, O) -> (dy, dx, [t_y, t_x, C], [r_y, r_x, O])
    taps = ops.transpose(taps, (0, 3, 1, 4, 6, 2, 5, 7))
    return ops.reshape(taps, (span, span, blocks * blocks * channels, blocks * blocks * filters))
