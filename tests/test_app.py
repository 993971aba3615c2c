"""app.py as a person uses it: the server started on a free local port, driven in a real headless
browser (Debian's chromium through selenium): upload, choose a style, move the strength slider,
stylize, download; a broken file gets a message. The work behind the page (src/webapp.py) is
tested directly too, without a browser."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from types import SimpleNamespace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from src.checkpoints import save_model
from src.cli import ROOT
from tests.clips import audio_facts, decoded, make_clip, make_transparent_clip, streams, video_facts
from tests.fixtures import first_frame, heic, loaded, photo, random_network

ELSEWHERE = "classroom.test"
CHROMIUM, DRIVER = shutil.which("chromium") or "/usr/bin/chromium", shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("app_models")
    save_model(random_network(seed=5), folder / "mine.keras")
    save_model(random_network(num_styles=2, seed=6), folder / "pair.keras")
    (folder / "broken.keras").write_bytes(b"not a model at all")
    return folder


def evaluated(model, source, out, *flags):
    """What evaluate.py (default precision and engine) makes of `source` -> int array."""
    import evaluate

    assert evaluate.main(["--checkpoint", str(model), "--in-path", str(source), "--out-path", str(out), *flags]) == 0
    return np.asarray(Image.open(out)).astype(int)


def save_photo(path, height, width, seed=0):
    Image.fromarray(photo(height, width, seed).astype(np.uint8)).save(path)
    return path


# --- the work behind the page -----------------------------------------------------------------


@pytest.fixture(scope="module")
def catalog(models):
    from src.webapp import Catalog

    return Catalog.load([models])


@pytest.fixture
def workspace():
    from src.webapp import Workspace

    space = Workspace()
    yield space
    space.remove()
    assert not space.root.exists()


def test_catalog_lists_every_style_and_names_the_model_that_failed(catalog):
    assert catalog.labels() == ["mine", "style_0", "style_1"]
    assert len(catalog.problems) == 1 and "broken.keras could not be loaded" in catalog.problems[0]
    assert catalog.live_labels() == catalog.labels()  # no quarter-width students in this folder


def test_results_are_full_resolution_and_what_evaluate_makes(catalog, workspace, tmp_path):
    from src.webapp import stylize_files

    first, second = save_photo(tmp_path / "a.png", 70, 90), save_photo(tmp_path / "b.jpg", 45, 33, seed=2)
    result = stylize_files(catalog, workspace, [str(first), str(second)], "mine", strength=0.6)
    assert result.message.startswith("Stylized 2 of 2 photos")
    assert len(result.pairs) == 4 and len(result.downloads) == 2
    out = np.asarray(Image.open(result.downloads[0])).astype(int)
    assert out.shape == (70, 90, 3) and Path(result.downloads[0]).suffix == ".png"
    expected = evaluated(catalog.style("mine").path, first, tmp_path / "evaluated.png", "--strength", "0.6")
    assert np.abs(out - expected).max() <= 1
    assert all(Path(path).is_relative_to(workspace.root) for path in result.downloads)


def test_a_phones_heic_photo_is_stylized_into_a_jpeg(catalog, workspace, tmp_path):
    from src.webapp import stylize_files

    upload = heic(tmp_path / "IMG_0042.HEIC", photo(40, 30).astype(np.uint8), orientation=6)
    result = stylize_files(catalog, workspace, [str(upload)], "mine")
    assert result.message.startswith("Stylized 1 of 1 photo") and len(result.pairs) == 2
    (download,) = result.downloads
    assert Path(download).name == "00_IMG_0042_mine.jpg" and loaded(download).size == (40, 30)  # upright


def test_mixes_inside_a_network_and_between_models_and_refuses_across(catalog):
    from src.webapp import AppError

    inside = catalog.stylizer("style_0", "style_1", 0.25)
    np.testing.assert_allclose(inside._networks[0][1].style_weights, [0.75, 0.25])
    assert catalog.stylizer("mine", None, 0.7)._networks[0][0] == 1.0
    with pytest.raises(AppError, match="multi-style network"):
        catalog.stylizer("mine", "style_1", 0.5)
    with pytest.raises(AppError, match="no style called"):
        catalog.stylizer("nobody")


def test_a_file_that_is_not_an_image_is_named_and_the_rest_is_done(catalog, workspace, tmp_path):
    from src.webapp import AppError, stylize_files

    bad = tmp_path / "notes.jpg"
    bad.write_text("hello")
    clip = make_clip(tmp_path / "clip.mp4", size="64x48", seconds=0.5, sound=None)
    result = stylize_files(catalog, workspace, [str(bad), str(save_photo(tmp_path / "ok.png", 30, 40)), str(clip)], "mine")
    assert result.message.startswith("Stylized 1 of 3 photos") and "notes.jpg" in result.message
    assert str(tmp_path) not in result.message  # the upload's temporary folder is not the user's business
    # A video among the photos: the page names its own tab, not a script.
    assert "clip.mp4: a video, not an image (the Video tab stylizes videos)" in result.message
    with pytest.raises(AppError, match="upload"):
        stylize_files(catalog, workspace, [], "mine")


def test_what_is_said_of_a_photo_reaches_the_page(catalog, workspace, tmp_path):
    from PIL import Image

    from src.webapp import stylize_files

    frames = [Image.new("RGB", (24, 16), colour) for colour in ("red", "green", "blue")]
    frames[0].save(tmp_path / "sticker.gif", save_all=True, append_images=frames[1:])
    result = stylize_files(catalog, workspace, [str(tmp_path / "sticker.gif")], "mine")
    assert result.message.startswith("Stylized 1 of 1 photo")
    # Said in the page, not only on the terminal, and without a script's name.
    assert "- sticker.gif: an animation of 3 frames; only the first is stylized (the Video tab stylizes every frame)" in result.message
    assert ".py" not in result.message


def test_contact_sheet_and_live_frames(catalog, workspace, tmp_path):
    from src.webapp import LiveFrames, sheet_file

    path, message = sheet_file(catalog, workspace, str(save_photo(tmp_path / "p.png", 60, 80)), size=40)
    assert loaded(path).size[0] > 2 * 40 and "3 styles" in message
    frame = photo(24, 32).astype(np.uint8)
    live = LiveFrames(catalog)
    painted = live(frame, "style_1", 1.0, False)
    assert painted.shape == (24, 32, 3) and painted.dtype == np.uint8
    assert np.abs(painted.astype(int) - frame).mean() > 1
    assert live(None, "style_1") is None
    from src.engines import resolve_engine

    assert live.engine in (("openvino", "tensorflow") if resolve_engine("auto", "cpu") == "openvino" else (None,))
    made = []
    stylizer = catalog.stylizer
    catalog.stylizer = lambda *args, **kwargs: made.append(args) or stylizer(*args, **kwargs)
    try:
        # Strength and colour change the style's one Stylizer: no network is compiled anew.
        again = live(frame, "style_1", 0.5, False)
        assert np.abs(again.astype(int) - frame).mean() < np.abs(painted.astype(int) - frame).mean()
        assert live(frame, "style_1", 0.5, True).shape == frame.shape and made == []
        assert np.array_equal(live(frame, "style_1", 1.0, False), painted)
        live(frame, "mine", 1.0, False)  # a new style: one new Stylizer, on the engine that won
        live(frame, "style_1", 1.0, False)
        assert made == [("mine",)]
    finally:
        catalog.stylizer = stylizer


def test_a_video_is_what_transform_video_makes_with_its_sound(catalog, workspace, sound_clip, models, tmp_path):
    import transform_video
    from src.webapp import stylize_video_file

    path, message = stylize_video_file(catalog, workspace, str(sound_clip), "mine", stabilize=0.5)
    assert message.startswith("Stylized 20 frames in") and f"): 338x190, {Path(path).stat().st_size / 1e6:.1f} MB." in message
    assert Path(path).suffix == ".mp4" and workspace.root in Path(path).parents
    facts = video_facts(path)
    assert (facts["width"], facts["height"], facts["frames"]) == (338, 190, 20)
    assert audio_facts(path) == audio_facts(sound_clip)  # the sound, packet for packet
    cli = tmp_path / "cli.mp4"
    argv = ["--checkpoint", str(models / "mine.keras"), "--in-path", str(sound_clip), "--out-path", str(cli)]
    argv += ["--batch-size", "1"]  # the app's: OpenVINO's bfloat16 rounds differently in a batch of 4
    assert transform_video.main(argv) == 0
    assert np.abs(first_frame(path) - first_frame(cli)).mean() < 1, "the page's video is transform_video.py's"
    assert np.abs(first_frame(path) - first_frame(sound_clip)).mean() > 5, "and it is stylized"


def test_a_video_can_be_made_smaller_a_gif_most_of_all(catalog, workspace, sound_clip):
    from src.webapp import stylize_video_file

    path, message = stylize_video_file(catalog, workspace, str(sound_clip), "mine", gif=True, longest_side=120)
    assert Path(path).suffix == ".gif" and Image.open(path).size == (120, 67)  # 338x190's shape
    assert "): 120x67, " in message and "- frames scaled to 120x67" in message
    whole, _ = stylize_video_file(catalog, workspace, str(sound_clip), "mine", gif=True)
    assert Image.open(whole).size == (338, 190) and Path(whole).stat().st_size > 3 * Path(path).stat().st_size


def test_a_video_can_be_cut_to_its_start_and_an_odd_size_comes_as_webm(catalog, workspace, tmp_path):
    from src.webapp import stylize_video_file

    clip = make_clip(tmp_path / "odd.mov", size="77x45", rate="10", seconds=1.5, sound=None)
    path, message = stylize_video_file(catalog, workspace, str(clip), "style_1", strength=0.5, seconds=0.5)
    facts = video_facts(path)
    assert (facts["width"], facts["height"], facts["frames"]) == (77, 45, 5)
    assert message.startswith("Stylized 5 frames") and audio_facts(path) is None
    # VP9 4:2:0, which browsers play, at the exact odd size (H.264 would need 4:4:4)
    assert Path(path).suffix == ".webm" and "yuv420p" in [rest for kind, _, rest in streams(path) if kind == "Video"][0]


def test_a_transparent_video_comes_as_webm_with_its_transparency(catalog, workspace, tmp_path):
    from src.webapp import stylize_video_file

    clip = make_transparent_clip(tmp_path / "sticker.mov", ("-c:v", "png", "-pix_fmt", "rgba"))
    path, message = stylize_video_file(catalog, workspace, str(clip), "style_1")
    assert Path(path).suffix == ".webm" and message.startswith("Stylized 10 frames") and "transparen" not in message
    alpha = decoded(path, decoder="libvpx-vp9")[..., 3].astype(float)
    assert alpha[:, :, :30].mean() > 250 and alpha[:, :, 34:].mean() < 5


def test_video_mistakes_are_messages(catalog, workspace, sound_clip, tmp_path, monkeypatch):
    import src.stabilize
    from src.webapp import AppError, stylize_video_file

    fake = tmp_path / "holiday.mp4"
    fake.write_text("not a video")
    with pytest.raises(AppError) as error:
        stylize_video_file(catalog, workspace, str(fake), "mine")
    assert "holiday.mp4" in str(error.value) and str(tmp_path) not in str(error.value)
    Image.new("RGB", (32, 24), "red").save(tmp_path / "still.gif")  # the Video tab takes GIFs
    with pytest.raises(AppError, match=r"still.gif: a still image, not a video \(the Stylize tab stylizes images\)"):
        stylize_video_file(catalog, workspace, str(tmp_path / "still.gif"), "mine")
    with pytest.raises(AppError, match="upload a video"):
        stylize_video_file(catalog, workspace, None, "mine")
    with pytest.raises(AppError, match="no style called"):
        stylize_video_file(catalog, workspace, str(sound_clip), "nobody")
    monkeypatch.setattr(src.stabilize, "opencv_available", lambda: False)
    path, message = stylize_video_file(catalog, workspace, str(sound_clip), "mine", stabilize=0.5, seconds=0.3)
    assert "OpenCV" in message and video_facts(path)["frames"] == 3


def test_stop_ends_a_video_before_its_next_frame_and_keeps_nothing(catalog, workspace, sound_clip, monkeypatch):
    import copy

    from src.webapp import AppError, StopSwitch, stylize_video_file

    switch = StopSwitch()
    assert copy.deepcopy(switch) is switch, "Gradio's copy of a session's state is the same switch"
    assert not switch.press(), "nothing to stop"
    real = catalog.stylizer

    def pressing_after_the_first_frame(*args, **kwargs):
        stylizer = real(*args, **kwargs)
        return lambda frames: (switch.press(), stylizer(frames))[1]

    monkeypatch.setattr(catalog, "stylizer", pressing_after_the_first_frame)
    switch.begin()
    with switch.run():
        with pytest.raises(AppError, match="stopped after 1 frame; nothing was kept"):
            stylize_video_file(catalog, workspace, str(sound_clip), "mine", stop=switch)
    assert not [p for p in workspace.root.glob("run-*/*") if p.suffix == ".mp4"]
    assert not switch.press(), "once it has ended, there is nothing to stop"
    switch.begin()  # a Stop pressed before does not carry over into the next request
    with switch.run():
        path, message = stylize_video_file(catalog, workspace, str(sound_clip), "mine", seconds=0.1, stop=switch)
        assert message.startswith("Stylized 1 frame ")


def test_stop_ends_the_photos_after_the_one_being_painted_and_keeps_those_done(catalog, workspace, tmp_path, monkeypatch):
    from src.webapp import StopSwitch, stylize_files

    switch = StopSwitch()
    real = catalog.stylizer

    def pressing_in_the_first_photo(*args, **kwargs):
        stylizer = real(*args, **kwargs)

        class Pressing(type(stylizer)):
            def __call__(self, images, progress=None):
                switch.press()
                return super().__call__(images, progress)

        stylizer.__class__ = Pressing
        return stylizer

    monkeypatch.setattr(catalog, "stylizer", pressing_in_the_first_photo)
    photos = [str(save_photo(tmp_path / f"{name}.png", 30, 40, seed=i)) for i, name in enumerate("abc")]
    switch.begin()
    with switch.run():
        result = stylize_files(catalog, workspace, photos, "mine", stop=switch)
    assert result.message.startswith("Stopped: Stylized 1 of 3 photos")
    assert [Path(path).name for path in result.downloads] == ["00_a_mine.png"] and len(result.pairs) == 2


def test_a_busy_network_shows_each_session_only_its_own_last_picture(catalog):
    from src import webapp

    live = webapp.LiveFrames(catalog)
    mine = live(photo(24, 32, seed=1).astype(np.uint8), "style_1", session="a")
    with webapp.RUNNING:  # the network busy with another tab's work: frames get the last picture
        assert live(photo(24, 32, seed=2).astype(np.uint8), "style_1", session="b") is None
        assert np.array_equal(live(photo(24, 32, seed=3).astype(np.uint8), "style_1", session="a"), mine)
    for session in range(webapp.LIVE_SESSIONS):
        live(photo(8, 8).astype(np.uint8), "style_1", session=session)
    with webapp.RUNNING:
        assert live(photo(8, 8).astype(np.uint8), "style_1", session="a") is None, "only the newest sessions are kept"


def test_a_camera_frame_larger_than_the_page_asks_is_painted_at_640_on_its_longer_side(catalog, monkeypatch):
    from src import webapp

    seen = []
    stylizer = catalog.stylizer("mine")
    monkeypatch.setattr(catalog, "stylizer", lambda *args, **kwargs: stylizer)
    painting = stylizer.__class__.__call__
    monkeypatch.setattr(stylizer.__class__, "__call__", lambda self, images, *a: seen.append(images.shape) or painting(self, images, *a))
    live = webapp.LiveFrames(catalog)
    assert live(photo(720, 1280).astype(np.uint8), "mine", session="a").shape == (360, 640, 3)
    assert live(photo(962, 721).astype(np.uint8), "mine", session="b").shape == (640, 480, 3)  # a phone held upright
    assert live(photo(480, 640).astype(np.uint8), "mine", session="c").shape == (480, 640, 3)  # as asked: unchanged
    assert seen[-3:] == [(1, 360, 640, 3), (1, 640, 480, 3), (1, 480, 640, 3)]


def test_live_frames_are_steadied_per_session_and_afresh_after_a_change(catalog):
    pytest.importorskip("cv2", reason="OpenCV (opencv-python-headless, requirements.txt) is not installed")
    from scipy.ndimage import gaussian_filter

    from src.webapp import LiveFrames

    random = np.random.default_rng(0)
    scene = gaussian_filter(random.uniform(0, 255, (48, 64, 3)), sigma=(1.5, 1.5, 0))
    scene = (scene - scene.min()) / np.ptp(scene) * 255
    # A still camera's frames, each with fresh sensor noise.
    frames = [np.clip(scene + random.normal(0, 6, scene.shape), 0, 255).astype(np.uint8) for _ in range(8)]
    live = LiveFrames(catalog)
    plain = [live(frame, "style_1", session="a") for frame in frames]
    steady = [live(frame, "style_1", steady=True, session="a") for frame in frames]
    assert flicker(steady[2:]) < 0.7 * flicker(plain[2:])
    # Another session starts with the network's own picture; so does a new strength.
    assert np.array_equal(live(frames[0], "style_1", steady=True, session="b"), plain[0])
    softer = live(frames[1], "style_1", 0.5, session="c")
    assert np.array_equal(live(frames[1], "style_1", 0.5, steady=True, session="a"), softer)
    assert not np.array_equal(live(frames[2], "style_1", 0.5, steady=True, session="a"), live(frames[2], "style_1", 0.5))


def test_a_sessions_end_lets_go_of_its_picture_and_steadier(catalog):
    pytest.importorskip("cv2", reason="OpenCV (opencv-python-headless, requirements.txt) is not installed")
    from src import webapp

    live = webapp.LiveFrames(catalog)
    frame = photo(24, 32, seed=1).astype(np.uint8)
    for session in ("a", "b"):
        live(frame, "style_1", steady=True, session=session)
    steadier = live._steadiers["a"]
    live.forget("a")
    live.forget("never seen")
    assert list(live._steadiers) == ["b"]
    with pytest.raises(RuntimeError):  # closed: its thread is gone
        steadier(frame, lambda one: one)
    with webapp.RUNNING:  # busy: a session that has ended has no last picture to show
        assert live(frame, "style_1", session="a") is None and live(frame, "style_1", session="b") is not None


def test_the_page_forgets_a_live_session_when_its_tab_closes(catalog, workspace, monkeypatch):
    gr = pytest.importorskip("gradio", reason="the app's optional dependency (bash setup.sh --app)")
    from src import webapp, webapp_page

    forgotten, registered = [], []
    monkeypatch.setattr(webapp.LiveFrames, "forget", lambda self, session: forgotten.append(session))
    monkeypatch.setattr(gr.Blocks, "unload", lambda self, fn: registered.append(fn))
    webapp_page.build_page(catalog, workspace)
    (gone,) = registered
    gone(SimpleNamespace(session_hash="tab-1"))
    assert forgotten == ["tab-1"]


def flicker(pictures):
    return np.mean([np.abs(a.astype(np.float32) - b).mean() for a, b in zip(pictures, pictures[1:])])


def test_old_runs_are_removed_and_the_workspace_with_them(workspace):
    from src.webapp import KEEP_RUNS

    folders = [workspace.run_folder() for _ in range(KEEP_RUNS + 3)]
    assert not folders[0].exists() and folders[-1].exists()


def test_without_gradio_the_app_says_how_to_get_it(monkeypatch, capsys):
    import importlib.util

    import app

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gradio" else real(name, *a))
    assert app.main(["--port", str(free_port())]) == 1
    assert "setup.sh --app" in capsys.readouterr().err


def test_bad_flags_are_clear_errors(tmp_path, capsys, monkeypatch):
    import app
    from src import tls

    (tmp_path / "cert.pem").write_text("a certificate")
    monkeypatch.setenv("FST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(tls.shutil, "which", lambda name: None)
    port = ["--port", str(free_port())]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        for argv, message in (
            (["--port", "0"], "--port: must be a port number from 1 to 65535"),
            (["--port", "70000"], "--port: must be a port number from 1 to 65535"),
            (["--port", str(taken.getsockname()[1])], "is taken by another program"),
            (["--host", "no-such-host.invalid", *port], "--host no-such-host.invalid: no such name or address"),
            (["--host", "203.0.113.77", *port], "--host 203.0.113.77 is not an address of this computer"),
            (["--max-file-size", "12"], "--max-file-size: not a size like 500mb or 2gb: '12'"),
        ):
            with pytest.raises(SystemExit) as exit_:
                app.main(argv)
            err = capsys.readouterr().err
            assert exit_.value.code == 2 and "error:" in err and message in err
    for argv, message in (
        (["--models", str(tmp_path / "missing")], "is not a folder"),
        (["--ssl-certfile", str(tmp_path / "cert.pem")], "--ssl-certfile and --ssl-keyfile go together"),
        (["--ssl-certfile", str(tmp_path / "cert.pem"), "--ssl-keyfile", str(tmp_path / "key.pem")], "key.pem: no such file"),
        (["--https"], "--https: making a certificate needs the openssl command"),
        (["--ssl-certfile", str(tmp_path / "cert.pem"), "--ssl-keyfile", str(tmp_path / "cert.pem")], "not a certificate"),
    ):
        with pytest.raises(SystemExit) as exit_:
            app.main(argv + port)
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and "error:" in err and message in err
    monkeypatch.setenv("FST_CACHE_DIR", str(tmp_path / "cert.pem"))  # a file where the folder would go
    with pytest.raises(SystemExit):
        app.main(["--https", *port])
    assert "cannot keep a certificate in" in capsys.readouterr().err


# --- in a real browser ------------------------------------------------------------------------


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serving(models, folder, *flags, presses=1):
    """app.py started on a free port with `flags`; yields (its address, its log), then stops it
    with `presses` Ctrl-C, the later ones while it closes."""
    pytest.importorskip("gradio", reason="the app's optional dependency (bash setup.sh --app)")
    port = free_port()
    log = folder / "app.log"
    env = {**os.environ, "TMPDIR": str(folder), "FST_CACHE_DIR": str(folder / "cache")}
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "--port", str(port), "--models", str(models), *flags],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    deadline = time.monotonic() + 180
    while f":{port}/ (" not in log.read_text():  # the line with the address it serves
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"app.py did not start: {log.read_text()[-2000:]}")
        time.sleep(0.5)
    scheme = "https" if "--https" in flags else "http"
    yield f"{scheme}://127.0.0.1:{port}/", log
    for press in range(presses):
        if press:
            wait_for(lambda: "stopping..." in log.read_text(), 30, "the app to start closing")
        process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0, log.read_text()[-2000:]
    assert "Traceback" not in log.read_text() and "stopped; the temporary files are removed" in log.read_text()
    assert not list(folder.glob("fst-app-*")), "the app's temporary folder is removed when it stops"


def test_a_kill_while_the_app_starts_removes_its_temporary_folder(models, tmp_path):
    """SIGTERM while Keras, the models and Gradio load (seconds): stopped as by Ctrl-C, with no
    traceback and nothing left in $TMPDIR, where the kill had left the app's folder behind."""
    pytest.importorskip("gradio", reason="the app's optional dependency (bash setup.sh --app)")
    env = {**os.environ, "TMPDIR": str(tmp_path), "FST_CACHE_DIR": str(tmp_path / "cache")}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--port", str(free_port()), "--models", str(models)],
        cwd=ROOT, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    wait_for(lambda: list(tmp_path.glob("fst-app-*")), 60, "the app's temporary folder")  # it has begun
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "interrupted before the app started" in err, err[-2000:]
    assert "Traceback" not in err and not list(tmp_path.glob("fst-app-*"))


