"""Stylizing images of any size in bounded memory: tiles that share whole-image statistics.

Instance normalization scales every channel by statistics over the WHOLE image, so tiles
normalized on their own differ in tone and show seams. Here the statistics stay global and exact:

- the network's memory goes to its full- and half-resolution layers (conv1, conv2, deconv1,
  deconv2, conv_out: 32 to 64 channels on 1 to 1/4 of the pixels); the residual blocks work on
  1/16 of the pixels with 128 channels, 32 bytes per image pixel for each float32 tensor;
- so the front layers (conv1 -> conv2 -> conv3) run tile by tile in successive passes, each pass
  gathering the whole-image statistics of one more layer, with the layers before it normalized
  by theirs; the last pass keeps conv3's output whole, at 1/4 resolution: the residual stream;
- the residual blocks run on the whole stream at once where half the budget holds them, else
  one convolution at a time over whole 1/4-resolution buffers (the stream and two scratch
  buffers, 96 bytes per image pixel), tile by tile with a 1-pixel halo read from the stored
  input, so nothing is computed twice;
- the back layers (deconv1 -> deconv2 -> conv_out) run tile by tile from the stream like the
  front ones, the last pass keeping conv_out's 3-channel output; its normalization and tanh
  finish the image.

Every tile is computed from an input region covering its receptive field (4 pixels around for the
9x9 convolutions, 1 for the 3x3 ones, at each layer's resolution), with zeros exactly where the
untiled network pads: positions outside a layer are read as zeros and masked to zeros after
each normalization. So a tile's pixels are the untiled image's, up to the summation order of
the statistics: output tiles need no overlap and no blending (tests/test_tiling.py checks the
equality; bench/run.py measures the PSNR on a 2000x1500 photo). Estimating the statistics on a
downscaled copy instead would save the extra passes but changes the tone (bench/README.md).

All tiles of a pass have one shape, the last row and column of tiles running past the edge
(the surplus masked out of the statistics and never written), and so do the row stripes: XLA
compiles a function once per shape, so JAX compiles a few shapes instead of every edge tile's
own (bench/README.md, "Tiles of one shape").

Costs: the front and back layers run up to three times, once per pass, and the normalizations
cannot be fused with statistics gathered apart, so tiles take several times as long as a whole
image (bench/README.md) and images run whole up to a larger budget. Keras and TensorFlow are imported
where used, so that the scripts can check --tile-size without loading them.
"""

import numpy as np

from src.disk_array import DiskArray, release


# The residual blocks on a whole 1/4-resolution stream hold about this many float32 copies of
# it at once (the stream, a convolution's output, its normalization; bench/README.md).
RESIDUAL_COPIES = 6


