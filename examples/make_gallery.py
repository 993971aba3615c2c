"""Draw the README's pictures: each example photo, then the photo in each of the original's
shipped styles (gallery.jpg), and beside the original's wave the wave this project trained
(trained.jpg).

    python -m examples.make_gallery   # writes examples/gallery.jpg and examples/trained.jpg
"""

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from src.checkpoints import load_model
from src.cli import import_keras
from src.images import read_image, write_image
from src.pixels import to_uint8
from src.stylize import Stylizer

HERE = Path(__file__).resolve().parent
STYLES = ["wave", "udnie", "the_scream", "the_shipwreck_of_the_minotaur"]
TRAINED = ["wave", "wave_vgg16"]  # the original's model, then ours of the same painting
CELL_HEIGHT, CELL_WIDTH = 160, 240


def main():
    import_keras()
    for name, styles in (("gallery.jpg", STYLES), ("trained.jpg", TRAINED)):
        draw(HERE / name, styles)
        print(f"wrote {HERE / name}", file=sys.stderr)


def draw(path, styles):
    """Rows: the example photos; columns: the photo, then each style."""
    photos = sorted((HERE / "content").glob("*.jpg"))
    stylizers = [Stylizer(load_model(HERE / "models" / f"{style}.keras")) for style in styles]
    rows = []
    for photo in photos:
        rgb = read_image(photo).rgb
        cells = [rgb] + [stylizer(rgb[None])[0] for stylizer in stylizers]
        rows.append(np.concatenate([_cell(cell) for cell in cells], axis=1))
    write_image(path, np.concatenate(rows, axis=0))


def _cell(rgb):
    """Centre-crop to the cell's 3:2 aspect, then shrink, so every row lines up."""
    height, width = rgb.shape[:2]
    crop_height = min(height, round(width * CELL_HEIGHT / CELL_WIDTH))
    crop_width = min(width, round(crop_height * CELL_WIDTH / CELL_HEIGHT))
    top, left = (height - crop_height) // 2, (width - crop_width) // 2
    image = Image.fromarray(to_uint8(rgb[top : top + crop_height, left : left + crop_width]))
    return np.asarray(image.resize((CELL_WIDTH, CELL_HEIGHT), Image.LANCZOS), np.float32)


if __name__ == "__main__":
    main()