@pytest.fixture(scope="module")
def server(models, tmp_path_factory):
    yield from serving(models, tmp_path_factory.mktemp("app_log"))


@pytest.fixture(scope="module")
def browser(server, tmp_path_factory):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium drives the browser (requirements-dev.txt)")
    if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):
        pytest.skip("needs Debian's chromium and chromium-driver (.ci/run installs them)")
    from selenium.webdriver.chrome.service import Service

    downloads = tmp_path_factory.mktemp("downloads")
    options = webdriver.ChromeOptions()
    # Chromium's fake camera (a moving test pattern) stands in for a webcam, allowed without asking.
    arguments = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")
    # Another computer of the room, as the browser sees it: a name that is not this one's, and
    # the app's self-signed certificate accepted, as a person accepts it once.
    arguments += (f"--host-resolver-rules=MAP {ELSEWHERE} 127.0.0.1", "--ignore-certificate-errors")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1100", *arguments):
        options.add_argument(argument)
    options.binary_location = CHROMIUM
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False})
    # Chromium keeps its single-instance socket in $TMPDIR and leaves it there on exit.
    service = Service(DRIVER, env={**os.environ, "TMPDIR": str(tmp_path_factory.mktemp("chromium"))})
    driver = webdriver.Chrome(service=service, options=options)
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.get(server[0])
    yield driver, downloads
    driver.quit()


