import numpy as np
import pytest

from src import strokes
from src.stylize import Stylizer
from tests.fixtures import noise_images, photo


def textured(height, width, seed=0):
    """A photo with fine detail (one-pixel noise on top of smooth shapes), the kind a plain
    enlargement blurs."""
    rng = np.random.default_rng(seed)
    return np.clip(photo(height, width, seed) + rng.normal(0, 25, (height, width, 1)), 0, 255).astype(np.float32)


def gradient_energy(rgb):
    """Mean squared difference of neighbouring pixels: how much fine detail a picture has."""
    return float(np.mean(np.diff(rgb, axis=0) ** 2) + np.mean(np.diff(rgb, axis=1) ** 2))


@pytest.mark.parametrize(
    "size, scale, expected",
    [((100, 60), 2, (50, 30)), ((101, 61), 2, (50, 30)), ((100, 60), 0.5, (200, 120)), ((37, 53), 3, (16, 23))],
)
def test_working_size_is_one_kth_of_the_photo_but_never_below_the_smallest_side(size, scale, expected):
    assert strokes.working_size(*size, scale) == expected


def test_resample_keeps_constants_and_gives_exact_sizes():
    flat = np.full((30, 41, 3), 77.5, np.float32)
    for size in [(30, 41), (15, 20), (61, 83), (7, 100)]:
        out = strokes.resample(flat, *size)
        assert out.shape == (*size, 3) and out.dtype == np.float32
        np.testing.assert_allclose(out, 77.5, atol=1e-3)
    # Same size: the very picture, no resampling blur.
    image = textured(30, 41)
    np.testing.assert_array_equal(strokes.resample(image, 30, 41), image)


def test_a_grey_photo_painted_as_itself_comes_back_exactly():
    # With a network that returns its input, the enlarged picture plus the photo's lost
    # luminance detail is the photo itself for a grey photo (its colour is its luminance).
    grey = np.repeat(strokes.luminance(textured(45, 67)), 3, axis=-1)
    small = strokes.resample(grey, 15, 22)
    restored = strokes.back_to_size(small, grey)
    plain = strokes.resample(small, 45, 67)
    assert restored.shape == grey.shape
    assert np.abs(restored - np.clip(grey, 0, 255)).max() < 0.05
    assert np.abs(plain - grey).mean() > 10  # what a plain resize loses


def test_enlarged_picture_has_the_photos_detail_and_a_reduced_one_keeps_its_own():
    image = textured(60, 90)
    painted_small = noise_images(20, 30, seed=3)[0] * 0.2 + 100  # colours of its own, little detail
    enlarged = strokes.back_to_size(painted_small, image)
    plain = np.clip(strokes.resample(painted_small, 60, 90), 0, 255)
    assert gradient_energy(enlarged) > 3 * gradient_energy(plain)
    # Colours stay the painted picture's: the detail added has no mean.
    assert abs(enlarged.mean() - plain.mean()) < 2.0
    painted_large = noise_images(120, 180, seed=4)[0]
    reduced = strokes.back_to_size(painted_large, image)
    np.testing.assert_allclose(reduced, np.clip(strokes.resample(painted_large, 60, 90), 0, 255), atol=1e-4)


@pytest.mark.parametrize("scale", [2.0, 0.5, 1.7])
def test_stylizer_paints_at_the_working_size_and_returns_the_photos_size(random_model, scale):
    image = textured(37, 53)[None]
    out = Stylizer(random_model, precision="float32", stroke_scale=scale)(image)
    assert out.shape == image.shape
    working = strokes.working_size(37, 53, scale)
    painted = Stylizer(random_model, precision="float32")(strokes.resample(image[0], *working)[None])[0]
    np.testing.assert_allclose(out[0], strokes.back_to_size(painted, image[0]), atol=1e-3)
    # A different stroke size is a different picture.
    plain = Stylizer(random_model, precision="float32")(image)
    assert np.abs(out - plain).mean() > 1.0


def test_strength_and_colour_apply_to_the_rescaled_picture(random_model):
    image = textured(40, 48)[None]
    half = Stylizer(random_model, precision="float32", stroke_scale=2, strength=0.5)(image)
    full = Stylizer(random_model, precision="float32", stroke_scale=2)(image)
    np.testing.assert_allclose(half, np.clip(0.5 * image + 0.5 * full, 0, 255), atol=1e-2)


def test_tiles_are_planned_at_the_working_size_and_match_the_whole_picture(random_model):
    image = textured(120, 150)[None]
    stylizer = Stylizer(random_model, precision="float32", tile_size=64, stroke_scale=0.5)
    assert stylizer.tiles(120, 150) and not Stylizer(random_model, tile_size=256, stroke_scale=2).tiles(300, 400)
    whole = Stylizer(random_model, precision="float32", tile_size=4096, stroke_scale=0.5)(image)
    tiled = stylizer(image)
    assert tiled.shape == image.shape
    # Tiles blend into each other (src/tiling.py); up to the 8-bit stripes they are the whole image.
    assert np.abs(tiled - whole).mean() < 2.0


@pytest.mark.parametrize("scale", [0, -1, float("nan")])
def test_a_stroke_scale_that_is_not_positive_is_refused(random_model, scale):
    with pytest.raises(ValueError, match="stroke scale"):
        Stylizer(random_model, stroke_scale=scale)
