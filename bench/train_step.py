"""The training step the benchmark times: the project's own (src/training/objective.py's StyleObjective,
compiled with Adam and run by Keras's train function, exactly what style.py's `fit` runs each
iteration), and what the TF1 reference (bench/tf1_reference.py training_step) needs to run the
original's step on the same data.

Both sides use the same random VGG19 weights (He-scaled, so no download; the arithmetic is what is
timed), the same style image and photos, the original's loss weights and learning rate.

Precisions (style.py --precision): "float32", and "mixed_bfloat16" (bfloat16 convolutions,
float32 weights, instance-norm statistics, Gram matrices and losses).
"""

import numpy as np

from src.training.vgg import MEAN_RGB

# The original's VGG19 layers up to relu5_1, the last one its losses read (the reference's graph).
VGG_LAYERS = [
    ("conv1_1", 64), ("conv1_2", 64), "pool",
    ("conv2_1", 128), ("conv2_2", 128), "pool",
    ("conv3_1", 256), ("conv3_2", 256), ("conv3_3", 256), ("conv3_4", 256), "pool",
    ("conv4_1", 512), ("conv4_2", 512), ("conv4_3", 512), ("conv4_4", 512), "pool",
    ("conv5_1", 512),
]  # fmt: skip
CONTENT_WEIGHT, STYLE_WEIGHT, TV_WEIGHT, LEARNING_RATE = 7.5, 100.0, 200.0, 1e-3
VGG_MEAN = np.asarray(MEAN_RGB, np.float32)


def vgg_arrays(seed=0):
    """[(kernel, bias)] for the VGG layers: He-scaled random weights, the same for every run."""
    rng = np.random.default_rng(seed)
    arrays, channels = [], 3
    for layer in VGG_LAYERS:
        if layer == "pool":
            continue
        filters = layer[1]
        kernel = rng.normal(0, np.sqrt(2.0 / (9 * channels)), (3, 3, channels, filters)).astype(np.float32)
        arrays.append((kernel, np.zeros(filters, np.float32)))
        channels = filters
    return arrays


def training_batch(batch_size=4, size=256, seed=0):
    """Photos 0..255 (smooth random fields, so that the Gram matrices are not noise)."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (batch_size, size // 32, size // 32, 3))
    return np.repeat(np.repeat(coarse, 32, axis=1), 32, axis=2).astype(np.float32)


def build_step(batch_size=4, size=256, precision="float32", transform_arrays=None):
    """-> (step, batch): step(batch) runs one training iteration of style.py and returns the loss.
    transform_arrays: the transform network's 48 starting arrays in the original's order
    (tf1_reference.training_step takes the same), else a fresh initialisation."""
    import keras

    from src.checkpoints import model_from_original
    from src.training.objective import StyleObjective, style_grams
    from src.pixels import TRAINING_INPUT_SCALE
    from src.transform import build_transform_net
    from src.training.vgg import VggWeights, build_vgg

    names = [layer[0] for layer in VGG_LAYERS if layer != "pool"]
    weights = VggWeights(dict(zip(names, vgg_arrays())), VGG_MEAN, "random", None)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)  # as src/training/train.py builds under --precision
    try:
        transform = model_from_original(transform_arrays) if transform_arrays else build_transform_net()
        vgg = build_vgg(weights)
        grams = style_grams(vgg, [training_batch(1, size, seed=1)[0]])
        objective = StyleObjective(
            transform, vgg, grams, (CONTENT_WEIGHT, STYLE_WEIGHT, TV_WEIGHT), batch_size, TRAINING_INPUT_SCALE
        )
        objective.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE))
    finally:
        keras.config.set_dtype_policy(previous)
    batch = training_batch(batch_size, size)
    one_style = np.ones((batch_size, 1), np.float32)

    def step(photos):
        # The objective reports its three terms (batch means); their sum is the step's loss.
        terms = objective.train_on_batch({"images": photos, "style_weights": one_style}, return_dict=True)
        return float(sum(terms.values()))

    return step, batch
