"""The one forward path: images, folders, tiles, video frames and training previews all go
through `Stylizer.__call__`, which takes and returns float32 RGB 0..255 (see src/pixels.py).

Whole images run as one compiled function of src/inference.py, whose signature leaves batch,
height and width open, so a folder of mixed sizes never retraces (TensorFlow), or as one XLA
program per shape (JAX). Images above the pixel budget that `--tile-size` sets go through
src/tiling.py, which gives the same result in bounded memory.
"""

import numpy as np

from src import blend, tiling
from src.devices import cpu_flags

PRECISIONS = ("auto", "float32", "bfloat16")
# oneDNN's bfloat16 stride-2 convolution returns garbage when its output is 1 pixel wide (and
# 8 or more high; TensorFlow 2.21, measured in bench/README.md): images this narrow or narrower
# (conv3's output is a quarter as wide) run in float32.
BFLOAT16_MIN_WIDTH = 5


class Stylizer:
    """model(s) -> a callable (B, H, W, 3) float32 0..255 -> (B, H, W, 3) float32 0..255.

    model: a TransformNet, whose styles `style_weights` (S,) mixes inside the network (the
    conditional instance norm's scales and shifts, Dumoulin et al. 2017); default, the first
    style. Or a list of single-style networks, whose outputs `style_weights` (one per network)
    mixes; default, equal parts.
    precision: the convolutions' number format, "float32", "bfloat16", or "auto" (see
    `resolve_precision`). tile_size: 0 chooses the pixel budget from free memory; N > 0 stylizes
    images above N x N pixels in N x N tiles (see src/tiling.py).
    preserve_color, strength: how the result is combined with the photo (src/blend.py), applied
    to the whole picture after the networks, so that tiles and video frames get it the same way.
    """

    def __init__(
        self, model, style_weights=None, batch_size=4, precision="auto", tile_size=0, preserve_color=False, strength=1.0
    ):
        options = {"batch_size": batch_size, "precision": precision, "tile_size": tile_size}
        if isinstance(model, (list, tuple)) and len(model) > 1:
            several = [m.style_names[0] for m in model if m.num_styles > 1]
            if several:
                raise ValueError(f"only single-style networks mix by output; give a multi-style network alone ({several[0]})")
            ratios = normalize_style_weights([1.0] * len(model) if style_weights is None else style_weights, len(model))
            self._networks = [(ratio, _Network(m, None, **options)) for m, ratio in zip(model, ratios) if ratio > 0]
        else:
            model = model[0] if isinstance(model, (list, tuple)) else model
            self._networks = [(1.0, _Network(model, style_weights, **options))]
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be between 0 and 1, got {strength}")
        self.preserve_color, self.strength = bool(preserve_color), float(strength)

    @property
    def model(self):
        return self._networks[0][1].model

    def __call__(self, images):
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"expected images of shape (B, H, W, 3), got {images.shape}")
        if self.strength == 0.0:
            return np.clip(images, 0.0, 255.0)  # the photo itself: no need to run the network
        stylized = sum(ratio * network(images) for ratio, network in self._networks)
        if self.preserve_color:
            stylized = blend.preserve_color(images, stylized)
        return np.clip(blend.apply_strength(images, stylized, self.strength), 0.0, 255.0)

    def images_per_pass(self, height, width):
        """How many height x width images one forward pass takes (1 for those tiled)."""
        return min(network.images_per_pass(height, width) for _, network in self._networks)


