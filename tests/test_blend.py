import numpy as np

from src.blend import LUMA, apply_strength, luminance, preserve_color

RNG = np.random.default_rng(0)
# Mid-range values, so that no shifted pixel needs clipping (tested on its own below).
PHOTO = RNG.uniform(100, 155, (2, 9, 7, 3)).astype(np.float32)
STYLIZED = RNG.uniform(100, 155, (2, 9, 7, 3)).astype(np.float32)

# Full-range BT.601 YCbCr, written out independently of src/blend.py.
YCBCR = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])


def test_preserve_color_takes_luma_from_the_style_and_chroma_from_the_photo():
    out = preserve_color(PHOTO, STYLIZED)
    out_ycc, photo_ycc, stylized_ycc = (x.astype(np.float64) @ YCBCR.T for x in (out, PHOTO, STYLIZED))
    np.testing.assert_allclose(out_ycc[..., 0], stylized_ycc[..., 0], atol=1e-3)
    np.testing.assert_allclose(out_ycc[..., 1:], photo_ycc[..., 1:], atol=1e-3)


def test_preserve_color_clips_to_the_pixel_range():
    # A bright red photo pixel under a white stylized one: shifting R, G and B equally by the luma
    # difference (255 - 94.6) pushes R far above 255.
    out = preserve_color(np.array([[[250.0, 10.0, 10.0]]], np.float32), np.full((1, 1, 3), 255.0, np.float32))
    assert out[0, 0, 0] == 255.0 and out.min() >= 0
    np.testing.assert_allclose(out[0, 0, 1:], 10 + 255 - luminance(np.array([250.0, 10.0, 10.0])), rtol=1e-5)


def test_preserve_color_of_a_gray_photo_is_gray():
    gray = np.repeat(PHOTO[..., :1], 3, axis=-1)
    out = preserve_color(gray, STYLIZED)
    np.testing.assert_allclose(out[..., 0], out[..., 2], atol=1e-4)
    np.testing.assert_allclose(luminance(out), luminance(STYLIZED), atol=1e-3)


def test_strength():
    np.testing.assert_array_equal(apply_strength(PHOTO, STYLIZED, 0.0), PHOTO)
    np.testing.assert_array_equal(apply_strength(PHOTO, STYLIZED, 1.0), STYLIZED)
    np.testing.assert_allclose(apply_strength(PHOTO, STYLIZED, 0.25), 0.75 * PHOTO + 0.25 * STYLIZED, rtol=1e-6)


def test_luma_weights_sum_to_one():
    assert abs(LUMA.sum() - 1) < 1e-6
