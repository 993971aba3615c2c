"""The one forward path: images, folders, tiles, video frames and training previews all go
through `Stylizer.__call__`, which takes and returns float32 RGB 0..255 (see src/pixels.py).

Whole images run as one compiled function of src/inference.py, whose signature leaves batch,
height and width open, so a folder of mixed sizes never retraces (TensorFlow), or as one XLA
program per shape (JAX). Images above the pixel budget that `--tile-size` sets go through
src/tiling.py, which gives the same result in bounded memory.
"""

import numpy as np

from src import blend, memory, strokes, tiling
from src.checkpoints import Checkpoint
from src.devices import resolve_precision
from src.disk_array import release
from src.pixels import to_uint8
from src.wording import counted

# oneDNN's bfloat16 stride-2 convolution returns garbage when its output is 1 pixel wide (and
# 8 or more high; TensorFlow 2.21, bench/README.md): images this narrow or narrower
# (conv3's output is a quarter as wide) run in float32.
BFLOAT16_MIN_WIDTH = 5


class Stylizer:
    """model(s) -> a callable (B, H, W, 3) float32 0..255 -> (B, H, W, 3) float32 0..255.

    model: a TransformNet (or a Checkpoint, src/checkpoints.py, loaded when first needed),
    whose styles `style_weights` (S,) mixes inside the network (the conditional instance
    norm's scales and shifts, Dumoulin et al. 2017); default, the first style. Or a list of single-style networks, whose outputs `style_weights` (one per network)
    mixes; default, equal parts.
    precision: the convolutions' number format, "float32", "bfloat16", or "auto" (see
    `resolve_precision`). tile_size: 0 chooses the pixel budget from free memory; N > 0 stylizes
    images above N x N pixels in N x N tiles (see src/tiling.py).
    preserve_color, strength: how the result is combined with the photo (src/blend.py), applied
    to the whole picture after the networks, so that tiles and video frames get it the same way.
    engine: what runs whole images, "tensorflow", "openvino" or "auto" (src/engines.py).
    stroke_scale: K > 1 paints strokes K times larger, K < 1 finer (the networks see the photo
    at 1/K of its size; src/strokes.py brings the picture back to the photo's size and detail).
    preserve_color, strength and stroke_scale may be changed between calls (webcam.py, app.py).
    """

    def __init__(
        self,
        model,
        style_weights=None,
        batch_size=4,
        precision="auto",
        tile_size=0,
        preserve_color=False,
        strength=1.0,
        engine="tensorflow",
        stroke_scale=1.0,
    ):
        options = {"batch_size": batch_size, "precision": precision, "tile_size": tile_size, "engine": engine}
        if isinstance(model, (list, tuple)) and len(model) > 1:
            several = [m.style_names[0] for m in model if m.num_styles > 1]
            if several:
                raise ValueError(f"only single-style networks mix by output; give a multi-style network alone ({several[0]})")
            weights = [1.0] * len(model) if style_weights is None else style_weights
            ratios = normalize_style_weights(weights, len(model), f"{len(model)} checkpoints were given")
            self._networks = [(ratio, Network(m, None, **options)) for m, ratio in zip(model, ratios) if ratio > 0]
        else:
            model = model[0] if isinstance(model, (list, tuple)) else model
            self._networks = [(1.0, Network(model, style_weights, **options))]
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be between 0 and 1, got {strength}")
        if not stroke_scale > 0:
            raise ValueError(f"stroke scale must be a positive number, got {stroke_scale}")
        self.preserve_color, self.strength, self.stroke_scale = bool(preserve_color), float(strength), float(stroke_scale)

    def __call__(self, images, progress=None):
        """images: float32 (or uint8) 0..255. A single image too large to run whole is tiled
        (`_large`); one so large that the tiler's buffers go to disk comes back as uint8, made
        stripe by stripe. progress: called with the fraction done of a tiled image."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"expected images of shape (B, H, W, 3), got {images.shape}")
        if self.strength == 0.0:
            return np.clip(images, 0, 255)  # the photo itself: no need to run the network
        if self.stroke_scale != 1.0:
            return self._rescaled(images, progress)
        if len(images) == 1 and self.tiles(*images.shape[1:3]):
            return self._large(images[0], progress)[None]
        images = images.astype(np.float32, copy=False)
        return self._blend(images, self._painted(images))

    def _painted(self, images, progress=None):
        """The networks' mixed picture of images (B, H, W, 3), before any blend with them."""
        if len(images) == 1 and self._tiles(*images.shape[1:3]):
            return self._large(images[0], progress, blend=False)[None].astype(np.float32, copy=False)
        images = images.astype(np.float32, copy=False)
        return sum(ratio * network(images) for ratio, network in self._networks)

    def _rescaled(self, images, progress=None):
        """--stroke-scale: painted at the working size, brought back to each photo's size and
        detail, then blended with the photo as usual."""
        size = strokes.working_size(*images.shape[1:3], self.stroke_scale)
        small = np.stack([strokes.resample(image, *size) for image in images])
        painted = self._painted(small, progress)
        photos = images.astype(np.float32, copy=False)
        return np.stack([self._blend(p, strokes.back_to_size(q, p)) for p, q in zip(photos, painted)])

    def _blend(self, photos, stylized):
        """The networks' mixed picture combined with the photos (src/blend.py). Mixes and blends
        of pictures in 0..255 stay in 0..255: no clipping needed after them."""
        if self.preserve_color:
            stylized = blend.preserve_color(photos, stylized)
        return blend.apply_strength(photos, stylized, self.strength)

    def _large(self, image, progress=None, blend=True):
        """(H, W, 3) -> (H, W, 3): each network tiled into a buffer of its own, then mixed and
        blended with the photo a stripe of rows at a time. With the buffers on disk the result
        is uint8, so that beside the photo and the result, memory holds only stripes and tiles
        (src/memory.py check_fits says beforehand whether a photo fits)."""
        height, width = image.shape[:2]
        on_disk = memory.buffers_on_disk(height, width)
        count, buffers = len(self._networks), []
        try:
            for index, (ratio, network) in enumerate(self._networks):
                report = (lambda done, i=index: progress((i + done) / count)) if progress else None
                buffers.append((ratio, network.tiled(image, report, on_disk)))
            result = np.empty((height, width, 3), np.uint8 if on_disk else np.float32)
            step = max(1, (1 << 22) // width)  # stripes of about 4 megapixels
            for start in range(0, height, step):
                rows = slice(start, min(start + step, height))
                photo = image[rows].astype(np.float32)
                stylized = sum(ratio * np.clip(buffer[:, rows][0, :, :width], 0.0, 255.0) for ratio, buffer in buffers)
                blended = self._blend(photo, stylized) if blend else stylized
                result[rows] = to_uint8(blended) if on_disk else blended
        finally:
            for _, buffer in buffers:
                release(buffer)
        return result

    @property
    def engine(self):
        """What runs its networks now: "openvino", or "tensorflow" (asked, chosen, or where
        OpenVINO could not compile them on this CPU and TensorFlow took over)."""
        engines = {network.engine for _, network in self._networks}
        return "openvino" if engines == {"openvino"} else "tensorflow"

    def tiles(self, height, width):
        """Whether a height x width image is too large to run whole (and is tiled)."""
        return self._tiles(*self._working(height, width))

    def _tiles(self, height, width):
        return any(network.tiles(height, width) for _, network in self._networks)

    def _working(self, height, width):
        """The size the networks see a height x width photo at."""
        return strokes.working_size(height, width, self.stroke_scale) if self.stroke_scale != 1.0 else (height, width)

    def check_fits(self, height, width):
        """memory.DoesNotFit when a height x width image cannot be stylized on this machine."""
        if self.tiles(height, width):
            memory.check_fits(*self._working(height, width), len(self._networks))

    def images_per_pass(self, height, width):
        """How many height x width images one forward pass takes (1 for those tiled)."""
        return min(network.images_per_pass(*self._working(height, width)) for _, network in self._networks)

    def refresh(self):
        """Read the networks' weights again: after training steps, before a preview."""
        for _, network in self._networks:
            network.refresh()


class Network:
    """One TransformNet with a fixed style mix, compiled: whole images, or tiles (src/tiling.py).
    The Stylizer blends these; a distillation's teacher (src/training/distill.py) is one."""

    def __init__(self, model, style_weights=None, batch_size=4, precision="auto", tile_size=0, engine="tensorflow"):
        from src.engines import resolve_engine

        self.model = model
        self.batch_size = int(batch_size)
        names = f"the model has {counted(model.num_styles, 'style')} ({', '.join(model.style_names)})"
        self.style_weights = normalize_style_weights(
            model.default_style_weights() if style_weights is None else style_weights, model.num_styles, names
        )
        self.engine = resolve_engine(engine) if engine != "tensorflow" else engine
        self.precision = resolve_precision(precision, engine=self.engine)
        self.tile_size = memory.check_tile_size(tile_size)
        self._per_pixel = memory.bytes_per_pixel(model.width)
        self._compiled = {}
        self._parameters = None

    def __call__(self, images):
        # The picture this network alone would give: mixes, colour and strength start from it.
        return np.clip(self.outputs(images), 0.0, 255.0)

    def outputs(self, images):
        """(B, H, W, 3) float32 -> the network's raw output, not yet clipped to 0..255."""
        height, width = images.shape[1:3]
        precision = self._precision(width)
        batch_size, tile, whole_bytes = self._plan(height, width)
        if tile:
            tiler = self._function("tiler", precision)
            return np.stack([tiler(image, tile, whole_bytes) for image in images])
        forward = self._function("forward", precision)
        return np.concatenate([forward(images[i : i + batch_size]) for i in range(0, len(images), batch_size)])

    def images_per_pass(self, height, width):
        return self._plan(height, width).batch

    def tiles(self, height, width):
        return self._plan(height, width).tile is not None

    def tiled(self, image, progress=None, on_disk=False):
        """(H, W, 3) -> this network's output pixels, (1, H', W', 3) float32 (src/tiling.py), or
        its whole picture where it is slim enough to run the image whole (a student mixed with a
        full network, which tiles it)."""
        height, width = image.shape[:2]
        _, tile, whole_bytes = self._plan(height, width)
        if tile is None:
            return self.outputs(image[None].astype(np.float32))
        return self._function("tiler", self._precision(width)).stylize(image, tile, whole_bytes, progress, on_disk)

    def _plan(self, height, width):
        return memory.plan(height, width, self.batch_size, self.tile_size, self._per_pixel)

    def _precision(self, width):
        return "float32" if width < BFLOAT16_MIN_WIDTH else self.precision

    def refresh(self):
        """Forget the compiled functions: the instance norms' scales and shifts are compiled in as
        constants (src/inference.py), so they must be read again once training has changed them.
        The convolutions' kernels are read at every call anyway."""
        self._compiled, self._parameters = {}, None

    def _function(self, kind, precision):
        """The compiled forward pass or tiler, built on first use: most runs never tile, nor
        need float32."""
        key = (kind, precision)
        if key not in self._compiled:
            if kind == "tiler":
                self._compiled[key] = tiling.Tiler(self._transform_net(), precision, self._norms())
            else:
                self._compiled[key] = self._forward(precision)
        return self._compiled[key]

    def _transform_net(self):
        """The TransformNet; a Checkpoint (src/checkpoints.py) is loaded now."""
        return self.model.model() if isinstance(self.model, Checkpoint) else self.model

    def _norms(self):
        """The instance norms' scales and shifts for the style weights (src/inference.py)."""
        if self._parameters is None:
            model = self._transform_net()  # before importing Keras: a Checkpoint loads it quietly
            from src import inference

            self._parameters = inference.norm_parameters(model, self.style_weights)
        return self._parameters

    def _forward(self, precision):
        """images (B, H, W, 3) -> numpy (B, H, W, 3), compiled once for every shape, with the
        instance norms' parameters as constants. On OpenVINO, the float32 graph converted and
        run in `precision` (src/engines.py: it places its own bfloat16 conversions), cached on
        disk under a hash of the checkpoint's bytes and the style weights when the network came
        as a Checkpoint, which is then not even loaded on a later run; else of its weights and
        constants. Where OpenVINO cannot compile it on this CPU, TensorFlow runs it (with a note)."""

        def function(graph_precision):
            model, parameters = self._transform_net(), self._norms()
            from src import inference

            return inference.compile_function(
                model,
                lambda images: inference.forward(model, images, parameters, graph_precision),
                signature=[((None, None, None, 3), "float32")],
            )

        def on_tensorflow():
            compiled = function(precision)
            return lambda images: np.asarray(compiled(images))

        if self.engine != "openvino":
            return on_tensorflow()
        from src.engines import OpenVinoForward, graph_key

        if isinstance(self.model, Checkpoint):
            arrays = [np.frombuffer(bytes.fromhex(self.model.digest), np.uint8), self.style_weights]
        else:
            arrays = self.model.get_weights() + [value for pair in self._norms().values() for value in pair]

        def instead():  # OpenVINO cannot run it here: TensorFlow from now on, every precision too
            self.engine = "tensorflow"
            return on_tensorflow()

        return OpenVinoForward(lambda: function("float32"), precision, instead, key=graph_key(arrays))


def normalize_style_weights(weights, num_styles, expected=None):
    """Non-negative ratios, one per style (or network), scaled to sum 1: the one check of style
    weights (the scripts turn its ValueError into a usage error). expected: what the count must
    match, in words."""
    weights = np.asarray(weights, dtype=np.float32).reshape(-1)
    if len(weights) != num_styles:
        raise ValueError(f"{len(weights)} given, but {expected or f'the network has {num_styles} styles'}")
    if np.any(weights < 0) or not np.isfinite(weights).all() or weights.sum() <= 0:
        raise ValueError("style weights must be non-negative numbers with a positive sum")
    return weights / weights.sum()
