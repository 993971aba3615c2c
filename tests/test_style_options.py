"""--style-weights, several --checkpoint, --preserve-color and --strength, through evaluate.py,
transform_video.py and the Stylizer (whole images and tiles)."""

import numpy as np
import pytest
from PIL import Image

import evaluate
from tests.fixtures import photo
from src.blend import luminance
from src.checkpoints import model_from_original, save_model
from src.stylize import Stylizer
from src.transform import build_transform_net
from tests.clips import make_clip

HEIGHT, WIDTH = 30, 44
# Full-range BT.601 chroma rows, written out independently of src/blend.py.
CHROMA = np.array([[-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])


@pytest.fixture(scope="module")
def models(random_model, original_arrays, tmp_path_factory):
    """{'a': random_model, 'b': another single-style model, 'ab': a two-style model whose first
    style is a's norms and second b's, all sharing a's kernels; 'paths': their .keras files}."""
    from tests.fixtures import random_original_arrays

    other = random_original_arrays(seed=7)
    b = model_from_original(original_arrays[:])  # a's kernels ...
    for block, (shift, scale) in zip(b.layers_in_order(), zip(other[1::3], other[2::3])):
        block.norm.shift.assign(shift[None])  # ... with other norms: a second style
        block.norm.scale.assign(scale[None])
    two = build_transform_net(2, ["a", "b"])
    for b2, ba, bb in zip(two.layers_in_order(), random_model.layers_in_order(), b.layers_in_order()):
        b2.conv.kernel.assign(ba.conv.kernel)
        b2.norm.scale.assign(np.concatenate([ba.norm.scale.numpy(), bb.norm.scale.numpy()]))
        b2.norm.shift.assign(np.concatenate([ba.norm.shift.numpy(), bb.norm.shift.numpy()]))
    folder = tmp_path_factory.mktemp("option_models")
    paths = {}
    for name, model in (("a", random_model), ("b", b), ("ab", two)):
        paths[name] = folder / f"{name}.keras"
        save_model(model, paths[name])
    return {"a": random_model, "b": b, "ab": two, "paths": paths}


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    path = tmp_path_factory.mktemp("photo") / "in.png"
    Image.fromarray(photo(HEIGHT, WIDTH, seed=3).astype(np.uint8)).save(path)
    return path


def stylize(tmp_path, source, *options):
    """evaluate.py at float32 -> the output's pixels (int16)."""
    target = tmp_path / f"out{len(list(tmp_path.iterdir()))}.png"
    argv = [*map(str, options), "--precision", "float32", "--in-path", str(source), "--out-path", str(target)]
    assert evaluate.main(argv) == 0
    return np.asarray(Image.open(target), np.int16)


def test_style_weights_of_a_multi_style_model(tmp_path, source, models):
    two = models["paths"]["ab"]
    default = stylize(tmp_path, source, "--checkpoint", two)
    first = stylize(tmp_path, source, "--checkpoint", two, "--style-weights", 1, 0)
    second = stylize(tmp_path, source, "--checkpoint", two, "--style-weights", 0, 2)
    mixed = stylize(tmp_path, source, "--checkpoint", two, "--style-weights", 0.5, 0.5)
    np.testing.assert_array_equal(first, default)  # the default is the first style
    assert np.abs(stylize(tmp_path, source, "--checkpoint", models["paths"]["a"]) - first).max() <= 1
    assert np.abs(stylize(tmp_path, source, "--checkpoint", models["paths"]["b"]) - second).max() <= 1
    # A true mix: the network with averaged norms, not an average of the two pictures.
    image = np.asarray(Image.open(source), np.float32)[None]
    expected = Stylizer(models["ab"], style_weights=[0.5, 0.5], precision="float32")(image)[0]
    assert np.abs(mixed - np.rint(expected)).max() <= 1
    assert np.abs(mixed - (first + second) / 2).mean() > 1


def test_several_checkpoints_mix_their_outputs(tmp_path, source, models):
    a, b = models["paths"]["a"], models["paths"]["b"]
    only_a = stylize(tmp_path, source, "--checkpoint", a)
    only_b = stylize(tmp_path, source, "--checkpoint", b)
    np.testing.assert_array_equal(stylize(tmp_path, source, "--checkpoint", a, "--checkpoint", b, "--style-weights", 1, 0), only_a)
    quarter = stylize(tmp_path, source, "--checkpoint", a, "--checkpoint", b, "--style-weights", 1, 3)
    assert np.abs(quarter - (0.25 * only_a + 0.75 * only_b)).max() <= 1.5
    equal = stylize(tmp_path, source, "--checkpoint", a, "--checkpoint", b)  # default: equal parts
    assert np.abs(equal - (only_a + only_b) / 2).max() <= 1.5


def test_strength(tmp_path, source, models):
    a = models["paths"]["a"]
    photo_pixels = np.asarray(Image.open(source), np.int16)
    np.testing.assert_array_equal(stylize(tmp_path, source, "--checkpoint", a, "--strength", 0), photo_pixels)
    full = stylize(tmp_path, source, "--checkpoint", a)
    np.testing.assert_array_equal(stylize(tmp_path, source, "--checkpoint", a, "--strength", 1), full)
    half = stylize(tmp_path, source, "--checkpoint", a, "--strength", 0.5)
    assert np.abs(half - (photo_pixels + full) / 2).max() <= 1.5


def test_preserve_color_keeps_the_photos_colours(tmp_path, source, models):
    a = models["paths"]["a"]
    photo_pixels = np.asarray(Image.open(source), np.float64)
    styled = stylize(tmp_path, source, "--checkpoint", a).astype(np.float64)
    kept = stylize(tmp_path, source, "--checkpoint", a, "--preserve-color").astype(np.float64)
    inside = (kept > 1).all(-1) & (kept < 254).all(-1)  # pixels that needed no clipping
    assert inside.mean() > 0.5
    chroma_error = np.abs((kept - photo_pixels) @ CHROMA.T)[inside]
    assert chroma_error.max() <= 1.5
    assert np.abs((styled - photo_pixels) @ CHROMA.T)[inside].mean() > 5 * chroma_error.mean() + 1
    np.testing.assert_allclose(luminance(kept)[inside], luminance(styled)[inside], atol=1.5)


def test_options_are_the_same_on_tiles(models):
    image = photo(70, 90, seed=4)[None]
    for options in ({"preserve_color": True}, {"strength": 0.3}, {"style_weights": [0.2, 0.8]}):
        model = models["ab"] if "style_weights" in options else models["a"]
        whole = Stylizer(model, precision="float32", tile_size=4096, **options)(image)
        tiled = Stylizer(model, precision="float32", tile_size=32, **options)(image)
        assert np.abs(whole - tiled).max() < 0.05, options


@pytest.mark.parametrize(
    "options, message",
    [
        (["--checkpoint", "{a}", "--style-weights", "1", "1"], "2 given, but the model has 1 style (random)"),
        (["--checkpoint", "{ab}", "--style-weights", "1"], "1 given, but the model has 2 styles (a, b)"),
        (["--checkpoint", "{a}", "--checkpoint", "{b}", "--style-weights", "1"], "1 given, but 2 checkpoints were given"),
        (["--checkpoint", "{ab}", "--style-weights", "0", "0"], "--style-weights: style weights must be non-negative numbers with a positive sum"),
        (["--checkpoint", "{ab}", "--style-weights", "1", "-1"], "must be a number 0 or more, got -1"),
        (["--checkpoint", "{a}", "--checkpoint", "{ab}"], "ab.keras holds 2 styles: give a multi-style model alone"),
        (["--checkpoint", "{a}", "--strength", "1.5"], "must be between 0 and 1"),
        (["--checkpoint", "{a}", "--strength", "lots"], "not a number"),
    ],
)
def test_bad_options(tmp_path, source, models, capsys, options, message):
    paths = {key: str(value) for key, value in models["paths"].items()}
    argv = [o.format(**paths) for o in options] + ["--in-path", str(source), "--out-path", str(tmp_path / "o.png")]
    with pytest.raises(SystemExit) as exit:
        evaluate.main(argv)
    assert exit.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()


def test_video_takes_the_same_options(tmp_path, models):
    import transform_video
    from src.video import FrameReader
    from src.video_probe import probe

    clip = make_clip(tmp_path / "in.mp4", size="64x48", rate="10", seconds=1, sound=None)

    def frames(path):
        return np.concatenate(list(FrameReader(path, probe(path)).batches(16))).astype(np.float64)

    errors = {}
    for strength in ("0", "1"):
        out = tmp_path / f"strength{strength}.mp4"
        argv = ["--checkpoint", str(models["paths"]["ab"]), "--style-weights", "0", "1", "--strength", strength]
        assert transform_video.main([*argv, "--crf", "0", "--in-path", str(clip), "--out-path", str(out)]) == 0
        errors[strength] = np.abs(frames(out) - frames(clip)).mean()
    # Strength 0 gives the video back, up to the encoder's chroma subsampling of testsrc's sharp
    # edges; the full style is far from it.
    assert errors["0"] < 10 and errors["1"] > 4 * errors["0"], errors
