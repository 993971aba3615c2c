"""Image files in and out.

Reading honours EXIF orientation and turns every Pillow mode into float32 RGB 0..255 (see
src/pixels.py): grayscale, palette, CMYK and 16-bit images included, and phones' HEIC photos
where pi-heif (requirements.txt) is installed. Alpha is split off and carried beside the pixels
unchanged, and so is an RGB image's ICC colour profile. Writing picks the format from the file
extension and is atomic: the image is written under a temporary name in the same folder and
renamed into place, so a crash never leaves a half-written output.
"""

import errno
import functools
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps

from src.atomic import atomic_path
from src.errors import first_line
from src.out_paths import no_extension
from src.pixels import to_uint8
from src.wording import counted, some_names

# Pillow refuses images above ~179 megapixels as decompression bombs; tiled stylization handles
# far bigger ones, so the limit is raised to what fits comfortably in memory as float32.
MAX_PIXELS = 400_000_000
# Quality settings for lossy formats: Pillow's JPEG default (75, 4:2:0) smears the fine,
# saturated brush strokes that style transfer produces.
SAVE_OPTIONS = {"JPEG": {"quality": 95, "subsampling": 0}, "WEBP": {"quality": 95}}
# Formats Pillow writes only at icon sizes (ICO: at most 256 x 256; ICNS: fixed squares), which
# would silently change the picture's size.
ICON_FORMATS = {"ICO", "ICNS"}
# Pillow's formats whose frames are an animation (GIF, APNG, WebP), which transform_video.py reads.
ANIMATED_FORMATS = {"GIF", "PNG", "WEBP"}
# Phones' HEIF photos, which Pillow reads through pi-heif but cannot write: their results are
# JPEG, as PNG would make a photo's file several times larger.
HEIF_SUFFIXES = {".heic", ".heif", ".hif"}


class ImageError(Exception):
    """An input that is not a readable image, or an output that cannot be written."""


@dataclass
class Picture:
    rgb: np.ndarray  # (H, W, 3) float32 0..255, or uint8 when read with keep_8bit
    alpha: np.ndarray | None = None  # (H, W) uint8, carried over unchanged
    icc_profile: bytes | None = None  # kept only for RGB images, whose values we keep in place
    note: str | None = None  # what the reader did that the user should know (first frame only)

    @property
    def size(self):
        """(height, width)"""
        return self.rgb.shape[:2]


@functools.cache
def _register_heif():
    """Teach Pillow to read HEIF, once, when the first image is opened (not on import)."""
    try:
        from pi_heif import register_heif_opener
    except ImportError:  # a missing pi-heif leaves HEIC files "not a readable image"
        return
    register_heif_opener()


def _open(path):
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    _register_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(path)
    except FileNotFoundError:
        if Path(path).is_symlink():
            raise ImageError(f"{path}: a link to {Path(path).readlink()}, which does not exist") from None
        raise ImageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a directory") from None
    except Image.DecompressionBombError:
        raise ImageError(f"{path}: larger than {MAX_PIXELS // 1_000_000} megapixels") from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise ImageError(f"{path}: a loop of symbolic links") from None
        raise ImageError(_unreadable(path, error)) from None
    except (ValueError, SyntaxError) as error:
        raise ImageError(_unreadable(path, error)) from None


def _unreadable(path, error):
    from src.video_probe import VIDEO_SUFFIXES  # only to say where a video goes

    if Path(path).suffix.lower() in VIDEO_SUFFIXES:
        return f"{path}: a video, not an image (transform_video.py stylizes videos)"
    if _empty(path):  # a failed copy or download; Pillow only says it cannot identify it
        return f"{path}: an empty file"
    return f"{path}: not a readable image ({first_line(error)})"


def _empty(path):
    try:
        return Path(path).stat().st_size == 0
    except OSError:
        return False


def peek_size(path):
    """(height, width) after EXIF orientation, from the header alone; ImageError if unreadable."""
    with _open(path) as image:
        width, height = image.size
        try:
            orientation = image.getexif().get(0x0112, 1)
        except Exception:  # a damaged EXIF block is no reason to refuse the image
            orientation = 1
    # Orientations 5-8 rotate by 90 degrees.
    return (width, height) if orientation in (5, 6, 7, 8) else (height, width)


def read_image(path, keep_8bit=False, at_least=None):
    """path -> Picture; ImageError with a clear reason for anything unreadable. keep_8bit: 8-bit
    images keep uint8 pixels (a quarter of the memory; 16-bit and float ones are float32).
    at_least: a side in pixels, for a caller that shrinks the picture to a square of it anyway
    (training): a JPEG is then decoded at a half, a quarter or an eighth of its size where both
    sides stay at least that long (Pillow's draft: libjpeg scales while decoding), many times
    faster for a phone's photo (bench/README.md)."""
    with _open(path) as image:
        frames, image_format = getattr(image, "n_frames", 1), image.format
        try:
            if at_least:
                image.draft(None, (at_least, at_least))
            image.load()
            image = ImageOps.exif_transpose(image)
            picture = _to_picture(image, keep_8bit)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
            raise ImageError(_unreadable(path, error)) from None
    picture.note = _frames_note(Path(path).name, image_format, frames)
    return picture


def _frames_note(name, image_format, frames):
    """What is left out of a picture of several frames (None: nothing worth saying)."""
    if frames == 1 or image_format == "MPO":  # a camera's JPEG, its previews (or 3D's other eye) after it
        return None
    if image_format in ANIMATED_FORMATS:
        every = "(transform_video.py stylizes every frame)"
        return f"{name}: an animation of {frames} frames; only the first is stylized {every}"
    return f"{name}: has {frames} {'pages' if image_format == 'TIFF' else 'frames'}; only the first is stylized"


