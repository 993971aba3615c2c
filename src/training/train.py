"""Training a transform network (the original's style.py and optimize.py): Keras `fit` of the
StyleObjective (src/training/objective.py) over the training images (src/training/dataset.py), resumable from the
checkpoint directory (src/training/train_state.py), with previews and TensorBoard logs.

One style, or several in one network (conditional instance norm, Dumoulin et al. 2017): step i
trains style i mod S on the whole batch, so the styles take turns, as in that paper.

With more than one GPU under TensorFlow, `fit` runs under tf.distribute.MirroredStrategy, which
splits every batch between them; the loss is defined per example, so the result is the same.
"""

import contextlib
import time
from dataclasses import dataclass

import keras
import numpy as np

from src.training.dataset import TrainingImages
from src.devices import resolve_training_precision
from src.images import write_image
from src.training.fitting import fit_with_progress, fresh_seed
from src.training.objective import StyleObjective, style_grams
from src.pixels import TRAINING_INPUT_SCALE
from src.stylize import Stylizer
from src.training.summaries import EventWriter
from src.training.train_state import LOGS_DIRNAME, StateError, TrainingState, locked, mismatches, read_state, write_checkpoint
from src.transform import build_transform_net
from src.training.vgg import build_vgg
from src.wording import counted


@dataclass
class Outcome:
    start: int  # the iteration this run started from
    iteration: int  # steps done, all runs together
    finished: bool  # all epochs done (else stopped by a signal)
    images: TrainingImages | None = None  # None when there was nothing left to do
    seconds: float = 0.0  # this run's time, from its first step to its last checkpoint
    saving_seconds: float = 0.0  # of which writing checkpoints and previews (a large --test takes long)


def train(settings, vgg_weights, styles, test=None, strategy=None, log=print):
    """Train (or resume) into settings.checkpoint_dir. settings: TrainingSettings; styles: [Style];
    test: the src/images.py Picture for previews (its alpha kept, as evaluate.py keeps it), or
    None; strategy: a tf.distribute strategy (default: MirroredStrategy when TensorFlow sees more
    than one GPU)."""
    names = [style.name for style in styles]
    recorded = {"styles": names, **loss_settings(settings, vgg_weights, styles), "temporal_weight": settings.temporal_weight}
    return run_training(settings, recorded, lambda: _build(settings, vgg_weights, styles), names, test, strategy, log)


def run_training(settings, recorded, build, style_names, test=None, strategy=None, log=print, targets=None):
    """The loop that training and distillation (src/training/distill.py) share: the directory's
    lock and state, the data, resuming, then fit() with checkpoints and previews. recorded: what
    defines the objective (a resume with other values is refused); build(): the objective, with
    the network to train as its `maker`, called under the strategy and the dtype policy;
    targets(images, style index): each batch's "targets" input, or None for none."""
    with locked(settings.checkpoint_dir) as directory:
        state = read_state(directory)
        seed = settings.seed if settings.seed is not None else (state.settings["seed"] if state else fresh_seed())
        recorded = {
            "image_size": settings.image_size,
            "batch_size": settings.batch_size,
            "seed": seed,
            "width": settings.width,
            "residual_blocks": settings.residual_blocks,
            **recorded,
        }
        if state and mismatches(state, recorded):
            raise StateError(
                f"{directory} holds a run with other settings ({'; '.join(mismatches(state, recorded))}): "
                "pass the same values to resume, or use a new --checkpoint-dir"
            )
        images = TrainingImages(settings.train_path, settings.image_size, settings.batch_size, seed)
        try:  # the decoding threads stop however this ends
            total = settings.epochs * images.iterations_per_epoch
            if state and state.iteration >= total:
                log(f"{directory} already holds {counted(state.iteration, 'iteration')}, {counted(settings.epochs, 'epoch')}: nothing to do")
                return Outcome(state.iteration, state.iteration, finished=True)
            keras.utils.set_random_seed(seed)
            precision = resolve_training_precision(settings.precision)
            if precision != "float32":
                log(f"training in {precision} (--precision): bfloat16 matrix units, float32 weights and losses")
            with _scope(strategy or default_strategy(log)), _dtype_policy(precision):
                objective = _compiled(build(), settings, state)
            state = state or TrainingState(0, recorded)
            run = _Run(settings, directory, objective, images, state, style_names, test, log)
            return run.fit(total, targets)
        finally:
            images.close()


def loss_settings(settings, vgg_weights, styles):
    """What defines the objective, so that a resume with other style images, loss weights, layers
    or loss network is refused: the style images' pixels by hash, the VGG file by its weights'."""
    return {
        "style_images": [style.fingerprint() for style in styles],
        "loss_weights": [settings.content_weight, settings.style_weight, settings.tv_weight],
        "style_layers": list(settings.layers.style),
        "content_layer": settings.layers.content,
        "loss_network": f"{vgg_weights.network} {vgg_weights.fingerprint()}",
    }


def default_strategy(log=print):
    """MirroredStrategy over all GPUs when TensorFlow sees more than one, else None."""
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) < 2:
        return None
    log(f"training on {len(gpus)} GPUs (tf.distribute.MirroredStrategy; each batch is split between them)")
    return tf.distribute.MirroredStrategy()


