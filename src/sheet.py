"""Contact sheets: one photo in every style, labelled, in one grid (evaluate.py --sheet, app.py).

Each cell is the photo through the one forward path (src/stylize.py) with the style's own
Stylizer, so a cell is exactly what evaluate.py makes of the photo at the cell's size.
"""

import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from src.pixels import to_uint8

MODEL_SUFFIXES = (".keras", ".ckpt")
LABEL_HEIGHT = 28
GAP = 6


def model_paths(paths):
    """Checkpoints as given, with a folder that is not itself a checkpoint (a folder of models,
    such as examples/models) replaced by the models in it, sorted. ValueError for a folder
    without any."""
    found = []
    for path in map(Path, paths):
        if path.is_dir() and not _is_checkpoint_dir(path):
            inside = sorted(p for p in path.iterdir() if p.suffix in MODEL_SUFFIXES or _is_checkpoint_dir(p))
            if not inside:
                raise ValueError(f"{path} holds no models (.keras, .ckpt or checkpoint folders)")
            found += inside
        else:
            found.append(path)
    return found


def _is_checkpoint_dir(path):
    from src.checkpoints import CheckpointError, locate

    if not path.is_dir():
        return False
    try:
        locate(path)
        return True
    except CheckpointError:
        return False


def styles_of(path, model):
    """(label, style weights) for each style of a loaded model: its file's name for a
    single-style model, the style's name for each style of a multi-style one."""
    if model.num_styles == 1:
        return [(Path(path).stem if Path(path).name != "model.keras" else Path(path).parent.name, None)]
    return [(name, np.eye(model.num_styles)[index]) for index, name in enumerate(model.style_names)]


def sheet_cells(photo, styles, options, progress=False):
    """The photo (H, W, 3) first, then the photo in each style of [(label, model, style weights)],
    each through a Stylizer of its own with `options` -> cells for contact_sheet. progress: a
    bar of the styles done (each compiles its network: a sheet of a dozen takes seconds)."""
    from tqdm import tqdm

    from src.stylize import Stylizer

    cells = [("photo", photo)]
    for label, model, weights in tqdm(styles, desc="contact sheet", unit="style", disable=not progress, file=sys.stderr):
        cells.append((label, Stylizer(model, weights, **options)(photo[None])[0]))
    return cells


def fit_within(rgb, longest):
    """The photo scaled so that its longer side is at most `longest` (never enlarged)."""
    from src.strokes import resample

    height, width = rgb.shape[:2]
    factor = min(1.0, longest / max(height, width))
    return resample(rgb, max(1, round(height * factor)), max(1, round(width * factor)))


def contact_sheet(cells, columns=None):
    """[(label, (H, W, 3) 0..255)], all one size -> the labelled grid, uint8 (rows of `columns`,
    by default as square as the count allows)."""
    if not cells:
        raise ValueError("a contact sheet needs at least one picture")
    height, width = cells[0][1].shape[:2]
    columns = columns or math.ceil(math.sqrt(len(cells)))
    rows = math.ceil(len(cells) / columns)
    sheet = Image.new("RGB", (columns * (width + GAP) + GAP, rows * (height + LABEL_HEIGHT + GAP) + GAP), "white")
    draw, font = ImageDraw.Draw(sheet), _font(LABEL_HEIGHT - 10)
    for index, (label, picture) in enumerate(cells):
        left = GAP + (index % columns) * (width + GAP)
        top = GAP + (index // columns) * (height + LABEL_HEIGHT + GAP)
        sheet.paste(Image.fromarray(to_uint8(picture)), (left, top))
        text = _shortened(draw, label, font, width)
        draw.text((left + 2, top + height + 4), text, fill="black", font=font)
    return np.asarray(sheet)


def _font(size):
    try:
        return ImageFont.load_default(size=size)  # Pillow's own scalable font: no system fonts needed
    except TypeError:  # Pillow before 10.1
        return ImageFont.load_default()


def _shortened(draw, label, font, width):
    """The label cut with an ellipsis to fit `width` pixels."""
    text = label
    while len(text) > 1 and draw.textlength(text, font=font) > width - 4:
        text = text[:-1]
    return text if text == label else text[:-1] + "…"
