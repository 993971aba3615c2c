import io
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageCms

from src.images import ImageError, output_format, peek_size, read_image, writable_suffix, write_image
from tests.fixtures import heic, loaded


def gradient(height=12, width=20):
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 255 // (width - 1), y * 255 // (height - 1), (x + y) % 256], -1).astype(np.uint8)


def write_png16(path, array):
    """A 16-bit PNG (gray, RGB or RGBA), which Pillow cannot write itself."""
    height, width, channels = array.shape
    raw = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in array)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 16, {1: 0, 3: 2, 4: 6}[channels], 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_rgb_jpeg(tmp_path):
    Image.fromarray(gradient()).save(tmp_path / "a.jpg", quality=100)
    picture = read_image(tmp_path / "a.jpg")
    assert picture.rgb.dtype == np.float32 and picture.rgb.shape == (12, 20, 3) and picture.alpha is None
    assert np.abs(picture.rgb - gradient()).mean() < 3


def test_grayscale_becomes_rgb(tmp_path):
    Image.fromarray(gradient()[..., 0]).save(tmp_path / "g.png")
    rgb = read_image(tmp_path / "g.png").rgb
    assert rgb.shape == (12, 20, 3)
    np.testing.assert_array_equal(rgb[..., 0], gradient()[..., 0])
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 2])


def test_bilevel(tmp_path):
    Image.fromarray(gradient()[..., 0] > 127).save(tmp_path / "b.png")
    assert set(np.unique(read_image(tmp_path / "b.png").rgb)) == {0.0, 255.0}


def test_palette_with_and_without_transparency(tmp_path):
    image = Image.fromarray(gradient()).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    image.save(tmp_path / "p.png")
    assert read_image(tmp_path / "p.png").alpha is None
    image.save(tmp_path / "pt.png", transparency=0)
    picture = read_image(tmp_path / "pt.png")
    expected = np.where(np.asarray(image) == 0, 0, 255)
    np.testing.assert_array_equal(picture.alpha, expected)
    np.testing.assert_array_equal(picture.rgb, np.asarray(image.convert("RGB")))


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_is_split_off_unchanged(tmp_path, mode):
    alpha = (np.arange(12 * 20).reshape(12, 20) % 256).astype(np.uint8)
    image = Image.fromarray(gradient()).convert(mode[:-1])
    image.putalpha(Image.fromarray(alpha))
    image.save(tmp_path / "a.png")
    picture = read_image(tmp_path / "a.png")
    np.testing.assert_array_equal(picture.alpha, alpha)
    assert picture.rgb.shape == (12, 20, 3)


def test_cmyk(tmp_path):
    Image.fromarray(gradient()).convert("CMYK").save(tmp_path / "c.jpg", quality=100)
    rgb = read_image(tmp_path / "c.jpg").rgb
    assert rgb.shape == (12, 20, 3)
    assert np.abs(rgb - gradient()).mean() < 8


def test_16_bit_gray_uses_the_full_range(tmp_path):
    values = np.array([[0, 257 * 100, 65535]], np.uint16)[..., None]
    write_png16(tmp_path / "g16.png", values)
    np.testing.assert_allclose(read_image(tmp_path / "g16.png").rgb[0, :, 0], [0, 100, 255], atol=0.01)


@pytest.mark.parametrize("channels", [3, 4])
def test_16_bit_colour(tmp_path, channels):
    array = (gradient().astype(np.uint16) * 257)[..., :channels] if channels == 3 else np.concatenate(
        [gradient().astype(np.uint16) * 257, np.full((12, 20, 1), 257 * 77, np.uint16)], -1
    )
    write_png16(tmp_path / "c16.png", array)
    picture = read_image(tmp_path / "c16.png")
    np.testing.assert_array_equal(picture.rgb, gradient())
    if channels == 4:
        assert (picture.alpha == 77).all()