def wait_for(check, seconds=120, what="the page"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = check()
        except Exception:  # noqa: BLE001 - elements come and go while Gradio renders
            value = None
        if value:
            return value
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what}")


def upload(driver, element_id, path):
    from selenium.webdriver.common.by import By

    wait_for(lambda: driver.find_element(By.CSS_SELECTOR, f"#{element_id} input[type=file]")).send_keys(str(path))


def click(driver, selector, text=""):
    """Click the first element matching `selector` whose text contains `text`, once it takes the
    click: Gradio may still be laying the page out (after an upload, a tab switch), and Selenium
    refuses a click that would land on the element over it."""
    from selenium.webdriver.common.by import By

    def attempt():
        [e for e in driver.find_elements(By.CSS_SELECTOR, selector) if text in e.text][0].click()
        return True

    wait_for(attempt, what=f"{selector} {text!r} to take a click")


def choose(driver, element_id, option):
    from selenium.webdriver.common.by import By

    click(driver, f"#{element_id} input[role=combobox]")
    items = wait_for(lambda: [li for li in driver.find_elements(By.CSS_SELECTOR, "ul[role=listbox] li") if li.text.strip() == option])
    items[0].click()


def shown(driver, element_id):
    """The text of an element as read, without the line breaks Gradio puts in file names."""
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id).text.replace("\n", "")


