"""TensorBoard event files, read back with TensorFlow's own parser (which checks the CRCs)."""

import io

import numpy as np
import pytest
from PIL import Image

from tests.fixtures import read_events
from src.training.summaries import EventWriter, _masked_crc

tf = pytest.importorskip("tensorflow")


def test_scalars_images_and_restart_read_back(tmp_path):
    writer = EventWriter(tmp_path / "logs")
    writer.scalars(3, {"loss/content": 1.5, "loss/style": 2e6})
    rgb = np.random.default_rng(0).uniform(0, 255, (5, 7, 3))
    writer.image(4, "preview/wave", rgb)
    writer.restart(2)
    writer.close()
    first, scalars, image, restart = read_events(tmp_path / "logs")
    assert first.file_version == "brain.Event:2"
    assert scalars.step == 3 and scalars.wall_time > 1e9
    assert {v.tag: v.simple_value for v in scalars.summary.value} == {"loss/content": 1.5, "loss/style": 2e6}
    value = image.summary.value[0]
    assert (image.step, value.tag, value.image.height, value.image.width) == (4, "preview/wave", 5, 7)
    decoded = np.asarray(Image.open(io.BytesIO(value.image.encoded_image_string)))
    np.testing.assert_array_equal(decoded, np.clip(np.rint(rgb), 0, 255).astype(np.uint8))
    assert restart.step == 2 and restart.session_log.status == 1  # START


def test_a_large_preview_is_logged_scaled_down(tmp_path):
    writer = EventWriter(tmp_path / "logs")
    writer.image(1, "preview/wave", np.full((600, 3000, 3), 128.0))
    writer.close()
    _, image = read_events(tmp_path / "logs")
    value = image.summary.value[0].image
    assert (value.height, value.width) == (205, 1024)  # the longer side at IMAGE_SIDE, the shape kept
    assert Image.open(io.BytesIO(value.encoded_image_string)).size == (1024, 205)


def test_a_preview_named_after_a_file_that_is_not_utf8(tmp_path):
    import os

    writer = EventWriter(tmp_path / "logs")
    writer.image(1, "preview/" + os.fsdecode(b"caf\xe9"), np.zeros((4, 4, 3)))
    writer.scalars(2, {os.fsdecode(b"loss/\xff"): 1.0})
    writer.close()
    _, image, scalars = read_events(tmp_path / "logs")
    assert image.summary.value[0].tag == "preview/caf?" and scalars.summary.value[0].tag == "loss/?"


def test_crc32c_known_value():
    # CRC-32C of b"123456789" is 0xE3069283 (RFC 3720); TFRecord masks it.
    crc = 0xE3069283
    assert _masked_crc(b"123456789") == (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
