"""The image transformation network (Johnson et al. 2016, "Perceptual Losses for Real-Time
Style Transfer and Super-Resolution"), built exactly as the original fast-style-transfer built it
so that its published checkpoints load unchanged.

    conv 9x9/32 s1 -> conv 3x3/64 s2 -> conv 3x3/128 s2 -> 5 x residual(3x3/128)
    -> deconv 3x3/64 s2 -> deconv 3x3/32 s2 -> conv 9x9/3 s1 -> tanh * 150 + 255/2

Every convolution has no bias and is followed by instance normalization (Ulyanov et al. 2016);
ReLU follows every normalized convolution except the second one of each residual block and the
last. 1,677,638 parameters for one style.

Slim students (style.py --distill-from, src/training/distill.py) are the same network with
`width` times the channels (32/64/128 -> 8/16/32 at 0.25; the 3 output channels stay) and
`residual_blocks` residual blocks: jcjohnson reported that half-width networks with instance
norm lose little, and the multiply-adds fall with the square of the width.

With `num_styles > 1` every instance norm holds one scale and shift per style: the conditional
instance normalization of Dumoulin et al. (2017), "A Learned Representation for Artistic Style".
Everything else is shared, and mixing the per-style scales and shifts blends the styles.

Pixels: see `src/pixels.py`. The network maps RGB in 0..255 to RGB in about 0..255.
"""

import keras
from keras import layers, ops

from src.pixel_blocks import convolve_on_blocks, on_blocks, pays_off

# The original initialised kernels with tf.truncated_normal(stddev=.1).
KERNEL_INIT_STDDEV = 0.1
# The original's instance norm: (x - mean) / sqrt(var + 1e-3).
INSTANCE_NORM_EPSILON = 1e-3


def fold_instance_norm(mean, variance, scale, shift, epsilon=INSTANCE_NORM_EPSILON):
    """(a, b) with scale * (x - mean) / sqrt(variance + epsilon) + shift == x * a + b: the
    normalization folded into one multiply-add over the full-size tensor. src/inference.py uses
    it too, with whole-image statistics gathered tile by tile (src/tiling.py)."""
    a = scale * ops.rsqrt(variance + epsilon)
    return a, shift - mean * a


@keras.saving.register_keras_serializable(package="fst")
class InstanceNorm(layers.Layer):
    """Per-example, per-channel normalization over height and width, then a learned scale and
    shift; one pair per style, mixed by `style_weights` of shape (B, num_styles)."""

    def __init__(self, num_styles=1, epsilon=INSTANCE_NORM_EPSILON, **kwargs):
        super().__init__(**kwargs)
        self.num_styles = int(num_styles)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        channels = input_shape[-1]
        # The original created shift before scale; the checkpoint reader relies on the names only.
        self.shift = self.add_weight(name="shift", shape=(self.num_styles, channels), initializer="zeros")
        self.scale = self.add_weight(name="scale", shape=(self.num_styles, channels), initializer="ones")

    def call(self, x, style_weights):
        # Statistics and the per-style mix in float32, also under mixed precision: a half-precision
        # variance of 0..255-scale activations loses too much.
        mean, variance = ops.moments(ops.cast(x, "float32"), axes=[1, 2], keepdims=True)  # (B, H, W, C) -> (B, 1, 1, C)
        scale = ops.matmul(style_weights, ops.cast(self.scale, "float32"))[:, None, None, :]  # (B, S) @ (S, C) -> (B, 1, 1, C)
        shift = ops.matmul(style_weights, ops.cast(self.shift, "float32"))[:, None, None, :]
        a, b = fold_instance_norm(mean, variance, scale, shift, self.epsilon)
        return x * ops.cast(a, x.dtype) + ops.cast(b, x.dtype)

    def get_config(self):
        return {**super().get_config(), "num_styles": self.num_styles, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="fst")
class ConvBlock(layers.Layer):
    """Convolution (or transposed convolution) without bias -> instance norm -> optional ReLU."""

    def __init__(self, filters, kernel_size, strides=1, relu=True, transpose=False, num_styles=1, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.strides = int(filters), int(kernel_size), int(strides)
        self.relu, self.transpose, self.num_styles = bool(relu), bool(transpose), int(num_styles)
        conv = layers.Conv2DTranspose if transpose else layers.Conv2D
        # 'same' transposed convolutions give exactly stride x the input size, like the original's
        # tf.nn.conv2d_transpose with output_shape = [rows * strides, cols * strides]. Keras stores
        # their kernels as [k, k, out, in], the layout of the original's checkpoints.
        self.conv = conv(
            filters,
            kernel_size,
            strides=strides,
            padding="same",
            use_bias=False,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=KERNEL_INIT_STDDEV),
            name="conv",
        )
        self.norm = InstanceNorm(num_styles, name="norm")

    def build(self, input_shape):
        self.conv.build(input_shape)
        self.norm.build((*input_shape[:-1], self.filters))

    def call(self, x, style_weights, training=None):
        # Training on the CPU computes the 9x9 convolutions to few channels on blocks of pixels,
        # the same sums faster (src/pixel_blocks.py); every other call, exports included, keeps
        # the plain convolution.
        if training and on_blocks(self) and pays_off():
            y = convolve_on_blocks(x, self.conv.kernel, dtype=self.compute_dtype)
        else:
            y = self.conv(x)
        x = self.norm(y, style_weights)
        return ops.relu(x) if self.relu else x

    def compute_output_shape(self, input_shape):
        return (*self.conv.compute_output_shape(input_shape)[:-1], self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "relu": self.relu,
            "transpose": self.transpose,
            "num_styles": self.num_styles,
        }


