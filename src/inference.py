"""The transform network's inference arithmetic, block by block: what `src/stylize.py` (whole
images) and `src/tiling.py` (tiles that share whole-image statistics) both run.

TransformNet.call (src/transform.py) stays the definition and the training path. This module
reads the same variables and computes the same function, with two freedoms that only inference
needs:
- the convolutions may run in bfloat16. Their inputs are rounded to bfloat16 and they
  accumulate in float32; the instance-norm statistics, the normalization and the residual stream
  stay float32. On a CPU with AMX this makes a 1024x680 image about 2.5x faster than float32
  (0.33 s against 0.80 s on the 2-core Xeon of bench/README) at 55-62 dB PSNR against the
  float32 image; keeping the residual stream in bfloat16 as well, Keras' mixed_bfloat16 policy,
  loses 4 dB and is slower (0.47 s), because bfloat16 element-wise arithmetic has no fast CPU
  kernels;
- instance-norm statistics can be supplied from outside (`normalize`), and convolutions can run
  without padding (`convolve(..., padding="valid")`) on a tile whose borders the caller pads.

Measured and rejected on that CPU (bench/explore.md has the numbers): XLA (jit_compile) is 1.6x
slower than TensorFlow's oneDNN kernels for the whole network and slower for the
normalization alone in context; one-pass statistics (E[x^2] - E[x]^2) are slower than
tf.nn.moments' two passes and lose precision; eager execution skips oneDNN's graph rewrite and
is 1.5x slower, so callers compile these functions (src/stylize.py `compile_function`).
"""

from keras import ops

from src.transform import ResidualBlock, to_pixels


def convolve(block, x, dtype="float32", padding="same"):
    """A ConvBlock's convolution (no normalization) in `dtype`; returns the float32 pre-norm output."""
    kernel = ops.cast(block.conv.kernel, dtype)
    x = ops.cast(x, dtype)
    if block.transpose:
        y = ops.conv_transpose(x, kernel, block.strides, padding=padding)
    else:
        y = ops.conv(x, kernel, block.strides, padding=padding)
    return ops.cast(y, "float32")


def moments(y):
    """Per-example, per-channel mean and variance over height and width: (B, 1, 1, C) each."""
    return ops.moments(y, axes=[1, 2], keepdims=True)


def partial_moments(y):
    """A tile's per-channel mean and sum of squared deviations from it, (C,) each: what
    src/tiling.py merges into whole-image statistics (subtracting the tile's own mean first
    loses nothing to cancellation, unlike sums of squares)."""
    mean = ops.mean(y, axis=(0, 1, 2))
    return mean, ops.sum(ops.square(y - mean), axis=(0, 1, 2))


def normalize(block, y, mean, variance, style_weights):
    """A ConvBlock's instance norm (with the given statistics) and ReLU, in float32."""
    a, b = block.norm.coefficients(mean, variance, style_weights)
    y = y * a + b
    return ops.relu(y) if block.relu else y


def apply(block, x, style_weights, dtype="float32"):
    """One ConvBlock on whole images: convolution, instance norm with its own statistics, ReLU."""
    y = convolve(block, x, dtype)
    mean, variance = moments(y)
    return normalize(block, y, mean, variance, style_weights)


def residual(block, x, style_weights, dtype="float32"):
    """A ResidualBlock: x + conv-norm-relu -> conv-norm, the sum in float32."""
    return x + apply(block.conv2, apply(block.conv1, x, style_weights, dtype), style_weights, dtype)


def forward(model, images, style_weights, dtype="float32"):
    """images (B, H, W, 3) float32 0..255, style weights (B, S) summing to 1 -> (B, H, W, 3) RGB,
    the same as model(images, style_weights) with the convolutions in `dtype`."""
    height, width = ops.shape(images)[1], ops.shape(images)[2]
    x = ops.cast(images, "float32")
    for block in model.blocks:
        if isinstance(block, ResidualBlock):
            x = residual(block, x, style_weights, dtype)
        else:
            x = apply(block, x, style_weights, dtype)
    return to_pixels(x)[:, :height, :width, :]


def compile_function(model, function, signature=None):
    """A compiled version of `function(*tensors)`, which reads `model`'s variables at every call
    (a training preview must see the current weights).

    TensorFlow: a tf.function; `signature` ([(shape, dtype)], None for open dimensions) fixes
    one trace for every shape, else shapes are generalised after the second (reduce_retracing).
    JAX: jax.jit of the function with the variables passed in (one XLA program per shape).
    """
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if signature is None:
            return tf.function(function, reduce_retracing=True)
        specs = [tf.TensorSpec(shape, dtype) for shape, dtype in signature]
        return tf.function(function, input_signature=specs)
    if backend == "jax":
        import jax

        variables = model.variables

        @jax.jit
        def stateless(values, *args):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return function(*args)

        return lambda *args: stateless([v.value for v in variables], *args)
    return function
