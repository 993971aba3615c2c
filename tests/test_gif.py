"""src/gif.py: a GIF's frame delays read block by block, and the last one set in place."""

import numpy as np
import pytest
from PIL import Image

from src.gif import GifError, delays, hold_last_frame


def sticker(path, durations, palettes="global"):
    """A GIF of len(durations) frames of noise (a colour table of its own each where `palettes`
    is "local"), their durations in milliseconds."""
    rng = np.random.default_rng(1)
    frames = [Image.fromarray(rng.integers(0, 256, (9, 13, 3), dtype=np.uint8)) for _ in durations]
    if palettes == "global":
        frames = [frame.quantize(16, palette=frames[0].quantize(16)) for frame in frames]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=durations, loop=0)
    return path


def shown(path):
    image, times = Image.open(path), []
    for index in range(image.n_frames):
        image.seek(index)
        times.append(image.info["duration"])
    return times


@pytest.mark.parametrize("palettes", ["global", "local"])
def test_delays_are_read_and_the_last_one_set(tmp_path, palettes):
    path = sticker(tmp_path / "s.gif", [50, 120, 30], palettes)
    assert [delay for _, delay in delays(path.read_bytes())] == [5, 12, 3]
    before = np.asarray(Image.open(path).convert("RGB"))
    hold_last_frame(path, 2.5)  # 0.17 s for the first two, so the last lasts 2.33 s
    assert shown(path) == [50, 120, 2330]
    assert np.array_equal(np.asarray(Image.open(path).convert("RGB")), before)  # the pictures untouched
    hold_last_frame(path, 0.1)  # less than the others take: the last is shown briefly, not skipped
    assert shown(path)[-1] == 20


def test_what_is_not_a_whole_gif_is_refused(tmp_path):
    data = sticker(tmp_path / "s.gif", [50, 60]).read_bytes()
    with pytest.raises(GifError, match="not a GIF"):
        delays(b"\x89PNG\r\n\x1a\n" + data[8:])
    for cut in (len(data) // 2, 40, 12):  # in a frame's pixels, in its descriptor, in the header
        with pytest.raises(GifError, match="cut short"):
            delays(data[:cut])
