"""src/disk_array.py: a float32 image buffer in an unnamed file, read and written by rows."""

import os

import numpy as np
import pytest

from src.disk_array import DiskArray


def test_rows_and_tiles_round_trip_like_a_numpy_array(tmp_path):
    reference = np.random.default_rng(0).normal(size=(1, 13, 7, 5)).astype(np.float32)
    array = DiskArray(reference.shape, folder=tmp_path)
    assert (array.shape, array.nbytes, array.dtype) == (reference.shape, reference.nbytes, np.float32)
    array[:, 0:13] = reference
    np.testing.assert_array_equal(array[:, 2:9], reference[:, 2:9])
    array[:, 3:6, 1:4] = -1.0
    reference[:, 3:6, 1:4] = -1.0
    np.testing.assert_array_equal(array[:, 0:13], reference)
    np.testing.assert_array_equal(array[:, 4:20, 5:], reference[:, 4:, 5:])  # clipped like numpy
    assert array[:, 9:9].shape == (1, 0, 7, 5)
    # The file has no name: nothing is left in the folder, however the process ends.
    assert os.listdir(tmp_path) == []
    array.close()


def test_reads_are_copies_not_views(tmp_path):
    array = DiskArray((1, 4, 4, 1), folder=tmp_path)
    array[:, 0:4] = 1.0
    part = array[:, 0:2]
    part[:] = 7.0
    assert array[:, 0:2].max() == 1.0
    array.close()


@pytest.mark.parametrize("key", [(slice(None),), (0, slice(0, 2)), (slice(None), slice(0, 4, 2)), (slice(None), 1)])
def test_other_indexing_is_refused(tmp_path, key):
    array = DiskArray((1, 4, 4, 1), folder=tmp_path)
    with pytest.raises((IndexError, AttributeError)):
        array[key]
    array.close()


def test_a_folder_without_room_fails_at_creation(tmp_path):
    if not hasattr(os, "posix_fallocate"):
        pytest.skip("no posix_fallocate on this system: space is not reserved up front")
    with pytest.raises(OSError):
        DiskArray((1, 1 << 20, 1 << 20, 64), folder=tmp_path)  # 256 TiB
    assert os.listdir(tmp_path) == []
