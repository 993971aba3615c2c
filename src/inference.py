"""The transform network's inference arithmetic, block by block: what `src/stylize.py` (whole
images) and `src/tiling.py` (tiles that share whole-image statistics) both run.

TransformNet.call (src/transform.py) stays the definition and the training path. This module
reads the same variables and computes the same function, with freedoms that only inference has
(the measurements behind each are in bench/README.md, "Design measurements"):
- the convolutions may run in bfloat16: their inputs are rounded to bfloat16 and they
  accumulate in float32, while the instance-norm statistics, the normalization and the residual
  stream stay float32; oneDNN runs them on AMX. Rounding the normalized activations to bfloat16
  too (Keras' mixed_bfloat16 policy) lost precision and was slower, as bfloat16 element-wise
  arithmetic has no fast CPU kernels;
- the style mix is fixed, so every instance norm's scale and shift are constants (see
  `norm_parameters`), which lets TensorFlow fuse each norm into one kernel;
- statistics can come from outside (`normalize`) and convolutions can run unpadded
  (`convolve(..., padding="valid")`) on tiles whose borders the caller pads;
- on the CPU, the 9x9 convolutions at full resolution to few channels (the last one, to RGB) run
  on 2x2 blocks of pixels (src/pixel_blocks.py): the same sums, with four times the channels in
  and out (training on the CPU does this too).

Measured and rejected (bench/README.md): XLA (jit_compile=True), slower than TensorFlow's oneDNN
kernels; one-pass statistics (E[x^2] - E[x]^2), slower than two passes; eager execution, which
misses oneDNN's graph rewrites, so callers compile (`compile_function`); static shapes per size,
no faster than open ones; thread settings other than TensorFlow's defaults; several images per
call, not faster per image.
"""

import numpy as np
from keras import ops

from src.pixel_blocks import convolve_on_blocks, on_blocks, pays_off
from src.transform import ResidualBlock, fold_instance_norm, to_pixels


def norm_parameters(model, style_weights):
    """{id(ConvBlock): (scale, shift)}: every instance norm's scale and shift mixed for style
    weights (S,) summing to 1, as float32 NumPy vectors (C,), read from the variables now.

    Compiled functions take them as constants: a constant, one-dimensional scale and shift let
    TensorFlow's grappler (its oneDNN remapper) fuse each instance norm, moments to ReLU, into one
    kernel, a quarter of the network's time (bench/README.md), and is why the TF1 reference,
    built from constants, beat the Keras model in float32. Callers recompile when the weights
    change (src/stylize.py).
    """
    weights = np.asarray(style_weights, np.float32)
    parameters = {}
    for block in model.layers_in_order():
        scale, shift = (ops.convert_to_numpy(v).astype(np.float32) for v in (block.norm.scale, block.norm.shift))
        parameters[id(block)] = (weights @ scale, weights @ shift)
    return parameters


def convolve(block, x, dtype="float32", padding="same"):
    """A ConvBlock's convolution (no normalization) in `dtype`; returns the float32 pre-norm output.
    On the CPU the 9x9 ones at full resolution to few channels run on blocks of pixels
    (src/pixel_blocks.py), rearranged in float32 on both sides of the convolution, as measured."""
    if on_blocks(block) and pays_off():
        return convolve_on_blocks(x, block.conv.kernel, padding=padding, dtype=dtype, result_dtype="float32")
    if padding == "valid" and _valid_as_same(block):
        border = block.kernel_size // 2
        return convolve(block, x, dtype, "same")[:, border:-border, border:-border]
    kernel = ops.cast(block.conv.kernel, dtype)
    x = ops.cast(x, dtype)
    if block.transpose:
        y = ops.conv_transpose(x, kernel, block.strides, padding=padding)
    else:
        y = ops.conv(x, kernel, block.strides, padding=padding)
    return ops.cast(y, "float32")


