"""A minimal training step of the original's recipe, for the benchmark's training figures.

The project's training loop (src/train.py, src/vgg.py, src/losses.py) is written on another
branch; until it lands here, the benchmark times this self-contained step, which does the same
arithmetic: the transform network on a batch of 256x256 photos (fed x / 255, as the original
did), a VGG19-shaped loss network (the original's layers up to relu5_1, max pooling; random
weights, so no download) on the photos and the stylized photos, the original's losses (content
at relu4_2, style Gram matrices at relu1_1 ... relu5_1, total variation; weights 7.5, 100, 200)
and Adam. `build_step` is the one seam: once src.train exists, make it return src.train's step
and the table measures the real thing.

Two precisions: "float32", and "mixed_bfloat16" (Keras' policy: bfloat16 convolutions and
activations, float32 weights, instance-norm statistics, Gram matrices and losses).
"""

import numpy as np

# The original's VGG19 layers up to relu5_1, the last one its losses read.
VGG_LAYERS = [
    ("conv1_1", 64), ("conv1_2", 64), "pool",
    ("conv2_1", 128), ("conv2_2", 128), "pool",
    ("conv3_1", 256), ("conv3_2", 256), ("conv3_3", 256), ("conv3_4", 256), "pool",
    ("conv4_1", 512), ("conv4_2", 512), ("conv4_3", 512), ("conv4_4", 512), "pool",
    ("conv5_1", 512),
]  # fmt: skip
CONTENT_LAYER = "relu4_2"
STYLE_LAYERS = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
CONTENT_WEIGHT, STYLE_WEIGHT, TV_WEIGHT, LEARNING_RATE = 7.5, 100.0, 200.0, 1e-3
VGG_MEAN = np.array([123.68, 116.779, 103.939], np.float32)  # the original's vgg.preprocess


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


def build_vgg(arrays):
    """A Keras model: 0..255 RGB -> {layer name: activation} for the content and style layers."""
    import keras
    from keras import layers

    inputs = keras.Input((None, None, 3))
    x = inputs - VGG_MEAN
    outputs, pool, index = {}, 0, 0
    for layer in VGG_LAYERS:
        if layer == "pool":
            pool += 1
            x = layers.MaxPooling2D(2, padding="same")(x)
            continue
        name = layer[0]
        conv = layers.Conv2D(layer[1], 3, padding="same", name=name)
        x = conv(x)
        conv.set_weights(arrays[index])
        index += 1
        x = layers.ReLU()(x)
        relu = name.replace("conv", "relu")
        if relu == CONTENT_LAYER or relu in STYLE_LAYERS:
            outputs[relu] = x
    model = keras.Model(inputs, outputs)
    model.trainable = False
    return model


def gram(features):
    """(B, H, W, C) -> (B, C, C) / (H W C), in float32: the original's Gram matrix."""
    from keras import ops

    features = ops.cast(features, "float32")
    batch, height, width, channels = ops.shape(features)
    flat = ops.reshape(features, (batch, -1, channels))
    return ops.matmul(ops.transpose(flat, (0, 2, 1)), flat) / ops.cast(height * width * channels, "float32")


def losses(content_features, features, style_grams, stylized):
    """The original's three losses (style.py's optimize), summed."""
    from keras import ops

    content = CONTENT_WEIGHT * ops.mean(
        ops.square(ops.cast(features[CONTENT_LAYER], "float32") - ops.cast(content_features[CONTENT_LAYER], "float32"))
    )
    batch = ops.cast(ops.shape(stylized)[0], "float32")
    style = 0.0
    for name in STYLE_LAYERS:
        target = style_grams[name]
        style += ops.sum(ops.square(gram(features[name]) - target)) / float(np.size(target))
    style = STYLE_WEIGHT * style / batch
    dy = ops.mean(ops.square(stylized[:, 1:] - stylized[:, :-1])) * batch
    dx = ops.mean(ops.square(stylized[:, :, 1:] - stylized[:, :, :-1])) * batch
    tv = TV_WEIGHT * (dx + dy) / batch
    return content + style + tv


def build_step(batch_size=4, size=256, precision="float32", transform_arrays=None):
    """-> (step, batch): step(batch) runs one training iteration and returns the loss.
    transform_arrays: the transform network's 48 starting arrays in the original's order
    (tf1_reference.training_step takes the same), else a fresh initialisation."""
    import keras

    from src.checkpoints import model_from_original
    from src.transform import build_transform_net

    keras.config.set_dtype_policy(precision)
    try:
        transform = model_from_original(transform_arrays) if transform_arrays else build_transform_net()
        vgg = build_vgg(vgg_arrays())
    finally:
        keras.config.set_dtype_policy("float32")
    optimizer = keras.optimizers.Adam(LEARNING_RATE)
    optimizer.build(transform.trainable_variables)
    style_image = training_batch(1, size, seed=1)
    style_grams = {name: np.asarray(gram(vgg(style_image)[name]))[0] for name in STYLE_LAYERS}
    batch = training_batch(batch_size, size)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _tensorflow_step(transform, vgg, optimizer, style_grams), batch
    if backend == "jax":
        return _jax_step(transform, vgg, optimizer, style_grams), batch
    raise ValueError(f"no training step for the {backend} backend")


def _forward(transform, vgg, style_grams, photos, call_transform, call_vgg):
    from keras import ops

    stylized = call_transform(photos / 255.0)  # the original fed the network x / 255
    # Two VGG calls, as the original: one batch of photos and stylized photos together was
    # slower (3.39 s against 2.53 s per float32 step; 1.19 s against 0.92 s in bfloat16).
    content = {CONTENT_LAYER: ops.stop_gradient(call_vgg(photos)[CONTENT_LAYER])}
    features = call_vgg(ops.cast(stylized, photos.dtype))
    return losses(content, features, style_grams, ops.cast(stylized, "float32"))


def _tensorflow_step(transform, vgg, optimizer, style_grams):
    import tensorflow as tf

    @tf.function
    def step(photos):
        with tf.GradientTape() as tape:
            loss = _forward(transform, vgg, style_grams, photos, transform, vgg)
        gradients = tape.gradient(loss, transform.trainable_variables)
        optimizer.apply(gradients, transform.trainable_variables)
        return loss

    return lambda photos: float(step(tf.constant(photos)))


def _jax_step(transform, vgg, optimizer, style_grams):
    import jax

    vgg_values = [v.value for v in vgg.variables]

    def loss_of(trainable, non_trainable, photos):
        def call_transform(x):
            return transform.stateless_call(trainable, non_trainable, x)[0]

        def call_vgg(x):
            return vgg.stateless_call(
                vgg_values[: len(vgg.trainable_variables)], vgg_values[len(vgg.trainable_variables) :], x
            )[0]

        return _forward(transform, vgg, style_grams, photos, call_transform, call_vgg)

    @jax.jit
    def step(trainable, non_trainable, optimizer_values, photos):
        loss, gradients = jax.value_and_grad(loss_of)(trainable, non_trainable, photos)
        trainable, optimizer_values = optimizer.stateless_apply(optimizer_values, gradients, trainable)
        return loss, trainable, optimizer_values

    state = {
        "trainable": [v.value for v in transform.trainable_variables],
        "non_trainable": [v.value for v in transform.non_trainable_variables],
        "optimizer": [v.value for v in optimizer.variables],
    }

    def run(photos):
        loss, state["trainable"], state["optimizer"] = step(
            state["trainable"], state["non_trainable"], state["optimizer"], photos
        )
        return float(loss)

    return run
