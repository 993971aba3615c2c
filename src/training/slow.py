"""--slow: Gatys et al. (2016), "Image Style Transfer Using Convolutional Neural Networks": no
network is trained; the pixels of --test are optimized directly against the same three losses.
The original's debug mode, which crashed (its `img` was undefined); here it writes the image
being optimized to --test-dir every --checkpoint-iterations and at the end.

As the original did, it runs 1000 iterations when --epochs is below 10 and uses a learning rate
of 10 when --learning-rate is below 1, and starts from VGG's mean colour plus faint noise. The
test image is optimized at its own size (the original squashed it to 256 x 256).
"""

import time

import keras
import numpy as np

from src.images import write_image
from src.training.fitting import fit_with_progress, fresh_seed
from src.training.objective import PixelImage, StyleObjective, style_grams
from src.training.vgg import build_vgg
from src.wording import counted

ORIGINAL_ITERATIONS, ORIGINAL_LEARNING_RATE = 1000, 10.0
NOISE_STDDEV = 0.256
# The least memory the optimization takes on a CPU: VGG's features of every pixel and their
# gradients, held at once, beyond TensorFlow's own (bench/README.md, "--slow's memory").
BYTES_PER_PIXEL, BASE_BYTES = 2 << 10, 1 << 30


def memory_needed(height, width):
    """The least memory --slow takes for a picture of height x width pixels, in bytes."""
    return BASE_BYTES + BYTES_PER_PIXEL * height * width


def optimize_pixels(settings, vgg_weights, style, test, log=print):
    """Optimize an image like `test` (the src/images.py Picture of --test) towards `style`;
    returns the exit status. Its alpha is carried into the pictures as evaluate.py carries it."""
    content = test.rgb
    iterations = settings.epochs if settings.epochs >= 10 else ORIGINAL_ITERATIONS
    learning_rate = settings.learning_rate if settings.learning_rate >= 1 else ORIGINAL_LEARNING_RATE
    height, width = content.shape[:2]
    log(f"--slow: {counted(iterations, 'iteration')} at learning rate {learning_rate:g} on {width}x{height} pixels")
    seed = settings.seed if settings.seed is not None else fresh_seed()
    keras.utils.set_random_seed(seed)
    noise = np.random.default_rng(seed).normal(0, NOISE_STDDEV, (1, *content.shape))
    vgg = build_vgg(vgg_weights, settings.layers)
    picture = PixelImage(vgg_weights.mean + noise)
    objective = StyleObjective(
        picture, vgg, style_grams(vgg, [style.rgb], alphas=[style.alpha]),
        (settings.content_weight, settings.style_weight, settings.tv_weight), 1,
    )
    objective.compile(optimizer=keras.optimizers.Adam(learning_rate))
    run = _SlowRun(settings.test_dir, iterations, test.alpha)
    batch = {"images": content[None].astype(np.float32), "style_weights": np.ones((1, 1), np.float32)}
    feed = _Repeat(batch, iterations)
    end, stopped = fit_with_progress(objective, feed, run, 0, iterations, settings.checkpoint_iterations, log)
    log(f"{counted(end, 'iteration')} in {time.perf_counter() - run.began:.1f} s; the image is {run.last}")
    return 130 if stopped else 0


class _Repeat(keras.utils.PyDataset):
    """The same batch, `count` times."""

    def __init__(self, batch, count):
        super().__init__()
        self.batch, self.count = batch, count

    @property
    def num_batches(self):
        return self.count

    def __getitem__(self, index):
        return (self.batch,)


class _SlowRun:
    """The FitRun for --slow: a checkpoint is the picture written out."""

    def __init__(self, folder, iterations, alpha=None):
        self.folder, self.iterations, self.alpha, self.last = folder, iterations, alpha, None
        self.began = time.perf_counter()

    def describe(self, iteration):
        return "--slow"

    def status(self):
        return ""

    def record(self, iteration, terms):
        pass

    def checkpoint(self, iteration, objective):
        self.last = self.folder / f"slow_{iteration}.png"
        write_image(self.last, keras.ops.convert_to_numpy(objective.maker.pixels.value)[0], self.alpha)