def _valid_as_same(block):
    """Whether to compute a 'valid' convolution as the 'same' one without its border: stride 1
    on JAX on the CPU, where XLA ran 'same' two to three times as fast as 'valid' on tiles
    (bench/README.md, "Tiles of one shape"); the border costs a few rows and columns."""
    import keras

    return block.strides == 1 and not block.transpose and keras.backend.backend() == "jax" and pays_off()


def moments(y):
    """Per-example, per-channel mean and variance over height and width: (B, 1, 1, C) each."""
    return ops.moments(y, axes=[1, 2], keepdims=True)


def partial_moments(y, rows, cols):
    """A tile's per-channel mean and sum of squared deviations from it, (C,) each, over the
    pixels that its masks rows (1, H, 1, 1) and cols (1, 1, W, 1) keep (1 or 0): what
    src/tiling.py merges into whole-image statistics (subtracting the tile's own mean first
    loses nothing to cancellation, unlike sums of squares).

    The sums are products with the row of weights: oneDNN's matrix multiply was faster than
    TensorFlow's reductions over the pixel axes (bench/README.md, "Tiling").
    """
    pixels = ops.reshape(y, (-1, ops.shape(y)[-1]))  # (N, C)
    weights = ops.reshape(rows * cols, (1, -1))  # (1, H, W, 1) -> (1, N)
    mean = ops.matmul(weights, pixels)[0] / ops.sum(weights)
    deviations = pixels - mean
    return mean, ops.matmul(weights, deviations * deviations)[0]


def normalize(block, y, mean, variance, parameters):
    """A ConvBlock's instance norm with the given statistics, then its ReLU, in float32."""
    scale, shift = parameters[id(block)]
    a, b = fold_instance_norm(mean, variance, scale, shift, block.norm.epsilon)
    y = y * a + b
    return ops.relu(y) if block.relu else y


def apply(block, x, parameters, dtype="float32"):
    """One ConvBlock on whole images: convolution, instance norm with its own statistics, ReLU."""
    y = convolve(block, x, dtype)
    mean, variance = moments(y)
    return normalize(block, y, mean, variance, parameters)


def residual(block, x, parameters, dtype="float32"):
    """A ResidualBlock: x + conv-norm-relu -> conv-norm, the sum in float32."""
    return x + apply(block.conv2, apply(block.conv1, x, parameters, dtype), parameters, dtype)


def forward(model, images, parameters, dtype="float32"):
    """images (B, H, W, 3) float32 0..255 -> (B, H, W, 3) RGB: the same as model(images,
    style_weights) with `parameters` = norm_parameters(model, style_weights) and the
    convolutions in `dtype`."""
    height, width = ops.shape(images)[1], ops.shape(images)[2]
    x = ops.cast(images, "float32")
    for block in model.blocks:
        if isinstance(block, ResidualBlock):
            x = residual(block, x, parameters, dtype)
        else:
            x = apply(block, x, parameters, dtype)
    return to_pixels(x)[:, :height, :width, :]


def compile_function(model, function, signature):
    """A compiled version of `function(*tensors)`, which reads `model`'s variables at every call
    (a training preview must see the current weights). signature: [(shape, dtype)] of the
    arguments, None for the open dimensions.

    TensorFlow: the one concrete function of that signature, traced now, so that no shape ever
    retraces it and calls skip tf.function's argument matching. JAX: jax.jit of the function
    with the variables passed in (XLA compiles once per shape).
    """
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        # No autograph: these functions have no tensor-dependent control flow to convert, and
        # converting them made the whole network's trace several times slower (bench/README.md).
        specs = [tf.TensorSpec(shape, dtype) for shape, dtype in signature]
        return tf.function(function, autograph=False).get_concrete_function(*specs)
    if backend == "jax":
        import jax

        variables = model.variables

        @jax.jit
        def stateless(values, *args):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return function(*args)

        return lambda *args: stateless([v.value for v in variables], *args)
    return function