class _Network:
    """One TransformNet with a fixed style mix, compiled: whole images, or tiles (src/tiling.py)."""

    def __init__(self, model, style_weights=None, batch_size=4, precision="auto", tile_size=0):
        self.model = model
        self.batch_size = int(batch_size)
        self.style_weights = normalize_style_weights(style_weights, model.num_styles)
        self.precision = resolve_precision(precision)
        self.tile_size = tiling.check_tile_size(tile_size)
        self._compiled = {}
        self._parameters = None

    def __call__(self, images):
        height, width = images.shape[1:3]
        precision = "float32" if width < BFLOAT16_MIN_WIDTH else self.precision
        batch_size, tile = tiling.plan(height, width, self.batch_size, self.tile_size)
        if tile:
            tiler = self._function("tiler", precision)
            whole_bytes = tiling.whole_pass_bytes(self.tile_size)
            outputs = np.stack([tiler(image, tile, whole_bytes) for image in images])
        else:
            forward = self._function("forward", precision)
            outputs = np.concatenate([forward(images[i : i + batch_size]) for i in range(0, len(images), batch_size)])
        # The picture this network alone would give: mixes, colour and strength start from it.
        return np.clip(outputs, 0.0, 255.0)

    def images_per_pass(self, height, width):
        return tiling.plan(height, width, self.batch_size, self.tile_size)[0]

    def _function(self, kind, precision):
        """The compiled forward pass or tiler, built on first use (most runs never tile, nor
        need float32) and built again when the model's weights have changed since: a training
        preview must show the current weights, and the instance norms' are compiled in."""
        from src import inference

        parameters = inference.norm_parameters(self.model, self.style_weights)
        if self._parameters is None or not _same(parameters, self._parameters):
            self._compiled, self._parameters = {}, parameters
        key = (kind, precision)
        if key not in self._compiled:
            if kind == "tiler":
                self._compiled[key] = tiling.Tiler(self.model, precision, parameters)
            else:
                self._compiled[key] = compile_forward(self.model, precision, parameters)
        return self._compiled[key]


def _same(parameters, others):
    return all(np.array_equal(a, b) for key in parameters for a, b in zip(parameters[key], others[key]))


def normalize_style_weights(weights, num_styles):
    """None -> the first style alone; else non-negative ratios scaled to sum 1."""
    if weights is None:
        weights = [1.0] + [0.0] * (num_styles - 1)
    weights = np.asarray(weights, dtype=np.float32).reshape(-1)
    if len(weights) != num_styles:
        raise ValueError(f"{len(weights)} style weights given for a network of {num_styles} styles")
    if np.any(weights < 0) or not np.isfinite(weights).all() or weights.sum() <= 0:
        raise ValueError("style weights must be non-negative numbers with a positive sum")
    return weights / weights.sum()


def resolve_precision(precision="auto", device="auto"):
    """The precision to run: "auto" becomes "bfloat16" where that is both fast and faithful, else
    "float32"; "bfloat16" on a CPU that cannot run it is a ValueError.

    bfloat16 convolutions pay only where oneDNN runs them on AMX tiles: TensorFlow on a CPU with
    the amx_bf16 flag, 0.34 s against 0.75 s in float32 for a 1024x680 photo, 56-58 dB PSNR from
    the original's output with the published models. With oneDNN held to the older instruction
    sets of the same CPU (ONEDNN_MAX_CPU_ISA), bfloat16 took 1.23 s with AVX512-BF16 alone, 3.16 s
    with AVX-512 alone, and AVX2 has no bfloat16 convolution at all. GPUs keep float32, the
    precision the original ran at.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "float32":
        return precision
    import keras

    if keras.backend.backend() != "tensorflow":
        return "float32" if precision == "auto" else precision
    on_cpu = not _tensorflow_gpu(device)
    if precision == "bfloat16":
        if on_cpu and not {"avx512_bf16", "amx_bf16"} & cpu_flags():
            raise ValueError("this CPU has no bfloat16 instructions (avx512_bf16 or amx_bf16): use --precision float32")
        return precision
    return "bfloat16" if on_cpu and "amx_bf16" in cpu_flags() else "float32"


def _tensorflow_gpu(device):
    """Whether TensorFlow will run on a GPU for --device `device`."""
    from src.devices import parse_device

    chosen = parse_device(device)
    if chosen is not None and chosen[0] == "cpu":
        return False
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def compile_forward(model, precision, parameters):
    """images (B, H, W, 3) -> numpy (B, H, W, 3), compiled once for every shape, with the
    instance norms' `parameters` (src/inference.py norm_parameters) as constants."""
    from src import inference

    function = inference.compile_function(
        model,
        lambda images: inference.forward(model, images, parameters, precision),
        signature=[((None, None, None, 3), "float32")],
    )
    return lambda images: np.asarray(function(images))