def status(driver, element_id="status"):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, f"#{element_id} [data-testid=markdown]").text


def test_upload_choose_slide_stylize_and_download_in_a_browser(browser, models, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver, downloads = browser
    source = save_photo(tmp_path / "garden.png", 75, 101)
    upload(driver, "photos", source)
    wait_for(lambda: "garden.png" in shown(driver, "photos"), what="the upload")
    choose(driver, "style", "mine")
    slider = driver.find_element(By.CSS_SELECTOR, "#strength input[type=range]")
    slider.send_keys(*[Keys.ARROW_LEFT] * 8)  # 1.0 -> 0.6 in steps of 0.05, as a keyboard user moves it
    # The number box follows the slider when the page has handled the key presses: wait for it.
    number = "#strength input[type=number]"
    wait_for(lambda: driver.find_element(By.CSS_SELECTOR, number).get_attribute("value") == "0.6", 10, "strength 0.6")
    click(driver, "#go")
    wait_for(lambda: "Stylized 1 of 1 photo" in status(driver), what="the result")
    link = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#downloads a[download]"), what="the download link")
    link[0].click()
    files = wait_for(lambda: [p for p in downloads.iterdir() if p.suffix == ".png"], what="the downloaded file")
    result = np.asarray(Image.open(files[0])).astype(int)
    original = np.asarray(Image.open(source)).astype(int)
    assert result.shape == original.shape
    assert np.abs(result - original).mean() > 2, "the download is stylized, not the photo"
    expected = evaluated(models / "mine.keras", source, tmp_path / "evaluated.png", "--strength", "0.6")
    assert np.abs(result - expected).max() <= 1, "the page's picture is evaluate.py's, at strength 0.6"
    side_by_side = "the photo and its result side by side in the gallery"
    wait_for(lambda: len(driver.find_elements(By.CSS_SELECTOR, "#gallery img")) >= 2, 10, side_by_side)


def test_the_page_shows_progress_while_it_stylizes(browser, server, tmp_path):
    """Many photos take minutes on a CPU: the page follows the pipeline's progress bars rather
    than showing only a clock. Eight photos of 0.8 MP through the full-size network take seconds
    on a 2-core CPU, far longer than the 0.25 s between looks."""
    from selenium.webdriver.common.by import By

    driver, _ = browser
    driver.get(server[0])
    photos = [save_photo(tmp_path / f"walk_{i}.jpg", 900, 900, seed=i) for i in range(8)]
    upload(driver, "photos", "\n".join(str(path) for path in photos))
    wait_for(lambda: "walk_7.jpg" in shown(driver, "photos"), what="the uploads")
    choose(driver, "style", "mine")
    click(driver, "#go")

    def progress():
        return [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".progress-level") if "stylizing" in e.text]

    assert wait_for(progress, what="the progress of the photos")
    wait_for(lambda: "Stylized 8 of 8 photos" in status(driver), what="the results")