@contextlib.contextmanager
def _dtype_policy(precision):
    """Layers take the global dtype policy when built: set it for the build, then put it back."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _scope(strategy):
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def _build(settings, vgg_weights, styles):
    vgg = build_vgg(vgg_weights, settings.layers)
    names = [style.name for style in styles]
    transform = build_transform_net(len(styles), names, settings.width, settings.residual_blocks)
    return StyleObjective(
        transform,
        vgg,
        style_grams(vgg, [style.rgb for style in styles], alphas=[style.alpha for style in styles]),
        (settings.content_weight, settings.style_weight, settings.tv_weight),
        settings.batch_size,
        input_scale=TRAINING_INPUT_SCALE,
        temporal_weight=settings.temporal_weight,
    )


def _compiled(objective, settings, state):
    """The objective, compiled, with the state's weights and Adam variables when resuming."""
    objective.compile(optimizer=keras.optimizers.Adam(settings.learning_rate))
    objective.optimizer.build(objective.trainable_variables)
    if state:
        objective.maker.set_weights(state.model_weights)
        for variable, value in zip(objective.optimizer.variables, state.optimizer_variables, strict=True):
            variable.assign(value)
        objective.optimizer.learning_rate = settings.learning_rate  # this run's flag, not the saved rate
    return objective


class _Feed(keras.utils.PyDataset):
    """Steps start ... stop - 1 for fit(): the batch and the one-hot style weights of each (and,
    when distilling, the teacher's pictures of the batch)."""

    def __init__(self, images, start, stop, style_count, targets=None):
        # Decoding ahead is TrainingImages' job: Keras asks for one batch at a time.
        super().__init__(workers=1, use_multiprocessing=False)
        self.images, self.start, self.stop, self.style_count = images, start, stop, style_count
        self.targets = targets

    @property
    def num_batches(self):
        return self.stop - self.start

    def __getitem__(self, index):
        iteration = self.start + index
        weights = np.zeros((self.images.batch_size, self.style_count), np.float32)
        weights[:, iteration % self.style_count] = 1.0
        inputs = {"images": self.images.batch(iteration, self.stop), "style_weights": weights}
        if self.targets is not None:
            inputs["targets"] = self.targets(inputs["images"], iteration % self.style_count)
        return (inputs,)


class _Run:
    """One invocation of training: checkpoints, previews and logs around fit()."""

    def __init__(self, settings, directory, objective, images, state, style_names, test, log):
        self.settings, self.directory, self.objective, self.images = settings, directory, objective, images
        self.state, self.style_names, self.test, self.log = state, style_names, test, log
        self.events = EventWriter(directory / LOGS_DIRNAME)
        one_hot = np.eye(len(style_names)) if test is not None else []
        if test is not None:
            settings.test_dir.mkdir(parents=True, exist_ok=True)
        self.stylizers = [Stylizer(objective.maker, style_weights=weights, batch_size=1) for weights in one_hot]
        self.began, self.saving = time.perf_counter(), 0.0

    def fit(self, total, targets=None):
        start = self.state.iteration
        try:
            if start:
                epoch = f"epoch {self.epoch(start + 1) + 1} of {self.settings.epochs}"
                self.log(f"resumed from iteration {start} ({epoch})")
                self.events.restart(start)
            else:
                self.checkpoint(0, self.objective)  # model.keras is there from the start
            feed = _Feed(self.images, start, total, len(self.style_names), targets)
            every = self.settings.checkpoint_iterations
            end, stopped = fit_with_progress(self.objective, feed, self, start, total, every, self.log)
        finally:
            self.events.close()
        return Outcome(start, end, not stopped, self.images, time.perf_counter() - self.began, self.saving)

    def epoch(self, iteration):
        """0-based epoch of the `iteration`-th step (1-based)."""
        return max(iteration - 1, 0) // self.images.iterations_per_epoch

    def describe(self, iteration):
        return f"epoch {self.epoch(iteration) + 1}/{self.settings.epochs}"

    def status(self):
        waited = self.images.wait_seconds / max(time.perf_counter() - self.began, 1e-9)
        return f" | waiting for data {waited:.0%}"

    def record(self, iteration, terms):
        scalars = {f"loss/{name}": value for name, value in terms.items()}
        self.events.scalars(iteration, {**scalars, "loss/total": sum(terms.values())})

    def checkpoint(self, iteration, objective):
        began = time.perf_counter()
        weights = objective.maker.get_weights()
        optimizer = [variable.numpy() for variable in objective.optimizer.variables]
        state = TrainingState(iteration, self.state.settings, weights, optimizer)
        write_checkpoint(self.directory, state, objective.maker)
        if self.test is not None:
            self.preview(iteration)
        self.events.flush()
        self.saving += time.perf_counter() - began

    def preview(self, iteration):
        """The test image through the one forward path, into --test-dir and TensorBoard."""
        for name, stylizer in zip(self.style_names, self.stylizers):
            stylizer.refresh()  # the weights have trained since the last preview
            rgb = stylizer(self.test.rgb[None])[0]
            suffix = f"_{name}" if len(self.style_names) > 1 else ""
            write_image(self.settings.test_dir / f"{self.epoch(iteration)}_{iteration}{suffix}.png", rgb, self.test.alpha)
            self.events.image(iteration, f"preview/{name}", rgb)