def test_exif_orientation_is_applied(tmp_path):
    image = Image.fromarray(gradient(12, 20))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    image.save(tmp_path / "o.jpg", exif=exif, quality=100)
    assert peek_size(tmp_path / "o.jpg") == (20, 12)
    rgb = read_image(tmp_path / "o.jpg").rgb
    assert rgb.shape == (20, 12, 3)
    assert np.abs(rgb - np.rot90(gradient(12, 20), -1)).mean() < 3


def test_heic_photos_are_read_upright(tmp_path):
    flat = read_image(heic(tmp_path / "IMG_0001.HEIC", gradient(12, 20)))
    assert flat.rgb.shape == (12, 20, 3) and np.abs(flat.rgb - gradient(12, 20)).mean() < 4
    turned = heic(tmp_path / "IMG_0002.heic", gradient(12, 20), orientation=6)  # held upright
    assert peek_size(turned) == (20, 12)
    assert np.abs(read_image(turned).rgb - np.rot90(gradient(12, 20), -1)).mean() < 4


@pytest.mark.parametrize(
    ("name", "suffix"), [("a.png", ".png"), ("b.JPG", ".jpg"), ("IMG_1.HEIC", ".jpg"), ("c.heif", ".jpg"), ("d.psd", ".png")]
)
def test_results_of_unwritable_formats_are_jpeg_for_photos_and_png_for_the_rest(name, suffix):
    assert writable_suffix(name) == suffix


def test_icc_profile_is_kept(tmp_path):
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(gradient()).save(tmp_path / "icc.png", icc_profile=profile)
    picture = read_image(tmp_path / "icc.png")
    assert picture.icc_profile == profile
    write_image(tmp_path / "out.jpg", picture.rgb, icc_profile=picture.icc_profile)
    assert loaded(tmp_path / "out.jpg").info["icc_profile"] == profile


@pytest.mark.parametrize(
    "name, content",
    [
        ("text.jpg", b"not an image at all\n"),
        ("empty.png", b""),
        ("half.jpg", None),
        ("half.png", None),
    ],
)
def test_broken_files_raise_a_clear_error(tmp_path, name, content):
    if content is None:
        buffer = io.BytesIO()
        Image.fromarray(gradient(200, 300)).save(buffer, format="JPEG" if name.endswith("jpg") else "PNG")
        content = buffer.getvalue()[: len(buffer.getvalue()) // 2]
    (tmp_path / name).write_bytes(content)
    reason = "an empty file" if not content else "not a readable image"
    with pytest.raises(ImageError, match=f"{name}: {reason}"):
        read_image(tmp_path / name)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(ImageError, match="is a directory"):
        read_image(tmp_path)


@pytest.mark.parametrize("extension, fmt", [(".png", "PNG"), (".JPG", "JPEG"), (".jpeg", "JPEG"), (".webp", "WEBP"), (".bmp", "BMP"), (".tif", "TIFF")])
def test_output_format_follows_the_extension(tmp_path, extension, fmt):
    assert output_format(tmp_path / f"x{extension}") == fmt
    write_image(tmp_path / f"x{extension}", gradient().astype(np.float32))
    assert loaded(tmp_path / f"x{extension}").format == fmt


@pytest.mark.parametrize("name", ["x.txt", "x.psd"])
def test_unwritable_extensions(tmp_path, name):
    with pytest.raises(ImageError, match="cannot write images with extension"):
        output_format(tmp_path / name)


def test_no_extension_is_told_how_to_name_a_file_or_a_folder(tmp_path):
    with pytest.raises(ImageError, match="noext: no extension to choose the format by: give a file such as .*noext.jpg, or a folder as .*noext/"):
        output_format(tmp_path / "noext")


def test_write_rounds_and_clips(tmp_path):
    rgb = np.array([[[-20.0, 0.4, 0.6], [254.6, 300.0, 127.5]]], np.float32)
    write_image(tmp_path / "r.png", rgb)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "r.png")), [[[0, 0, 1], [255, 255, 128]]])