def test_the_contact_sheet_shows_progress_and_every_style(browser, server, tmp_path):
    """Each style compiles its network: the page follows the styles done. The server's sixteen
    (the shipped ones and this test's) take seconds, far longer than the 0.25 s between looks."""
    from selenium.webdriver.common.by import By

    driver, _ = browser
    driver.get(server[0])
    click(driver, "button[role=tab]", "Contact sheet")
    upload(driver, "sheet-photo", save_photo(tmp_path / "pier.png", 300, 380))
    wait_for(lambda: "pier.png" in shown(driver, "sheet-photo"), what="the upload")
    click(driver, "#sheet-go")

    def progress():
        return [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".progress-level") if "contact sheet" in e.text]

    assert wait_for(progress, what="the progress of the styles")
    assert "styles, each picture 380x300" in wait_for(lambda: status(driver, "sheet-status"), what="the sheet")


def video_tab(driver, url, clip, seconds):
    """The Video tab with `clip` uploaded, the test network chosen, and its first `seconds` asked."""
    from selenium.webdriver.common.by import By

    driver.get(url)
    click(driver, "button[role=tab]", "Video")
    upload(driver, "video", clip)
    choose(driver, "video-style", "mine")
    field = wait_for(lambda: driver.find_element(By.CSS_SELECTOR, "#seconds input"))
    field.clear()
    field.send_keys(seconds)


