"""The one forward path: images, folders, tiles, video frames and training previews all go
through `Stylizer.__call__`, which takes and returns float32 RGB 0..255 (see src/pixels.py).

The network is compiled once per backend: a tf.function whose input signature leaves batch,
height and width open (so a folder of mixed sizes never retraces), or a jax.jit of the
stateless call (XLA compiles once per shape there).
"""

import numpy as np


class Stylizer:
    """model -> a callable (B, H, W, 3) float32 0..255 -> (B, H, W, 3) float32 0..255."""

    def __init__(self, model, style_weights=None, batch_size=4):
        self.model = model
        self.batch_size = int(batch_size)
        self.style_weights = normalize_style_weights(style_weights, model.num_styles)
        self._forward = compile_forward(model)

    def __call__(self, images):
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"expected images of shape (B, H, W, 3), got {images.shape}")
        outputs = []
        for start in range(0, len(images), self.batch_size):
            batch = images[start : start + self.batch_size]
            weights = np.broadcast_to(self.style_weights, (len(batch), self.model.num_styles))
            outputs.append(self._forward(batch, np.ascontiguousarray(weights)))
        return np.clip(np.concatenate(outputs), 0.0, 255.0)


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


def compile_forward(model):
    """(images (B, H, W, 3), style weights (B, S)) -> numpy (B, H, W, 3), compiled for the backend."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        function = tf.function(
            lambda images, weights: model(images, style_weights=weights),
            input_signature=[
                tf.TensorSpec([None, None, None, 3], tf.float32),
                tf.TensorSpec([None, model.num_styles], tf.float32),
            ],
        )
        return lambda images, weights: function(images, weights).numpy()
    if backend == "jax":
        import jax

        @jax.jit
        def function(trainable, non_trainable, images, weights):
            # No training=False: stateless_call hands keywords straight to TransformNet.call.
            outputs, _ = model.stateless_call(trainable, non_trainable, images, style_weights=weights)
            return outputs

        def forward(images, weights):
            # Read the variables at each call: a training preview must see the current weights.
            trainable = [v.value for v in model.trainable_variables]
            non_trainable = [v.value for v in model.non_trainable_variables]
            return np.asarray(function(trainable, non_trainable, images, weights))

        return forward
    return lambda images, weights: keras.ops.convert_to_numpy(model(images, style_weights=weights))