def test_alpha_written_to_png_and_dropped_with_a_note_for_jpeg(tmp_path):
    alpha = np.full((12, 20), 99, np.uint8)
    assert write_image(tmp_path / "a.png", gradient().astype(np.float32), alpha) is None
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "a.png"))[..., 3], alpha)
    note = write_image(tmp_path / "a.jpg", gradient().astype(np.float32), alpha)
    assert "transparency dropped" in note
    assert loaded(tmp_path / "a.jpg").mode == "RGB"


def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    (tmp_path / "keep.png").write_bytes(b"old")

    def crash(self, fp, *args, **kwargs):
        with open(fp, "wb") as f:
            f.write(b"partial")
        raise OSError("No space left on device")

    monkeypatch.setattr(Image.Image, "save", crash)
    with pytest.raises(ImageError, match="cannot write .*keep.png: No space left"):
        write_image(tmp_path / "keep.png", gradient().astype(np.float32))
    assert os.listdir(tmp_path) == ["keep.png"]
    assert (tmp_path / "keep.png").read_bytes() == b"old"


def test_float_image_with_nan_or_infinity_is_refused(tmp_path):
    values = np.full((6, 8), 0.5, np.float32)
    values[1, 2], values[3, 3] = np.nan, np.inf
    Image.fromarray(values, mode="F").save(tmp_path / "f.tiff")
    with pytest.raises(ImageError, match="f.tiff: not a readable image .2 of its 48 pixels are not numbers"):
        read_image(tmp_path / "f.tiff")


@pytest.mark.parametrize("name", ["x.ico", "x.icns"])
def test_icon_formats_are_refused(tmp_path, name):
    with pytest.raises(ImageError, match="icon sizes only"):
        output_format(tmp_path / name)


def test_an_animation_or_pages_note_that_only_the_first_frame_is_used(tmp_path):
    frames = [Image.fromarray(gradient() + i * 40) for i in range(3)]
    for name in ("a.gif", "a.webp", "a.png", "pages.tiff"):
        frames[0].save(tmp_path / name, save_all=True, append_images=frames[1:])
    for name in ("a.gif", "a.webp", "a.png"):
        assert read_image(tmp_path / name).note == (
            f"{name}: an animation of 3 frames; only the first is stylized (transform_video.py stylizes every frame)"
        )
    assert read_image(tmp_path / "pages.tiff").note == "pages.tiff: has 3 pages; only the first is stylized"
    # A camera's JPEG with a preview after the photo (MPO) is one photo; so is a still GIF.
    frames[0].save(tmp_path / "camera.jpg", format="MPO", save_all=True, append_images=[frames[1].resize((8, 6))])
    Image.fromarray(gradient()).save(tmp_path / "still.gif")
    assert [read_image(tmp_path / name).note for name in ("camera.jpg", "still.gif")] == [None, None]
    assert read_image(tmp_path / "camera.jpg").rgb.shape[:2] == frames[0].size[::-1]  # the photo, not its preview


def test_dangling_links_and_loops_are_named(tmp_path):
    from src.images import list_images

    Image.fromarray(gradient()).save(tmp_path / "good.png")
    (tmp_path / "gone.jpg").symlink_to(tmp_path / "nowhere.jpg")
    (tmp_path / "loop1.jpg").symlink_to(tmp_path / "loop2.jpg")
    (tmp_path / "loop2.jpg").symlink_to(tmp_path / "loop1.jpg")
    assert [p.name for p in list_images(tmp_path)] == ["gone.jpg", "good.png", "loop1.jpg", "loop2.jpg"]
    with pytest.raises(ImageError, match="gone.jpg: a link to .*nowhere.jpg, which does not exist"):
        read_image(tmp_path / "gone.jpg")
    with pytest.raises(ImageError, match="loop1.jpg: a loop of symbolic links"):
        read_image(tmp_path / "loop1.jpg")