def test_a_video_in_the_browser_first_second_with_sound(browser, server, sound_clip):
    from selenium.webdriver.common.by import By

    driver, downloads = browser
    video_tab(driver, server[0], sound_clip, "1")
    assert wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#video-uploaded video"), what="the upload shown")
    click(driver, "#video-go")
    wait_for(lambda: "Stylized 10 frames" in status(driver, "video-status"), what="the video")
    assert wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#video-result video"), what="the player")
    link = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#video-download a[download]"), what="the download link")
    link[0].click()
    saved = wait_for(lambda: [p for p in downloads.iterdir() if p.suffix == ".mp4"], what="the downloaded video")[0]
    facts = wait_for(lambda: video_facts(saved), what="the whole download")
    assert (facts["width"], facts["height"], facts["frames"]) == (338, 190, 10)
    assert audio_facts(saved)["codec"] == "aac"


def test_a_looping_gif_in_the_browser(browser, server, sound_clip):
    from PIL import Image
    from selenium.webdriver.common.by import By

    driver, downloads = browser
    video_tab(driver, server[0], sound_clip, "0.5")
    click(driver, "#gif input[type=checkbox]")
    click(driver, "#video-go")
    message = wait_for(lambda: status(driver, "video-status"), what="the GIF")
    assert message.startswith("Stylized 5 frames") and "a GIF has no sound" in message
    # Shown as a picture, which plays in the page; the video player is hidden.
    image = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#gif-result img"), what="the GIF shown")[0]
    assert ".gif" in image.get_attribute("src") and not driver.find_elements(By.CSS_SELECTOR, "#video-result video")
    link = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#video-download a[download]"), what="the download link")
    link[0].click()
    saved = wait_for(lambda: [p for p in downloads.iterdir() if p.suffix == ".gif"], what="the downloaded GIF")[0]
    frames = wait_for(lambda: Image.open(saved).n_frames, what="the whole download")
    assert frames == 5 and Image.open(saved).size == (338, 190) and Image.open(saved).info.get("loop") == 0


