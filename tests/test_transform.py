import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.fixtures import BATCH_ROUNDING, photo
from tests.numpy_reference import transform_net as reference_net
from src.transform import TransformNet, build_transform_net

# Per layer of the original: kernel shape; instance-norm channels follow from it.
ORIGINAL_KERNELS = [
    (9, 9, 3, 32),
    (3, 3, 32, 64),
    (3, 3, 64, 128),
    *[(3, 3, 128, 128)] * 10,
    (3, 3, 64, 128),  # transposed: [k, k, out, in]
    (3, 3, 32, 64),
    (9, 9, 32, 3),
]


def test_parameter_count_and_layer_shapes():
    model = build_transform_net()
    assert model.count_params() == 1_677_638
    blocks = model.layers_in_order()
    assert [tuple(b.conv.kernel.shape) for b in blocks] == ORIGINAL_KERNELS
    assert [tuple(b.norm.scale.shape) for b in blocks] == [(1, k[2] if b.transpose else k[3]) for b, k in zip(blocks, ORIGINAL_KERNELS)]
    assert [b.relu for b in blocks] == [True] * 3 + [True, False] * 5 + [True, True, False]


def test_conditional_instance_norm_adds_one_scale_and_shift_per_style():
    norm_params = 2 * (32 + 64 + 128 + 10 * 128 + 64 + 32 + 3)
    assert build_transform_net(3).count_params() == 1_677_638 + 2 * norm_params


@pytest.mark.parametrize("size", [(24, 16), (37, 29), (190, 338)])
def test_matches_numpy_reference(random_model, original_arrays, size):
    images = np.stack([photo(*size, seed=1), photo(*size, seed=2)])
    expected = reference_net(images, original_arrays)[:, : size[0], : size[1]]
    np.testing.assert_allclose(random_model(images).numpy(), expected, atol=2e-2)


@pytest.mark.parametrize("size", [(1, 1), (5, 3), (3, 5), (2, 7), (338, 190)])
def test_output_has_the_input_size(random_model, size):
    output = random_model(photo(*size)[None]).numpy()
    assert output.shape == (1, *size, 3)
    assert np.isfinite(output).all()
    assert output.min() >= 255 / 2 - 150 and output.max() <= 255 / 2 + 150


def test_batch_entries_are_independent(random_model):
    # Instance norm: an image's output does not depend on the rest of its batch.
    a, b = photo(20, 12, seed=3), photo(20, 12, seed=4)
    together = random_model(np.stack([a, b])).numpy()
    np.testing.assert_allclose(together[0], random_model(a[None]).numpy()[0], atol=BATCH_ROUNDING)
    np.testing.assert_allclose(together[1], random_model(b[None]).numpy()[0], atol=BATCH_ROUNDING)


def test_config_round_trip():
    model = build_transform_net(2, ["wave", "udnie"])
    clone = TransformNet.from_config(json.loads(json.dumps(model.get_config())))
    assert (clone.num_styles, clone.style_names) == (2, ["wave", "udnie"])
    assert clone.count_params() == model.count_params()


@pytest.mark.parametrize("width, blocks, channels", [(0.5, 5, (16, 32, 64)), (0.25, 3, (8, 16, 32)), (0.1, 1, (3, 6, 13))])
def test_slim_networks_round_trip(tmp_path, width, blocks, channels):
    from src.checkpoints import load_model, save_model

    model = build_transform_net(width=width, residual_blocks=blocks)
    assert tuple(block.filters for block in model.blocks[:3]) == channels
    assert len(model.blocks) == 6 + blocks and model.blocks[-1].filters == 3
    assert model.count_params() < build_transform_net().count_params() * width
    save_model(model, tmp_path / "slim.keras")
    loaded = load_model(tmp_path / "slim.keras")
    assert (loaded.width, loaded.residual_blocks) == (width, blocks)
    image = photo(13, 22)[None]
    np.testing.assert_array_equal(np.asarray(loaded(image)), np.asarray(model(image)))


def test_the_original_size_keeps_the_config_older_files_have():
    assert set(build_transform_net().get_config()) == {"num_styles", "style_names", "name"}
    assert TransformNet.from_config({"num_styles": 1, "style_names": ["a"], "name": "t"}).width == 1.0


@pytest.mark.parametrize("options, message", [({"width": 0}, "width"), ({"residual_blocks": 0}, "residual_blocks")])
def test_bad_shapes_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        TransformNet(**options)


def test_save_load_round_trip(tmp_path, random_model):
    import keras

    path = tmp_path / "m.keras"
    random_model.save(path)
    loaded = keras.saving.load_model(path)
    image = photo(17, 23)[None]
    np.testing.assert_array_equal(loaded(image).numpy(), random_model(image).numpy())


def test_style_weights_select_and_mix_styles(random_model):
    # A two-style net sharing random_model's kernels: style 0 has plain norms, style 1 random_model's.
    two = build_transform_net(2)
    for b2, b1 in zip(two.layers_in_order(), random_model.layers_in_order()):
        b2.conv.kernel.assign(b1.conv.kernel)
        b2.norm.scale.assign(np.stack([np.ones(b1.filters), b1.norm.scale.numpy()[0]]))
        b2.norm.shift.assign(np.stack([np.zeros(b1.filters), b1.norm.shift.numpy()[0]]))
    image = photo(24, 20)[None]

    # [0, 1] is exactly the second style, whose parameters are random_model's.
    np.testing.assert_allclose(two(image, style_weights=np.array([0.0, 1.0])).numpy(), random_model(image).numpy(), atol=1e-3)
    # Ratios are normalised: [0, 3] is the same as [0, 1].
    np.testing.assert_allclose(
        two(image, style_weights=np.array([0.0, 3.0])).numpy(), two(image, style_weights=np.array([0.0, 1.0])).numpy(), atol=1e-4
    )
    # [0.5, 0.5] mixes the parameters: a single-style net holding their average gives the same image.
    mixed = build_transform_net(1)
    for block_m, block_2 in zip(mixed.layers_in_order(), two.layers_in_order()):
        block_m.conv.kernel.assign(block_2.conv.kernel)
        block_m.norm.scale.assign(block_2.norm.scale.numpy().mean(0, keepdims=True))
        block_m.norm.shift.assign(block_2.norm.shift.numpy().mean(0, keepdims=True))
    np.testing.assert_allclose(two(image, style_weights=np.array([0.5, 0.5])).numpy(), mixed(image).numpy(), atol=1e-3)
    # Per-example weights in one batch.
    batch = np.concatenate([image, image])
    per_example = two(batch, style_weights=np.array([[1.0, 0.0], [0.0, 1.0]])).numpy()
    np.testing.assert_allclose(per_example[1], random_model(image).numpy()[0], atol=BATCH_ROUNDING)
    assert np.abs(per_example[0] - per_example[1]).max() > 1



def test_same_model_code_runs_on_jax(tmp_path, model_file, random_model):
    pytest.importorskip("jax")
    image = photo(29, 37)[None]
    np.save(tmp_path / "in.npy", image)
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    result = subprocess.run(
        [sys.executable, "-m", "tests.in_subprocess.transform_jax", str(model_file), str(tmp_path / "in.npy"), str(tmp_path / "out.npy")],
        env=env,
        capture_output=True,
        text=True,
        cwd=os.path.dirname(os.path.dirname(__file__)),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), random_model(image).numpy(), atol=1e-2)
