"""What evaluate.py, transform_video.py, export.py and app.py are asked to do, as data: each
script builds its settings from its flags (checked, defaults that depend on other flags
settled) and the code under it reads them, never the argparse namespace. webcam.py's are
src/live.py LiveSettings, style.py's src/training/settings.py TrainingSettings.

Nothing but dataclasses here, so that a script may import it before its heavy modules.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSettings:
    """The model flags that every script applying a network shares (src/cli.py
    add_model_arguments): which networks, mixed how, painted how, on what."""

    checkpoints: tuple = ()  # empty: the shipped Great Wave (src/cli.py DEFAULT_CHECKPOINT)
    style_weights: tuple | None = None  # None: the first style, or equal parts of the checkpoints
    preserve_color: bool = False
    strength: float = 1.0
    stroke_scale: float = 1.0
    device: str = "auto"
    batch_size: int = 4
    tile_size: int = 0  # 0: chosen from free memory
    precision: str = "auto"
    engine: str = "auto"


@dataclass(frozen=True)
class ImageSettings:
    """evaluate.py: an image, a folder or a pattern into a file or a folder, or a contact sheet."""

    in_path: str
    out_path: str
    model: ModelSettings
    sheet: bool = False
    sheet_size: int = 512  # the photo's longer side in the sheet
    sheet_columns: int | None = None  # None: about square


@dataclass(frozen=True)
class VideoSettings:
    """transform_video.py: a video into a file or a folder, or a folder's or a pattern's into a folder."""

    in_path: str
    out_path: str
    model: ModelSettings
    crf: int | None = None  # None: the codec's default (src/video.py)
    bitrate: str | None = None  # instead of crf
    max_frames: int | None = None
    stabilize: float = 0.0  # 0: each frame painted on its own
    legacy_flags: bool = False  # --tmp-dir or --no-disk given: said to be no longer needed
    max_size: tuple[int, int] | None = None  # (width, height) the frames are scaled to fit; None: their own


@dataclass(frozen=True)
class ExportSettings:
    """export.py: one checkpoint into one format."""

    checkpoint: str
    out_path: str
    format: str = "keras"  # src/export.py FORMATS
    size: tuple | None = None  # (height, width) fixed in the exported model; None: any
    name: str | None = None  # the style's name in a single-style .keras model


@dataclass(frozen=True)
class AppSettings:
    """app.py: where it listens, what it offers, and the certificate for https."""

    host: str = "127.0.0.1"
    port: int = 7860
    models: tuple = ()  # folders of more models, beside examples/models/
    max_file_size: str = "2gb"
    tls: tuple | None = None  # (certificate, key) paths; None: http