def test_an_animated_gif_uploaded_in_the_browser_is_shown_and_stylized(browser, server, tmp_path):
    from selenium.webdriver.common.by import By

    driver, downloads = browser
    gradient = np.linspace(0, 255, 96, dtype=np.uint8)
    frames = [Image.fromarray(np.stack([np.roll(gradient, 8 * i)[None].repeat(64, 0)] * 3, -1)) for i in range(6)]
    sticker = tmp_path / "sticker.gif"
    frames[0].save(sticker, save_all=True, append_images=frames[1:], duration=100, loop=0)
    video_tab(driver, server[0], sticker, "0")
    # Gradio's video box refuses a GIF; the upload is shown as a picture, the player hidden.
    shown = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#gif-uploaded img"), what="the GIF shown")[0]
    assert ".gif" in shown.get_attribute("src") and not driver.find_elements(By.CSS_SELECTOR, "#video-uploaded video")
    click(driver, "#video-go")
    assert wait_for(lambda: status(driver, "video-status"), what="the video").startswith("Stylized 6 frames")
    link = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#video-download a[download]"), what="the download link")
    link[0].click()
    saved = wait_for(lambda: [p for p in downloads.iterdir() if p.name.startswith("sticker")], what="the download")[0]
    facts = wait_for(lambda: video_facts(saved), what="the whole download")
    assert (saved.suffix, facts["width"], facts["height"], facts["frames"]) == (".mp4", 96, 64, 6)


