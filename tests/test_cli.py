"""src/cli.py: its argument types (what they take, and the words of what they refuse) and its signal handling."""

import argparse
import os
import signal
import sys
import time

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


@pytest.mark.parametrize("text, ok", [("2500k", True), ("4M", True), ("1.5m", True), ("4000", False), ("0k", False), ("0.0M", False), ("fast", False), ("4G", False)])
def test_bitrates_need_their_unit_and_more_than_nothing(text, ok):
    if ok:
        assert cli.bitrate(text) == text
    else:
        with pytest.raises(argparse.ArgumentTypeError, match="not a bitrate like 2500k or 4M"):
            cli.bitrate(text)


@pytest.mark.parametrize(
    "script, argv, message",
    [
        ("evaluate", ["in.jpg", "out dir/o.png", "--strength", "0.5"], "flags: __main__.py --in-path in.jpg --out-path 'out dir/o.png' --strength 0.5"),
        ("transform_video", ["in.mp4", "out.gif"], "flags: __main__.py --in-path in.mp4 --out-path out.gif"),
        ("evaluate", ["in.jpg"], "the following arguments are required: --in-path, --out-path"),
        ("evaluate", ["--in-path", "a.jpg", "b.jpg"], "the following arguments are required: --out-path"),
    ],
)
def test_paths_without_their_flags_get_the_command_that_was_meant(script, argv, message, capsys, monkeypatch):
    import importlib

    monkeypatch.setattr(sys, "argv", ["__main__.py"])  # the program's name, as pytest's own run has it

    with pytest.raises(SystemExit) as exit_info:
        importlib.import_module(script).main(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_model_settings_carry_every_model_flag():
    from dataclasses import fields

    from src.settings import ModelSettings

    parser = argparse.ArgumentParser()
    cli.add_model_arguments(parser)
    flags = "--checkpoint a.keras --checkpoint b.keras --style-weights 1 2 --preserve-color --strength 0.5 "
    flags += "--stroke-scale 2 --device cpu --batch-size 3 --tile-size 512 --precision float32 --engine tensorflow"
    model = cli.model_settings(parser.parse_args(flags.split()))
    assert model == ModelSettings(
        checkpoints=("a.keras", "b.keras"),
        style_weights=(1.0, 2.0),
        preserve_color=True,
        strength=0.5,
        stroke_scale=2.0,
        device=cli.device("cpu"),
        batch_size=3,
        tile_size=512,
        precision="float32",
        engine="tensorflow",
    )
    # A model flag added later needs its field: the parser's names and the settings' agree.
    names = {action.dest for action in parser._actions} - {"help", "checkpoint"}
    assert names | {"checkpoints"} == {field.name for field in fields(ModelSettings)}
    assert cli.model_settings(parser.parse_args([])) == ModelSettings()  # the defaults agree too
    options = cli.stylizer_options(parser, model)
    assert (options["batch_size"], options["tile_size"], options["stroke_scale"], options["engine"]) == (3, 512, 2.0, "tensorflow")


def test_a_ctrl_c_inside_jaxs_garbage_collection_callback_is_sent_again_not_lost(monkeypatch):
    sent = []

    class Later:  # threading.Timer, noting what it would send instead of sending it
        def __init__(self, delay, send, arguments):
            self.arguments = arguments

        def start(self):
            sent.append(self.arguments)

    monkeypatch.setattr(cli.threading, "Timer", Later)

    def _xla_gc_callback():  # where JAX drops whatever is raised (jax-ml/jax#18246)
        return elsewhere()

    def elsewhere():
        cli._raise_interrupt(signal.SIGINT, sys._getframe())

    _xla_gc_callback()  # no KeyboardInterrupt there, where it would be printed and dropped...
    assert sent == [(os.getpid(), signal.SIGINT)]  # ...but the same signal again, a moment later
    with pytest.raises(KeyboardInterrupt):
        elsewhere()  # anywhere else: at once


def test_signals_become_a_keyboard_interrupt_and_the_handlers_come_back():
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        with cli.signals_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(2)  # the handler raises in this thread as soon as the signal arrives
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