@keras.saving.register_keras_serializable(package="fst")
class ResidualBlock(layers.Layer):
    """x + (conv-norm-relu -> conv-norm), both 3x3 with the input's channels."""

    def __init__(self, filters=128, kernel_size=3, num_styles=1, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.num_styles = int(filters), int(kernel_size), int(num_styles)
        self.conv1 = ConvBlock(filters, kernel_size, num_styles=num_styles, name="conv1")
        self.conv2 = ConvBlock(filters, kernel_size, relu=False, num_styles=num_styles, name="conv2")

    def build(self, input_shape):
        self.conv1.build(input_shape)
        self.conv2.build(input_shape)

    def call(self, x, style_weights):
        return x + self.conv2(self.conv1(x, style_weights), style_weights)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "num_styles": self.num_styles,
        }


@keras.saving.register_keras_serializable(package="fst")
class TransformNet(keras.Model):
    """images (B, H, W, 3) RGB 0..255 [, style_weights (B, S) or (S,)] -> (B, H, W, 3) RGB ~0..255.

    Any H and W: the two stride-2 convolutions round up, the transposed ones double, so the raw
    output is 4 * ceil(H / 4) high; it is cropped back to H x W. (The original returned the
    uncropped, larger image whenever a side was not a multiple of 4.)
    """

    def __init__(self, num_styles=1, style_names=None, width=1.0, residual_blocks=5, **kwargs):
        super().__init__(**kwargs)
        self.num_styles, self.width, self.residual_blocks = int(num_styles), float(width), int(residual_blocks)
        if self.num_styles < 1:
            raise ValueError(f"num_styles must be at least 1, got {num_styles}")
        if not 0 < self.width <= 4:
            raise ValueError(f"width must be above 0 and at most 4, got {width}")
        if self.residual_blocks < 1:
            raise ValueError(f"residual_blocks must be at least 1, got {residual_blocks}")
        self.style_names = list(style_names) if style_names else [f"style_{i}" for i in range(self.num_styles)]
        if len(self.style_names) != self.num_styles:
            raise ValueError(f"{len(self.style_names)} style names for {self.num_styles} styles")
        n, (c1, c2, c3) = self.num_styles, (channels(c, self.width) for c in (32, 64, 128))
        self.blocks = [
            ConvBlock(c1, 9, 1, num_styles=n, name="conv1"),
            ConvBlock(c2, 3, 2, num_styles=n, name="conv2"),
            ConvBlock(c3, 3, 2, num_styles=n, name="conv3"),
            *[ResidualBlock(c3, 3, num_styles=n, name=f"residual{i + 1}") for i in range(self.residual_blocks)],
            ConvBlock(c2, 3, 2, transpose=True, num_styles=n, name="deconv1"),
            ConvBlock(c1, 3, 2, transpose=True, num_styles=n, name="deconv2"),
            ConvBlock(3, 9, 1, relu=False, num_styles=n, name="conv_out"),
        ]

    def build(self, input_shape=(None, None, None, 3)):
        shape = tuple(input_shape)
        for block in self.blocks:
            block.build(shape)
            shape = block.compute_output_shape(shape)
        self.built = True

    def default_style_weights(self):
        """The first style alone, the default everywhere."""
        return [1.0] + [0.0] * (self.num_styles - 1)

    def call(self, images, style_weights=None):
        batch, height, width = ops.shape(images)[0], ops.shape(images)[1], ops.shape(images)[2]
        if style_weights is None:
            style_weights = self.default_style_weights()
        style_weights = ops.convert_to_tensor(style_weights, dtype="float32")
        if len(style_weights.shape) == 1:
            style_weights = ops.broadcast_to(style_weights[None, :], (batch, self.num_styles))
        # Weights are mixing ratios: normalise them to sum 1 (a zero sum stays zero, not NaN).
        total = ops.sum(style_weights, axis=-1, keepdims=True)
        style_weights = style_weights / ops.maximum(total, 1e-12)

        x = ops.cast(images, self.compute_dtype)
        for block in self.blocks:
            x = block(x, style_weights)
        return to_pixels(x)[:, :height, :width, :]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = {"num_styles": self.num_styles, "style_names": self.style_names, "name": self.name}
        if not self.is_original_size():  # the original's size keeps the config older files have
            config.update(width=self.width, residual_blocks=self.residual_blocks)
        return config

    def is_original_size(self):
        return self.width == 1.0 and self.residual_blocks == 5

    @classmethod
    def from_config(cls, config):
        model = cls(**config)
        model.build()
        return model

    def layers_in_order(self):
        """The ConvBlocks (16 at the original's size) in the order the original created their variables."""
        ordered = []
        for block in self.blocks:
            ordered += [block.conv1, block.conv2] if isinstance(block, ResidualBlock) else [block]
        return ordered


def channels(original, width):
    """The original's channel count scaled by `width`, at least 1."""
    return max(1, round(original * width))


def to_pixels(x):
    """The last layer's normalized output -> RGB about -22..277: the original's tanh(x) * 150 + 255 / 2."""
    return ops.tanh(ops.cast(x, "float32")) * 150.0 + 255.0 / 2


def build_transform_net(num_styles=1, style_names=None, width=1.0, residual_blocks=5):
    """A built TransformNet with freshly initialised weights."""
    model = TransformNet(num_styles=num_styles, style_names=style_names, width=width, residual_blocks=residual_blocks)
    model.build()
    return model