class Tiler:
    """(image (H, W, 3) float32 0..255, tile side) -> (H, W, 3) stylized, equal to the untiled
    network's output. parameters: the instance norms' (src/inference.py norm_parameters)."""

    def __init__(self, model, precision, parameters):
        from src import inference
        from src.transform import ResidualBlock, to_pixels

        blocks = model.blocks
        residual = [i for i, block in enumerate(blocks) if isinstance(block, ResidualBlock)]
        self.front, self.middle, self.back = (
            blocks[: residual[0]],
            blocks[residual[0] : residual[-1] + 1],
            blocks[residual[-1] + 1 :],
        )

        def compiled(function, *signature):
            return inference.compile_function(model, function, list(signature))

        # One compiled convolution and normalization per ConvBlock, each traced once for every
        # tile shape (open dimensions): an image costs no retracing, however many tiles it has.
        def tiles(channels):
            return (None, None, None, channels), "float32"

        def convolve(block):
            inputs = block.conv.kernel.shape[-1 if block.transpose else -2]
            return compiled(lambda x: inference.convolve(block, x, precision, "valid"), tiles(inputs))

        # Masks (1, H, 1, 1) and (1, 1, W, 1): 1 inside the layer, 0 where the untiled network
        # reads padding (around the image) and where a tile runs past the edge. Only tiles at
        # the edges need them: multiplying by them slowed TensorFlow's normalization down.
        masks = ((1, None, 1, 1), "float32"), ((1, 1, None, 1), "float32")

        def normalize(block):
            statistics = (1, 1, 1, block.filters), "float32"

            def plain(y, mean, variance):
                return inference.normalize(block, y, mean, variance, parameters)

            def masked(y, mean, variance, rows, cols):
                return plain(y, mean, variance) * (rows * cols)  # one pass over y, not two

            signature = tiles(block.filters), statistics, statistics
            return compiled(plain, *signature), compiled(masked, *signature, *masks)

        self._convolve = {id(b): convolve(b) for b in model.layers_in_order()}
        self._normalize = {id(b): normalize(b) for b in model.layers_in_order()}
        self._moments = compiled(inference.partial_moments, tiles(None), *masks)
        self._pixels = compiled(to_pixels, tiles(3))
        conv3, channels = self.front[-1], self.front[-1].filters
        statistics = (1, 1, 1, channels), "float32"

        def middle(y, mean, variance):
            x = inference.normalize(conv3, y, mean, variance, parameters)
            for block in self.middle:
                x = inference.residual(block, x, parameters, precision)
            return x

        self._middle = compiled(middle, tiles(channels), statistics, statistics)

    def __call__(self, image, tile, whole_bytes):
        """whole_bytes: the memory a whole-image pass may take (whole_pass_bytes)."""
        height, width = image.shape[:2]
        return self.stylize(image, tile, whole_bytes)[:, :height][0, :, :width]

    def stylize(self, image, tile, whole_bytes, progress=None, on_disk=False):
        """image (H, W, 3), uint8 or float32 0..255 -> the network's output pixels, (1, H', W', 3)
        float32 (H' >= H, W' >= W: the network's own size, cropped by the caller), a numpy array,
        or with on_disk a src/disk_array.py DiskArray, as are the whole-image buffers on the way:
        memory then holds only tiles, whatever the image's size. progress: called with the
        fraction done (0..1) after every tile."""
        height, width = image.shape[:2]
        self._on_disk = on_disk
        whole_middle = not on_disk and RESIDUAL_COPIES * _stream_bytes(height, width, self.front[-1].filters) <= whole_bytes / 2
        passes = len(self.front) + (1 if whole_middle else 1 + 3 * len(self.middle)) + len(self.back) + 1
        self._progress = _Progress(passes, progress)
        # conv1 -> conv2 -> conv3 from the image; conv3's output becomes the residual stream x.
        x, stats = self._stream(self.front, (image[None], None, None), tile, height)
        try:
            if whole_middle:
                # The residual blocks on the whole 1/4-resolution stream, with their own fused
                # statistics, are faster overall (bench/README.md). Half the budget: the tiler's
                # other whole-image buffers take the rest.
                x = np.asarray(self._middle(x, *stats))
                self._progress.next_pass(1)
                self._progress.step()
            else:
                self._tiled_middle(x, stats, tile, height)
            # deconv1 -> deconv2 -> conv_out from the residual stream; then the last normalization and tanh.
            out, stats = self._stream(self.back, (x, None, None), tile, height)
        finally:
            release(x)
        del x
        last = self._normalize[id(self.back[-1])][0]
        try:
            self._rows(out, tile, height, lambda part: self._pixels(last(part, *stats)))
        except BaseException:
            release(out)
            raise
        return out

    def _buffer(self, shape):
        return DiskArray(shape) if self._on_disk else np.empty(shape, np.float32)

    def _tiled_middle(self, x, stats, tile, image_height):
        """The residual blocks in place on x, one convolution at a time over whole 1/4-resolution
        buffers: their inputs are stored, so each pass reads a 1-pixel halo and recomputes
        nothing; x and two scratch buffers are the only whole-image memory."""
        conv3 = self._normalize[id(self.front[-1])][0]
        self._rows(x, tile, image_height, lambda part: conv3(part, *stats))
        # A residual pass holds about a quarter of a front pass's bytes per image pixel (128
        # channels on 1/16 of the pixels against 32 on all of them): tiles twice as wide fit.
        first, second, wide = self._buffer(x.shape), self._buffer(x.shape), 2 * tile
        try:
            for block in self.middle:
                stats1 = self._stream([block.conv1], (x, None, None), wide, image_height, out=first)[1]
                stats2 = self._stream([block.conv2], (first, block.conv1, stats1), wide, image_height, out=second)[1]
                normalize = self._normalize[id(block.conv2)][0]
                self._rows(x, tile, image_height, lambda part, y: part + normalize(y, *stats2), second)
        finally:
            release(first)
            release(second)

    def _rows(self, array, tile, image_height, function, *others):
        """array[:, rows] = function(array[:, rows], *(other[:, rows] for other in others)) in
        stripes of about a tile's area, all of one height (the last padded with zeros, its
        surplus dropped): whole-image element-wise steps without whole-image temporaries."""
        side = _side(tile, array.shape[1], image_height)
        count = -(-array.shape[1] * array.shape[2] // (side * side))
        stripes = _spans(array.shape[1], -(-array.shape[1] // count))
        self._progress.next_pass(len(stripes))
        for start, stop in stripes:
            rows = slice(start, min(stop, array.shape[1]))
            parts = [_read(a, (start, stop), (0, a.shape[2])) for a in (array, *others)]
            array[:, rows] = np.asarray(function(*parts))[:, : rows.stop - start]
            self._progress.step()

    def _stream(self, blocks, source, tile, image_height, out=None):
        """Passes over a chain of ConvBlocks -> (the last block's whole pre-normalization output,
        its statistics), every block's statistics gathered in a pass of its own.

        source: (array, block, statistics): the chain's input is `block`'s normalized output, of
        which `array` holds the pre-normalization values; block None: `array` is the input."""
        sizes = [source[0].shape[1:3]]
        for block in blocks:
            sizes.append(tuple(_output_size(block, n) for n in sizes[-1]))
        statistics = []
        for depth in range(1, len(blocks) + 1):
            size = sizes[depth]
            keep = depth == len(blocks)
            made = keep and out is None
            if made:
                out = self._buffer((1, *size, blocks[-1].filters))
            moments = _RunningMoments()
            # Tiles cover the same image area at every layer: every pass has the same working set.
            tiles = list(_tiles(size, _side(tile, size[0], image_height), _alignment(blocks[:depth])))
            self._progress.next_pass(len(tiles))
            try:
                for rows, cols in tiles:
                    y = self._tile(blocks[:depth], source, sizes, rows, cols, statistics)
                    height, width = (min(stop, n) - start for (start, stop), n in zip((rows, cols), size))
                    moments.add(height * width, *self._moments(y, *_masks((rows, cols), size)))
                    if keep:
                        out[:, rows[0] : rows[0] + height, cols[0] : cols[0] + width] = np.asarray(y)[:, :height, :width]
                    self._progress.step()
            except BaseException:
                if made:
                    release(out)
                raise
            statistics.append(moments.result())
        return out, statistics[-1]

    def _tile(self, blocks, source, sizes, rows, cols, statistics):
        """The last block's pre-normalization output on [rows) x [cols), the blocks before it
        normalized with their whole-image `statistics`."""
        # Backwards: the input region each block needs, past the layer's edges where it reads padding.
        spans, regions = [], [(rows, cols)]
        for i in reversed(range(len(blocks))):
            (r0, r1), (c0, c1) = regions[0]
            span = (_input_span(blocks[i], r0, r1, sizes[i][0]), _input_span(blocks[i], c0, c1, sizes[i][1]))
            spans.insert(0, span)
            regions.insert(0, tuple((first, stop) for first, stop, _ in span))
        array, source_block, source_statistics = source
        x = _read(array, *regions[0])  # zeros outside; an 8-bit image converts tile by tile
        for i, block in enumerate(blocks):
            previous, stats = (blocks[i - 1], statistics[i - 1]) if i > 0 else (source_block, source_statistics)
            if previous is not None:
                plain, masked = self._normalize[id(previous)]
                x = plain(x, *stats) if _inside(regions[i], sizes[i]) else masked(x, *stats, *_masks(regions[i], sizes[i]))
            x = self._convolve[id(block)](x)
            (r0, r1), (c0, c1) = regions[i + 1]
            if x.shape[1:3] != (r1 - r0, c1 - c0):  # transposed convolutions overshoot
                (_, _, row_offset), (_, _, col_offset) = spans[i]
                x = x[:, row_offset : row_offset + r1 - r0, col_offset : col_offset + c1 - c0]
        return x


def _read(array, rows, cols):
    """array[:, rows, cols] as float32, zeros where the ranges run past its edges."""
    if _inside((rows, cols), array.shape[1:3]):
        return np.asarray(array[:, rows[0] : rows[1], cols[0] : cols[1]], np.float32)
    (r0, r1), (c0, c1) = _clip(*rows, array.shape[1]), _clip(*cols, array.shape[2])
    pads = [(0, 0), (r0 - rows[0], rows[1] - r1), (c0 - cols[0], cols[1] - c1), (0, 0)]
    return np.pad(np.asarray(array[:, r0:r1, c0:c1], np.float32), pads)


def _inside(region, size):
    """Whether region's rows and columns, ((first, stop), (first, stop)), all lie within size."""
    return all(0 <= first and stop <= n for (first, stop), n in zip(region, size))


def _masks(region, size):
    """(1, H, 1, 1) and (1, 1, W, 1) float32: 1 where region's rows and columns are inside size."""
    inside = [((span >= 0) & (span < n)).astype(np.float32) for span, n in zip((np.arange(*r) for r in region), size)]
    return inside[0].reshape(1, -1, 1, 1), inside[1].reshape(1, 1, -1, 1)


def _stream_bytes(height, width, channels):
    """Bytes of the residual stream (1/4 of each side) of a height x width image, float32."""
    return -(-height // 4) * -(-width // 4) * channels * 4


class _Progress:
    """Fraction done, from passes over tiles: each pass counts the same."""

    def __init__(self, passes, report):
        self.passes, self.report, self.done, self.count, self.steps = passes, report, -1, 1, 0

    def next_pass(self, steps):
        self.done, self.count, self.steps = self.done + 1, max(steps, 1), 0

    def step(self):
        self.steps += 1
        if self.report:
            self.report(min(1.0, (self.done + self.steps / self.count) / self.passes))


def _output_size(block, size):
    """A block's output length along one axis ('same' convolutions; transposed ones multiply)."""
    return size * block.strides if block.transpose else -(-size // block.strides)


def _input_span(block, start, stop, size):
    """Output positions [start, stop) of a block along one axis whose input has `size` positions
    -> (first, stop, offset): the input positions [first, stop) that its unpadded ('valid')
    convolution needs, and where `start` falls in that convolution's output. Input positions
    outside 0..size-1 are zeros, as in TensorFlow's 'same' padding (before = total // 2)."""
    k, s = block.kernel_size, block.strides
    if block.transpose:
        # The gradient of a 'same' convolution from size * s down to size: output p takes
        # input o with p = s * o + t - pad, 0 <= t < k.
        pad = max((size - 1) * s + k - size * s, 0) // 2
        first = (start + pad - k) // s + 1
        last = (stop - 1 + pad) // s
        return first, last + 1, start - (first * s - pad)
    pad = max((_output_size(block, size) - 1) * s + k - size, 0) // 2
    return start * s - pad, (stop - 1) * s - pad + k, 0


def _clip(first, stop, size):
    """[first, stop) within [0, size)."""
    return max(first, 0), min(stop, size)


def _side(tile, size, image_height):
    """A tile side in image pixels -> the side covering the same image area at a layer whose
    height is `size` (image_height at full resolution)."""
    return max(1, -(-tile * size // image_height))


def _tiles(size, side, align=1):
    """Tiles of one shape covering `size`, about side x side, the last row and column running
    past the edge. align: their sides' multiple, so that every tile's input regions through
    the transposed convolutions (which map start positions of each parity differently) have one
    shape too."""
    rows, cols = (_spans(n, _step(n, side, align)) for n in size)
    for r in rows:
        for c in cols:
            yield r, c


def _step(size, side, align):
    """The tiles' side along an axis of `size`: as few tiles as sides of `side` need, evened out
    and rounded up to a multiple of align. Never a sliver, which is wasteful and, 1 pixel wide,
    hits a oneDNN bug (see src/stylize.py BFLOAT16_MIN_WIDTH)."""
    even = -(-size // -(-size // side))
    return -(-even // align) * align


def _spans(size, step):
    return [(start, start + step) for start in range(0, size, step)]


def _alignment(blocks):
    """The product of the transposed convolutions' strides."""
    return int(np.prod([block.strides for block in blocks if block.transpose]))


class _RunningMoments:
    """Whole-image mean and variance from tiles' (count, mean, squared deviations), merged in
    float64 with Chan, Golub and LeVeque's pairwise update."""

    def __init__(self):
        self.count, self.mean, self.squares = 0, 0.0, 0.0

    def add(self, count, mean, squares):
        mean, squares = np.asarray(mean, np.float64), np.asarray(squares, np.float64)
        total = self.count + count
        delta = mean - self.mean
        self.mean = self.mean + delta * (count / total)
        self.squares = self.squares + squares + delta**2 * (self.count * count / total)
        self.count = total

    def result(self):
        """(mean, variance), each (1, 1, 1, C) float32, as instance norm takes them."""
        shape = (1, 1, 1, -1)
        return (
            np.reshape(self.mean, shape).astype(np.float32),
            np.reshape(self.squares / self.count, shape).astype(np.float32),
        )
