"""The memory budget: --tile-size's checks, and when images run whole, how many per pass, and
when in tiles."""

import pytest

from src import memory
from src.stylize import Stylizer
from tests.fixtures import random_network


@pytest.fixture(scope="module")
def model():
    return random_network()


@pytest.mark.parametrize("bad", [-1, 1, 31])
def test_tile_size_validation(model, bad):
    with pytest.raises(ValueError, match="at least 32"):
        memory.check_tile_size(bad)
    with pytest.raises(ValueError, match="at least 32"):
        Stylizer(model, tile_size=bad)
    assert memory.check_tile_size(0) == 0
    assert memory.check_tile_size(32) == 32


@pytest.mark.parametrize(
    ("text", "message"), [("5", "at least 32"), ("abc", "not a whole number"), ("-3", "at least 32")]
)
def test_tile_size_flag_is_checked_by_the_parser(text, message, capsys):
    import evaluate

    with pytest.raises(SystemExit) as exit_info:
        evaluate.build_parser().parse_args(["--in-path", "a", "--out-path", "b", "--tile-size", text])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_plan_tiles_only_above_the_budget():
    assert memory.plan(100, 100, 4, tile_size=64)[:2] == (1, 64)
    assert memory.plan(60, 60, 4, tile_size=64)[:2] == (1, None)
    assert memory.plan(30, 30, 4, tile_size=64)[:2] == (4, None)  # four fit in 64 x 64
    assert memory.plan(30, 40, 8, tile_size=64)[:2] == (3, None)
    side = memory.auto_tile_size()
    assert side >= 4 * memory.MIN_TILE_SIZE and side % 64 == 0
    assert memory.plan(side, side, 4)[1] is None  # whole images go up to a larger budget
    assert memory.plan(100 * side, side, 4)[:2] == (1, side)


def test_batches_follow_free_memory_not_the_tile_size(monkeypatch):
    photo_bytes = 680 * 1024 * memory.BYTES_PER_PIXEL  # 1024x680: 0.42 GB a pass
    monkeypatch.setattr(memory, "available_memory", lambda: 16 << 30)
    assert memory.plan(680, 1024, 4) == (4, None, 2 << 30)  # MAX_WHOLE_BYTES holds four
    monkeypatch.setattr(memory, "available_memory", lambda: 4 * photo_bytes)
    assert memory.plan(680, 1024, 4)[:2] == (1, None)  # a quarter of it holds one