def test_stop_in_the_browser_ends_a_long_video(browser, server, tmp_path):
    from selenium.webdriver.common.by import By

    driver, _ = browser
    driver.get(server[0])
    click(driver, "button[role=tab]", "Video")
    upload(driver, "video", make_clip(tmp_path / "long.mp4", rate="10", seconds=60, sound=None))
    choose(driver, "video-style", "mine")
    click(driver, "#video-go")
    wait_for(lambda: [e for e in driver.find_elements(By.CSS_SELECTOR, ".progress-level") if "stylizing" in e.text])
    click(driver, "#video-stop")
    wait_for(lambda: "; nothing was kept" in status(driver, "video-status"), seconds=30, what="the stop")
    assert not driver.find_elements(By.CSS_SELECTOR, "#video-download a[download]")


def test_a_broken_file_gets_a_message_and_the_server_keeps_serving(browser, server, tmp_path):
    from selenium.webdriver.common.by import By

    driver, _ = browser
    driver.get(server[0])
    broken = tmp_path / "holiday.jpg"
    broken.write_bytes(b"\xff\xd8 this is not really a JPEG")
    upload(driver, "photos", broken)
    wait_for(lambda: "holiday.jpg" in shown(driver, "photos"), what="the upload")
    click(driver, "#go")
    message = wait_for(lambda: "holiday.jpg" in status(driver) and status(driver), what="the message")
    assert "Stylized 0 of 1 photo" in message
    assert "Traceback" not in server[1].read_text()
    driver.get(server[0])  # still serving
    wait_for(lambda: driver.find_element(By.ID, "go"), what="the page again")


def test_the_live_tab_stylizes_the_browsers_camera(browser, server):
    from selenium.webdriver.common.by import By

    driver, _ = browser
    driver.get(server[0])
    click(driver, "button[role=tab]", "Live")
    click(driver, "#camera button", "Access Webcam")
    click(driver, "#camera button", "Record")
    picture = wait_for(lambda: [i for i in driver.find_elements(By.CSS_SELECTOR, "#live img") if i.get_attribute("src")], what="a stylized frame")
    assert "/gradio_api/file=" in picture[0].get_attribute("src")
    assert driver.find_element(By.CSS_SELECTOR, "#live-steady input[type=checkbox]").is_selected()  # steady by default
    # The camera as the page asks for it (Gradio's own default, 1920x1440, ran at a frame or two a second).
    size = "const v = document.querySelector('#camera video'); return v && [v.videoWidth, v.videoHeight]"
    assert driver.execute_script(size) == [640, 480]


def live_tab_from_elsewhere(driver, address):
    """The live tab of the app at `address` opened as from another computer -> (whether the page
    is a secure context, the tab's notice)."""
    from selenium.webdriver.common.by import By

    driver.get(address.replace("127.0.0.1", ELSEWHERE))
    click(driver, "button[role=tab]", "Live")
    secure = driver.execute_script("return window.isSecureContext")
    return secure, wait_for(lambda: driver.find_element(By.ID, "live-insecure").text or "(none)", what="the notice")


def test_over_http_from_another_computer_the_live_tab_says_the_camera_needs_https(browser, server):
    from selenium.webdriver.common.by import By

    driver, _ = browser
    secure, notice = live_tab_from_elsewhere(driver, server[0])
    assert not secure and notice.startswith("The camera cannot open on this page") and "--https" in notice
    click(driver, "button", "Click to Access Webcam")  # Gradio's error, in words rather than its bare key
    toast = wait_for(lambda: driver.find_element(By.CSS_SELECTOR, ".toast-body").text, what="Gradio's error")
    assert "This page cannot open the camera" in toast and "no_webcam_support" not in toast
    driver.get(server[0])  # this computer's own address: a secure page, no notice
    click(driver, "button[role=tab]", "Live")
    assert driver.execute_script("return window.isSecureContext")
    assert wait_for(lambda: driver.find_element(By.ID, "live-insecure").text == "" and "empty", what="no notice")


@pytest.fixture(scope="module")
def https_server(models, tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("app.py --https makes its certificate with the openssl command, not installed here")
    yield from serving(models, tmp_path_factory.mktemp("app_https"), "--https", presses=2)  # an impatient Ctrl-C


def test_over_https_from_another_computer_the_live_tab_stylizes_its_camera(browser, https_server):
    from selenium.webdriver.common.by import By

    driver, _ = browser
    secure, notice = live_tab_from_elsewhere(driver, https_server[0])
    assert secure and notice == "(none)"
    click(driver, "#camera button", "Access Webcam")
    click(driver, "#camera button", "Record")
    picture = wait_for(lambda: [i for i in driver.find_elements(By.CSS_SELECTOR, "#live img") if i.get_attribute("src")], what="a stylized frame")
    assert picture[0].get_attribute("src").startswith(f"https://{ELSEWHERE}:")
    assert f"Fast Style Transfer: {https_server[0]}" in https_server[1].read_text()
