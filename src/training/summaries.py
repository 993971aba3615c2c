"""TensorBoard logs (`tensorboard --logdir CHECKPOINT_DIR`): scalars and preview images.

The event file is written directly: TFRecord framing around `Event` protocol buffers, encoded
by hand. tf.summary needs the tensorboard package, which tensorflow no longer brings and the
JAX-only GPU machines lack; the few fields needed here are simple to encode, and the tests read
the files back with TensorFlow's own parser.

    Event        wall_time=1 (double), step=2 (int64), file_version=3, summary=5, session_log=7
    Summary      value=1 (repeated Value)
    Value        tag=1, simple_value=2 (float), image=4 (Image)
    Image        height=1, width=2, colorspace=3, encoded_image_string=4 (PNG)
    SessionLog   status=1 (START=1: TensorBoard drops the later steps of an interrupted run)
"""

import functools
import io
import os
import socket
import struct
import time
from pathlib import Path

from PIL import Image

from src.pixels import to_uint8

# Flush at most this often between checkpoints, so TensorBoard sees progress without a disk
# write per step.
FLUSH_SECONDS = 30
# The longest side of a preview in the log: a phone photo as --test would add tens of megabytes
# of PNG per checkpoint; --test-dir keeps the full size.
IMAGE_SIDE = 1024


class EventWriter:
    """Appends events to a new events.out.tfevents.* file in `logdir`."""

    def __init__(self, logdir):
        logdir = Path(logdir)
        logdir.mkdir(parents=True, exist_ok=True)
        name = f"events.out.tfevents.{time.time():.0f}.{socket.gethostname()}.{os.getpid()}.{time.monotonic_ns()}"
        self._file = open(logdir / name, "ab")
        self._flushed = time.monotonic()
        self._write(_double(1, time.time()) + _bytes(3, b"brain.Event:2"))

    def scalars(self, step, values):
        """values: {tag: number}."""
        summary = b"".join(_bytes(1, _bytes(1, _tag(tag)) + _float(2, value)) for tag, value in values.items())
        self._event(step, _bytes(5, summary))

    def image(self, step, tag, rgb):
        """rgb: (H, W, 3) float 0..255, stored as PNG, scaled to IMAGE_SIDE at most."""
        from src.sheet import fit_within

        rgb = fit_within(rgb, IMAGE_SIDE)
        png = io.BytesIO()
        Image.fromarray(to_uint8(rgb)).save(png, format="PNG")
        height, width = rgb.shape[:2]
        image = _varint_field(1, height) + _varint_field(2, width) + _varint_field(3, 3) + _bytes(4, png.getvalue())
        self._event(step, _bytes(5, _bytes(1, _bytes(1, _tag(tag)) + _bytes(4, image))))

    def restart(self, step):
        """Mark a resumed run: TensorBoard discards what an earlier run logged after `step`."""
        self._event(step, _bytes(7, _varint_field(1, 1)))

    def flush(self):
        self._file.flush()
        self._flushed = time.monotonic()

    def close(self):
        self._file.close()

    def _event(self, step, payload):
        self._write(_double(1, time.time()) + _varint_field(2, step) + payload)
        if time.monotonic() - self._flushed > FLUSH_SECONDS:
            self.flush()

    def _write(self, record):
        """One TFRecord: length, masked CRC of the length, data, masked CRC of the data."""
        length = struct.pack("<Q", len(record))
        self._file.write(length + struct.pack("<I", _masked_crc(length)) + record)
        self._file.write(struct.pack("<I", _masked_crc(record)))


def _varint(value):
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _varint_field(number, value):
    return _varint(number << 3) + _varint(value)


def _tag(tag):
    """A tag as TensorBoard's UTF-8: the name of a preview photo need not be UTF-8 (an old
    archive's), and its undecodable bytes come as "?"."""
    return tag.encode(errors="replace")


def _bytes(number, data):
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _double(number, value):
    return _varint(number << 3 | 1) + struct.pack("<d", value)


def _float(number, value):
    return _varint(number << 3 | 5) + struct.pack("<f", value)


@functools.cache
def _crc_table():
    """CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum TFRecord uses."""
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
        table.append(crc)
    return table


def _masked_crc(data):
    table, crc = _crc_table(), 0xFFFFFFFF
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
