"""The frame delays of a GIF file, read and set in place (GIF89a: each frame's Graphic Control
Extension holds how long it is shown, in hundredths of a second).

A GIF made from a video whose frames last different times (a sticker's long last frame) is
written with the repeated frames merged into one (ffmpeg's mpdecimate, src/video.py). ffmpeg then
shows each kept frame until the next one, but the last for one frame's time only, as it knows
nothing of the repeats it dropped after it: `hold_last_frame` gives it back the rest.
"""

from pathlib import Path

_EXTENSION, _IMAGE, _TRAILER, _GRAPHIC_CONTROL = 0x21, 0x2C, 0x3B, 0xF9


class GifError(ValueError):
    pass


def delays(data):
    """A GIF's bytes -> [(offset of the delay field, delay in 1/100 s)], one per frame that has a
    Graphic Control Extension, in order."""
    if data[:6] not in (b"GIF87a", b"GIF89a"):
        raise GifError("not a GIF")
    try:
        return _delays(data)
    except IndexError:
        raise GifError("cut short") from None


def _delays(data):
    position, found = 13 + _colour_table_size(data[10]), []
    while position < len(data) and data[position] != _TRAILER:
        block = data[position]
        if block == _EXTENSION:
            if data[position + 1] == _GRAPHIC_CONTROL:
                found.append((position + 4, int.from_bytes(data[position + 4 : position + 6], "little")))
            position = _after_sub_blocks(data, position + 2)
        elif block == _IMAGE:
            position += 10 + _colour_table_size(data[position + 9])
            position = _after_sub_blocks(data, position + 1)  # after the LZW code size
        else:
            raise GifError(f"unknown block {block:#04x} at byte {position}")
    if position >= len(data):  # no trailer
        raise GifError("cut short")
    return found


def hold_last_frame(path, seconds):
    """Make the GIF at `path` last `seconds` in all, by the delay of its last frame."""
    found = delays(Path(path).read_bytes())
    if not found:
        return
    before = sum(delay for _, delay in found[:-1])
    last = max(round(seconds * 100) - before, 2)  # browsers show delays below 2 as 10
    with open(path, "r+b") as file:
        file.seek(found[-1][0])
        file.write(min(last, 0xFFFF).to_bytes(2, "little"))


def _colour_table_size(flags):
    """Bytes of the colour table that a descriptor's packed flags announce."""
    return 3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0


def _after_sub_blocks(data, position):
    """The position after the data sub-blocks starting at `position` (each a length byte and that
    many bytes; a length of 0 ends them)."""
    while True:
        size = data[position]  # IndexError where the file is cut short
        position += 1 + size
        if size == 0:
            return position
