"""The VGG loss networks (VGG19, VGG16): the weight file layouts, their validation, the layer
choice, and the features against a NumPy forward pass."""

import h5py
import numpy as np
import pytest

from src.training.vgg import VggError, build_vgg, load_vgg_weights
from src.training.vgg_layers import CONTENT_LAYER, JOHNSON_LAYERS, STYLE_LAYERS, LossLayers, check_layers
from tests.numpy_reference import numpy_vgg
from tests.vgg_files import random_weights, write_keras, write_matconvnet


@pytest.fixture(scope="module")
def weights():
    return random_weights(width=4, seed=3)


def test_both_layouts_read_the_same_network(tmp_path, weights):
    mat = load_vgg_weights(write_matconvnet(tmp_path / "a.mat", weights))
    h5 = load_vgg_weights(write_keras(tmp_path / "b.h5", weights))
    assert (mat.layout, h5.layout) == ("MatConvNet", "Keras")
    for name, (kernel, bias) in weights.items():
        # .mat: [width, height] transposed back; .h5: BGR flipped back to RGB in conv1_1.
        np.testing.assert_array_equal(mat.convolutions[name][0], kernel)
        np.testing.assert_array_equal(h5.convolutions[name][0], kernel)
        np.testing.assert_array_equal(mat.convolutions[name][1], bias)
        np.testing.assert_array_equal(h5.convolutions[name][1], bias)
    np.testing.assert_allclose(mat.mean, [123.68, 116.779, 103.939], rtol=1e-6)
    np.testing.assert_allclose(h5.mean, mat.mean, rtol=1e-6)


def test_matconvnet_kernels_are_transposed_like_the_original(tmp_path, weights):
    path = write_matconvnet(tmp_path / "a.mat", weights)
    import scipy.io

    stored = scipy.io.loadmat(str(path))["layers"][0, 2][0, 0]["weights"][0, 0]  # conv1_2
    loaded = load_vgg_weights(path).convolutions["conv1_2"][0]
    assert not np.array_equal(stored, loaded)  # random kernels are not symmetric
    np.testing.assert_array_equal(loaded, np.transpose(stored, (1, 0, 2, 3)))


def test_later_matconvnet_layout_and_keras_slash_names(tmp_path, weights):
    mat = load_vgg_weights(write_matconvnet(tmp_path / "a.mat", weights, meta=True))
    h5 = load_vgg_weights(write_keras(tmp_path / "b.h5", weights, slash_names=True))
    np.testing.assert_allclose(mat.mean, [123.68, 116.779, 103.939], rtol=1e-6)
    np.testing.assert_array_equal(h5.convolutions["conv5_4"][0], weights["conv5_4"][0])


def test_real_widths_load(tmp_path):
    """VGG19's real shapes (64 ... 512 channels), the files' full 80 MB of convolutions."""
    weights = {name: (np.zeros_like(k), b) for name, (k, b) in random_weights(width=64).items()}
    for path in (write_matconvnet(tmp_path / "a.mat", weights), write_keras(tmp_path / "b.h5", weights)):
        loaded = load_vgg_weights(path)
        assert loaded.width == 64
        assert loaded.convolutions["conv5_4"][0].shape == (3, 3, 512, 512)


def test_features_match_numpy(tmp_path, weights):
    loaded = load_vgg_weights(write_keras(tmp_path / "b.h5", weights))
    images = np.random.default_rng(0).uniform(0, 255, (2, 19, 17, 3)).astype(np.float32)
    features = build_vgg(loaded)(images)
    expected = numpy_vgg(images, weights, loaded.mean)
    assert set(features) == {*STYLE_LAYERS, CONTENT_LAYER}
    for name, value in features.items():
        scale = np.abs(expected[name]).max()
        np.testing.assert_allclose(np.asarray(value), expected[name], rtol=1e-4, atol=1e-3 * scale)
    assert features["relu5_1"].shape == (2, 2, 2, 32)


def test_network_is_frozen(tmp_path, weights):
    network = build_vgg(load_vgg_weights(write_matconvnet(tmp_path / "a.mat", weights)))
    assert network.trainable_weights == []
    assert len(network.non_trainable_weights) == 2 * 13  # conv1_1 ... conv5_1


def _write(path, data):
    path.write_bytes(data)
    return path