def _to_picture(image, keep_8bit=False):
    icc = image.info.get("icc_profile") if image.mode in ("RGB", "RGBA", "P", "PA") else None
    alpha = None
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA") if image.mode in ("P", "PA", "RGBa") else image
        alpha = np.asarray(image.getchannel("A"), dtype=np.uint8)
        image = image.convert("RGB" if image.mode in ("RGBA", "RGBa") else "L")
    if image.mode.startswith("I") or image.mode == "F":
        rgb = _wide_gray_to_rgb(image)
    else:
        rgb = np.asarray(_convert_to_rgb(image), dtype=np.uint8 if keep_8bit else np.float32)
    return Picture(np.ascontiguousarray(rgb), alpha, icc)


def _convert_to_rgb(image):
    if image.mode == "CMYK" and image.info.get("icc_profile"):
        # Print files: convert through their own profile to sRGB, not by naive inversion.
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(image.info["icc_profile"]))
            return ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except (ImageCms.PyCMSError, OSError):
            pass
    return image if image.mode == "RGB" else image.convert("RGB")  # no copy of a photo already RGB


def _wide_gray_to_rgb(image):
    """16-bit ('I;16*', 'I') and float ('F') grayscale -> RGB 0..255 without clipping to white."""
    values = np.asarray(image, dtype=np.float64)
    bad = np.count_nonzero(~np.isfinite(values))
    if bad:
        raise ValueError(f"{bad} of its {values.size} pixels are not numbers (NaN or infinity)")
    if image.mode == "F":
        scale = 255.0 if values.max(initial=0) <= 1.0 else 1.0
    else:
        scale = 255.0 / 65535.0 if image.mode.startswith("I;16") or values.max(initial=0) > 255 else 1.0
    gray = np.clip(values * scale, 0, 255).astype(np.float32)
    return np.repeat(gray[:, :, None], 3, axis=2)


def named_like_an_image(path):
    """Whether a path's extension is one Pillow knows as an image's (.jpg, .png, ...)."""
    return Path(path).suffix.lower() in Image.registered_extensions()


def output_format(path):
    """The Pillow format an output path's extension asks for; ImageError if none can be written."""
    extension = Path(path).suffix.lower()
    if not extension:
        raise ImageError(no_extension(path, "format", ".jpg"))
    fmt = Image.registered_extensions().get(extension)
    if fmt is None or fmt not in Image.SAVE or not _writes_rgb(fmt):
        raise ImageError(f"{path}: cannot write images with extension '{extension}'")
    if fmt in ICON_FORMATS:
        raise ImageError(f"{path}: {fmt} holds icon sizes only, not the picture's own size; use .png")
    return fmt


def writable_suffix(path):
    """path's extension where Pillow can write it; else what its result is written as: .jpg
    for HEIF photos, .png for the rest (PSD, ...)."""
    suffix = Path(path).suffix.lower()
    try:
        output_format(Path(f"x{suffix}"))
    except ImageError:
        return ".jpg" if suffix in HEIF_SUFFIXES else ".png"
    return suffix


@functools.cache
def _writes_rgb(fmt):
    """Whether Pillow saves an RGB image as `fmt`: some formats it writes take other modes only
    (BLP, XBM, ...), and would fail only after the network had run."""
    try:
        Image.new("RGB", (2, 2)).save(io.BytesIO(), format=fmt)
    except Exception:  # Pillow's writers refuse with many exception types
        return False
    return True


def write_image(path, rgb, alpha=None, icc_profile=None):
    """Write float 0..255 RGB (plus optional alpha) atomically; returns a warning string or None."""
    path = Path(path)
    fmt = output_format(path)
    image = Image.fromarray(to_uint8(rgb))
    warning = None
    if alpha is not None:
        image.putalpha(Image.fromarray(np.ascontiguousarray(alpha, dtype=np.uint8)))
    options = dict(SAVE_OPTIONS.get(fmt, {}))
    if icc_profile:
        options["icc_profile"] = icc_profile
    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # planned, created only when there is output
        with atomic_path(path) as temporary:
            try:
                image.save(temporary, format=fmt, **options)
            except (OSError, ValueError, KeyError):
                if image.mode != "RGBA":
                    raise
                # Formats without alpha (JPEG, ...): write the pixels and say what was dropped.
                image.convert("RGB").save(temporary, format=fmt, **options)
                warning = f"{path.name}: {fmt} has no alpha channel; transparency dropped"
    except (OSError, ValueError, KeyError) as error:
        raise ImageError(f"cannot write {path}: {first_line(error)}") from None
    return warning


def resize(rgb, height, width):
    """(H, W, 3) float 0..255 -> (height, width, 3) float32: bilinear on the 8-bit image, as
    scipy.misc.imresize did in the original."""
    image = Image.fromarray(to_uint8(rgb)).resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.float32)


def list_images(folder):
    """Every visible regular file in a folder, sorted, and every link that is not to a folder
    (a dangling link or a loop is then reported by name when read, not silently left out);
    whether each is an image is found on reading."""
    return sorted(
        p for p in Path(folder).iterdir() if not p.name.startswith(".") and (p.is_file() or _broken_link(p))
    )


def folders_inside(folder):
    """The visible folders directly inside `folder` (none for a file): list_images does not
    search them, as the original did not."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def unsearched_note(folder, kind):
    """What is said of the folders inside `folder`, which are not searched (None where it has
    none); kind: what is taken from it ("images")."""
    folders = folders_inside(folder)
    if not folders:
        return None
    where = f"{counted(len(folders), 'folder')} in {folder} ({some_names(folders)})"
    return f"{where} not searched: only the {kind} directly in it are stylized"


def _broken_link(path):
    return path.is_symlink() and not path.exists()
