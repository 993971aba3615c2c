"""Training images: order, determinism, resizing, unreadable files, decoding ahead."""

import numpy as np
import pytest
from PIL import Image

from src.images import resize
from src.training.dataset import TrainingImages, readable_images


@pytest.fixture
def images(training_data):
    dataset = TrainingImages(training_data["train"], size=16, batch_size=4, seed=5, workers=2)
    yield dataset
    dataset.close()


def test_epochs_and_order(images, training_data):
    assert len(images.files) == 14 and images.iterations_per_epoch == 3  # 14 // 4, as the original trimmed
    np.testing.assert_array_equal(images.order(0), images.order(0))
    assert sorted(images.order(1)) == list(range(14))
    assert not np.array_equal(images.order(0), images.order(1))
    other = TrainingImages(training_data["train"], 16, 4, seed=6)
    assert not np.array_equal(images.order(0), other.order(0))
    other.close()


def test_batches_are_a_function_of_the_iteration(images):
    first = images.batch(0, stop=6)
    assert first.shape == (4, 16, 16, 3) and first.dtype == np.float32
    second = images.batch(1, stop=6)
    # Asked for again (as Keras does under tf.distribute): the same images.
    np.testing.assert_array_equal(images.batch(0, stop=6), first)
    np.testing.assert_array_equal(images.load(1), second)
    np.testing.assert_array_equal(images.batch(4, stop=6), images.load(4))  # epoch 2
    assert images.wait_seconds >= 0


def test_every_batch_is_full_and_unreadable_files_are_counted(images, training_data):
    batches = [images.batch(i, stop=6) for i in range(6)]
    assert all(batch.shape == (4, 16, 16, 3) for batch in batches)
    assert list(images.skipped) == [training_data["train"] / "broken.jpg"]
    assert "broken.jpg" in images.skipped[training_data["train"] / "broken.jpg"]


def test_batch_files_follow_the_order(tmp_path):
    """Single-colour images: each batch holds exactly its files of the epoch's order."""
    for i in range(8):
        Image.fromarray(np.full((9, 13, 3), 10 * i, np.uint8)).save(tmp_path / f"{i}.png")
    dataset = TrainingImages(tmp_path, 4, 2, seed=1)
    for iteration in range(8):
        epoch, index = divmod(iteration, 4)
        expected = 10 * dataset.order(epoch)[2 * index : 2 * index + 2]
        np.testing.assert_array_equal(dataset.batch(iteration, 8)[:, 0, 0, 0], expected)
    dataset.close()


def test_grayscale_becomes_rgb_and_resize_is_plain_bilinear(tmp_path):
    gray = np.random.default_rng(0).integers(0, 256, (15, 22), dtype=np.uint8)
    Image.fromarray(gray).save(tmp_path / "g.png")
    dataset = TrainingImages(tmp_path, 8, 1, seed=0)
    (image,) = dataset.load(0)
    dataset.close()
    expected = np.asarray(Image.fromarray(gray).convert("RGB").resize((8, 8), Image.Resampling.BILINEAR), np.float32)
    np.testing.assert_array_equal(image, expected)
    np.testing.assert_array_equal(resize(np.repeat(gray[..., None], 3, 2).astype(np.float32), 8, 8), expected)


def test_a_large_jpeg_is_decoded_small_to_the_same_square(tmp_path):
    """A photo four times the square's side is decoded at a quarter of its size (libjpeg
    scales while decoding): the square is the full decode's, resized, within a few levels; a
    JPEG under twice the side (COCO's 640x480 against 256) is decoded whole, to the bit."""
    from src.images import read_image

    rng = np.random.default_rng(3)
    smooth = Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).resize((1024, 768), Image.Resampling.BICUBIC)
    smooth.save(tmp_path / "big.jpg", quality=95)
    smooth.resize((380, 300)).save(tmp_path / "small.jpg", quality=95)
    assert read_image(tmp_path / "big.jpg", at_least=192).rgb.shape == (192, 256, 3)
    assert read_image(tmp_path / "small.jpg", at_least=192).rgb.shape == (300, 380, 3)
    dataset = TrainingImages(tmp_path, 192, 2, seed=0)
    squares = dict(zip((tmp_path / "big.jpg", tmp_path / "small.jpg"), dataset.load(0)[np.argsort(dataset.order(0))]))
    dataset.close()
    for path, square in squares.items():
        full = resize(read_image(path).rgb, 192, 192)
        if path.name == "small.jpg":
            np.testing.assert_array_equal(square, full)
        else:
            assert np.abs(square - full).mean() < 1.0 and np.abs(square - full).max() <= 12


def test_readable_images(training_data, tmp_path):
    assert readable_images(training_data["train"], 4) == 4
    assert readable_images(training_data["train"], 100) == 13
    (tmp_path / "a.txt").write_text("no")
    assert readable_images(tmp_path, 4) == 0