def _truncated(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _wrong_shape(weights):
    changed = dict(weights)
    kernel, bias = weights["conv4_1"]
    changed["conv4_1"] = (kernel[..., :16], bias[:16])
    return changed


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d, w: d / "missing.mat", "not found"),
        (lambda d, w: d, "is not a file"),
        (lambda d, w: _write(d / "empty.mat", b""), "empty"),
        (lambda d, w: _write(d / "notes.mat", b"hello"), "is not a VGG weight file"),
        (lambda d, w: _truncated(write_matconvnet(d / "cut.mat", w)), "cut short"),
        (lambda d, w: _truncated(write_keras(d / "cut.h5", w)), "cut short"),
        (lambda d, w: write_matconvnet(d / "v18.mat", w, drop=("conv5_4",)), "not VGG19 weights: it lacks conv5_4"),
        (lambda d, w: write_keras(d / "v18.h5", w, drop=("conv5_4",)), "not Keras' VGG19: it has no block5_conv4"),
        (lambda d, w: write_keras(d / "v15.h5", _vgg16(w), drop=("conv4_3",)), "not Keras' VGG16: it has no block4_conv3"),
        (lambda d, w: _truncated(write_keras(d / "cut16.h5", _vgg16(w))), "cut short"),
        (lambda d, w: write_keras(d / "shape16.h5", _wrong_shape(_vgg16(w))), "where VGG16 has [3, 3, 16, 32]"),
        (lambda d, w: write_matconvnet(d / "shape.mat", _wrong_shape(w)), "conv4_1 has kernel [3, 3, 16, 16]"),
        (lambda d, w: write_keras(d / "shape.h5", _wrong_shape(w)), "where VGG19 has [3, 3, 16, 32]"),
        (lambda d, w: _matlab_without_layers(d / "other.mat"), "no 'layers'"),
        (lambda d, w: _hdf5_without_layers(d / "other.h5"), "not Keras' VGG19"),
        (lambda d, w: _write(d / "v73.mat", b"MATLAB 7.3 MAT-file" + bytes(600)), "v7.3"),
    ],
)
def test_bad_files_are_clear_errors(tmp_path, weights, make, message):
    path = make(tmp_path, weights)
    with pytest.raises(VggError) as error:
        load_vgg_weights(path)
    assert message in str(error.value)
    assert str(path) in str(error.value)


def _vgg16(weights):
    return {name: value for name, value in weights.items() if name not in ("conv3_4", "conv4_4", "conv5_4")}


def _matlab_without_layers(path):
    import scipy.io

    scipy.io.savemat(str(path), {"x": np.zeros(3)})
    return path


def _hdf5_without_layers(path):
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    return path


@pytest.mark.parametrize("write", [write_keras, write_matconvnet])
def test_vgg16_files_are_recognised_by_their_layers(tmp_path, write):
    weights = random_weights(width=4, seed=5, network="VGG16")
    loaded = load_vgg_weights(write(tmp_path / "vgg16.file", weights))
    assert loaded.network == "VGG16"
    assert sorted(loaded.convolutions) == sorted(weights)
    for name, (kernel, bias) in weights.items():
        np.testing.assert_array_equal(loaded.convolutions[name][0], kernel)
        np.testing.assert_array_equal(loaded.convolutions[name][1], bias)
    assert load_vgg_weights(write(tmp_path / "vgg19.file", random_weights(width=4))).network == "VGG19"


def test_vgg16_features_at_johnsons_layers_match_numpy(tmp_path):
    weights = random_weights(width=4, seed=6, network="VGG16")
    loaded = load_vgg_weights(write_keras(tmp_path / "vgg16.h5", weights))
    network = build_vgg(loaded, JOHNSON_LAYERS)
    images = np.random.default_rng(1).uniform(0, 255, (2, 23, 18, 3)).astype(np.float32)
    features = network(images)
    expected = numpy_vgg(images, weights, loaded.mean, last="relu4_3")
    assert set(features) == {"relu1_2", "relu2_2", "relu3_3", "relu4_3"}
    for name, value in features.items():
        scale = np.abs(expected[name]).max()
        np.testing.assert_allclose(np.asarray(value), expected[name], rtol=1e-4, atol=1e-3 * scale)
    # The network stops at the deepest layer asked for: relu4_3 needs 10 of VGG16's 13 convolutions.
    assert len(network.convolutions) == 10


def test_the_default_layers_differ_only_where_the_networks_do(tmp_path):
    vgg19 = build_vgg(load_vgg_weights(write_keras(tmp_path / "19.h5", random_weights(width=4))))
    assert (vgg19.style_layers, vgg19.content_layer) == (STYLE_LAYERS, CONTENT_LAYER)
    vgg16 = build_vgg(load_vgg_weights(write_keras(tmp_path / "16.h5", random_weights(width=4, network="VGG16"))))
    assert vgg16.network == "VGG16" and set(vgg16(np.zeros((1, 16, 16, 3), np.float32))) >= set(vgg16.style_layers)


def test_layers_a_network_lacks_are_refused():
    assert check_layers("VGG16", JOHNSON_LAYERS) == JOHNSON_LAYERS
    with pytest.raises(ValueError, match="VGG16 has no layer relu5_4: its layers are relu1_1, relu1_2"):
        check_layers("VGG16", LossLayers(("relu1_1", "relu5_4"), "relu4_2"))
    with pytest.raises(ValueError, match="VGG19 has no layer conv4_2"):
        check_layers("VGG19", LossLayers(STYLE_LAYERS, "conv4_2"))
    with pytest.raises(ValueError, match="at least one style layer"):
        check_layers("VGG19", LossLayers((), "relu4_2"))


def test_fingerprint_follows_the_weights_not_the_layout(tmp_path):
    weights = random_weights(width=4, seed=7)
    mat = load_vgg_weights(write_matconvnet(tmp_path / "a.mat", weights))
    h5 = load_vgg_weights(write_keras(tmp_path / "b.h5", weights))
    other = load_vgg_weights(write_keras(tmp_path / "c.h5", random_weights(width=4, seed=8)))
    assert mat.fingerprint() == h5.fingerprint() != other.fingerprint()
