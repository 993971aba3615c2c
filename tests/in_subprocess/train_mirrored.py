"""One training step split over two logical CPUs equals the unsplit one, then style.py's training under that
strategy (tests/test_train_mirrored.py); logical devices must be set before TensorFlow starts.

    python -m tests.in_subprocess.train_mirrored VGG_FILE STYLE_ARGS...
"""

import sys
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
import numpy as np

import style
from src.training.objective import StyleObjective, style_grams
from src.training.train import train
from src.transform import build_transform_net
from src.training.vgg import build_vgg, load_vgg_weights

vgg_path, *argv = sys.argv[1:]
weights = load_vgg_weights(vgg_path)
two_cpus = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
assert two_cpus.num_replicas_in_sync == 2
rng = np.random.default_rng(0)
batch = {"images": rng.uniform(0, 255, (4, 16, 16, 3)).astype(np.float32), "style_weights": np.ones((4, 1), np.float32)}
style_image = rng.uniform(0, 255, (20, 18, 3)).astype(np.float32)


class Once(keras.utils.PyDataset):
    num_batches = property(lambda self: 1)

    def __getitem__(self, index):
        return (batch,)


def one_sgd_step(strategy):
    # SGD, not Adam: Adam's step hardly depends on the gradient's scale, SGD's is proportional
    # to it, so a batch not split (or split but not averaged) would show.
    keras.utils.set_random_seed(1)
    with strategy.scope():
        vgg = build_vgg(weights)
        transform = build_transform_net()
        objective = StyleObjective(transform, vgg, style_grams(vgg, [style_image]), (7.5, 100, 200), 4, 1 / 255)
        objective.compile(optimizer=keras.optimizers.SGD(1e-9))
    before = transform.get_weights()
    logs = objective.fit(Once(), epochs=1, shuffle=False, verbose=0).history
    return [a - b for a, b in zip(transform.get_weights(), before)], logs


single, single_logs = one_sgd_step(tf.distribute.get_strategy())
split, split_logs = one_sgd_step(two_cpus)
for name in ("content", "style", "tv"):
    np.testing.assert_allclose(split_logs[name], single_logs[name], rtol=1e-5)
for a, b in zip(split, single):
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4 * np.abs(b).max())
print("same step on two replicas")

parser = style.build_parser()
args = parser.parse_args(argv)
style.check_paths(parser, args)
test = style.read_image_or_exit(parser, "--test", args.test)
settings = style.training_settings(parser, args, weights.network)
outcome = train(settings, weights, style.read_styles(parser, args), test, strategy=two_cpus)
print("trained", outcome.iteration)
