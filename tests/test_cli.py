"""src/cli.py's argument types: what they take, and the words of what they refuse."""

import argparse

import pytest

from src import cli


@pytest.mark.parametrize("text, size", [("2gb", 2**31), ("500MB", 500 * 2**20), ("64 kb", 65536), ("10b", 10), (" 1TB ", 2**40)])
def test_file_sizes_in_gradios_units(text, size):
    assert cli.file_size(text) == size


@pytest.mark.parametrize("text", ["12", "0mb", "2 g", "1.5gb", "-3mb", "gb", ""])
def test_a_size_without_a_unit_or_of_nothing_is_refused(text):
    with pytest.raises(argparse.ArgumentTypeError, match="not a size like 500mb or 2gb"):
        cli.file_size(text)


@pytest.mark.parametrize("text, ok", [("1", True), ("65535", True), ("0", False), ("65536", False), ("http", False)])
def test_ports(text, ok):
    if ok:
        assert cli.port(text) == int(text)
    else:
        with pytest.raises(argparse.ArgumentTypeError):
            cli.port(text)
