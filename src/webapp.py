"""The web app's work (app.py): which styles there are, how a request becomes a Stylizer, and the
four things the page does: stylize uploaded photos at full resolution (the pipeline of
evaluate.py, src/image_jobs.py), a video (the pipeline of transform_video.py, src/video_jobs.py),
a contact sheet (src/sheet.py) and live camera frames.

Nothing here imports Gradio; src/webapp_page.py lays out the page. Every user mistake comes back
as an AppError whose message the page shows, so one bad request never stops the server.
"""

import math
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from src.pixels import to_uint8
from src.sheet import contact_sheet, fit_within, sheet_cells, styles_of
from src.wording import counted

SHIPPED = Path(__file__).resolve().parent.parent / "examples" / "models"
# The slim students of webcam.py (style.py --distill-from --width 0.25): the live tab's styles.
LIVE_SUFFIX = "_0.25"
PREVIEW_SIDE = 1024  # the longer side of the pictures shown in the page; downloads keep full size
KEEP_RUNS = 20  # finished requests whose files stay downloadable
LIVE_SESSIONS = 64  # browser sessions whose last live picture is kept
# Live frames are painted with their longer side at most this: the page asks the browser for
# 640x480, and a camera that sends more would slow every frame for detail the page scales away.
LIVE_SIDE = 640


class AppError(Exception):
    """A request the app cannot do, with the message for the page."""


class Stopped(Exception):
    """The person pressed Stop."""


class StopSwitch:
    """A tab's Stop button, one per browser session, so that one person's Stop never ends
    another's work. Gradio keeps it in a gr.State, which deep-copies state values: a copy is this
    same switch."""

    def __init__(self):
        self.requested, self.pending = threading.Event(), threading.Event()

    def __deepcopy__(self, memo):
        return self

    def begin(self):
        """At the click, before the request waits its turn: a Stop from now on stops it."""
        self.requested.clear()
        self.pending.set()

    @contextmanager
    def run(self):
        """Around the request: once it ends, Stop has nothing to stop."""
        try:
            yield self
        finally:
            self.pending.clear()
            self.requested.clear()

    def press(self):
        """Stop the request under way or waiting -> whether there was one."""
        if not self.pending.is_set():
            return False
        self.requested.set()
        return True

    def is_set(self):
        return self.requested.is_set()


@dataclass
class Style:
    label: str
    path: Path
    model: object
    weights: object  # one-hot style weights of a multi-style network, or None


@dataclass
class Catalog:
    """Every style of every model in the folders (examples/models first, then --models), loaded
    once. Models that fail to load are kept as messages for the page, not as errors."""

    styles: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)

    @classmethod
    def load(cls, folders):
        from src.checkpoints import CheckpointError, load_model

        catalog = cls()
        for path in _model_files(folders, catalog.problems):
            try:
                model = load_model(path)
            except (CheckpointError, OSError, ValueError) as error:
                catalog.problems.append(f"{path.name} could not be loaded: {error}")
                continue
            for label, weights in styles_of(path, model):
                name = label if label not in catalog.styles else f"{label} ({path.parent.name})"
                catalog.styles[name] = Style(name, path, model, weights)
        return catalog

    def labels(self):
        return list(self.styles)

    def live_labels(self):
        """The quarter-width students where there are any (fast enough for a camera), else all."""
        slim = [label for label in self.styles if label.endswith(LIVE_SUFFIX)]
        return slim or self.labels()

    def style(self, label):
        if label not in self.styles:
            raise AppError(f"no style called {label!r}: choose one from the list")
        return self.styles[label]

    def stylizer(self, first, second=None, mix=0.0, strength=1.0, preserve_color=False, stroke_scale=1.0, engine=None):
        """The Stylizer for a request: `first` alone, or mixed with `second` by `mix` (0: first
        only, 1: second only). Styles of one multi-style network mix inside it (its conditional
        instance norms); separate single-style models mix their pictures, as evaluate.py does.
        `engine`: the one to run (src/engines.py); default, the one this CPU runs best."""
        from src.stylize import Stylizer

        a = self.style(first)
        options = stylizer_options(strength, preserve_color, stroke_scale)
        options["engine"] = engine or options["engine"]
        if not second or second == first or mix <= 0.0:
            return Stylizer(a.model, a.weights, **options)
        b = self.style(second)
        if a.model is b.model:
            return Stylizer(a.model, (1.0 - mix) * a.weights + mix * b.weights, **options)
        if a.weights is None and b.weights is None:
            return Stylizer([a.model, b.model], style_weights=[1.0 - mix, mix], **options)
        multi = a if a.weights is not None else b
        raise AppError(
            f"{multi.label} is one style of a multi-style network ({multi.path.name}): it mixes with that "
            "network's other styles, not with a separate model"
        )


def _model_files(folders, problems):
    from src.sheet import model_paths

    files = []
    for folder in map(Path, folders):
        if not folder.is_dir():
            problems.append(f"--models {folder} is not a folder")
            continue
        try:
            files += model_paths([folder])
        except ValueError as error:
            problems.append(str(error))
    return files


def stylizer_options(strength=1.0, preserve_color=False, stroke_scale=1.0):
    """The app's Stylizer settings: one image a pass, the precision and engine this CPU runs best."""
    from src.engines import resolve_engine

    options = {"strength": strength, "preserve_color": preserve_color, "stroke_scale": stroke_scale}
    return {**options, "batch_size": 1, "precision": "auto", "engine": resolve_engine("auto", "cpu")}


class Workspace:
    """The app's own temporary folder: Gradio's uploads (GRADIO_TEMP_DIR) and every result live
    here and nowhere else, and it is removed when the app stops. Each request gets a folder of
    its own; only the last KEEP_RUNS stay."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="fst-app-"))
        self.uploads = self.root / "uploads"
        self.uploads.mkdir()
        self._count = 0
        self._lock = threading.Lock()

    def run_folder(self):
        with self._lock:
            self._count += 1
            folder = self.root / f"run-{self._count:05d}"
            folder.mkdir()
            runs = sorted(self.root.glob("run-*"))
        for old in runs[:-KEEP_RUNS]:
            shutil.rmtree(old, ignore_errors=True)
        return folder

    def remove(self):
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class Result:
    pairs: list  # [(preview of the photo, caption), (preview of the result, caption)], in order
    downloads: list  # full-resolution results
    message: str


# One network run at a time across every tab: the queue (concurrency 1 per event) keeps one
# request of a kind, this keeps the kinds from running together and running out of memory.
RUNNING = threading.Lock()


def stylize_files(
    catalog, workspace, files, first, second=None, mix=0.0, strength=1.0, preserve_color=False, stroke_scale=1.0,
    progress=False, stop=None,
):  # fmt: skip
    """Uploaded photos -> Result: each at its full resolution through the pipeline of
    evaluate.py (tiled where large, orientation, transparency and colour profile kept); files
    that are not images, or too large for this machine, are named in the message. progress:
    show evaluate.py's progress bars (photos done, and the share done of a tiled photo), which
    the page follows. stop: a StopSwitch; once set, no further photo starts, and those done
    are the result."""
    from src.image_jobs import Job, run_jobs
    from src.images import read_image, write_image

    if not files:
        raise AppError("upload one or more photos first")
    stylizer = catalog.stylizer(first, second, mix, strength, preserve_color, stroke_scale)
    folder = workspace.run_folder()
    jobs = [Job(Path(source), folder / _output_name(Path(source), index, first)) for index, source in enumerate(files)]
    with RUNNING:
        started = time.perf_counter()
        notes = []
        failures = run_jobs(jobs, stylizer, batch_size=1, progress=progress, stop=stop, note=notes.append)
        seconds = time.perf_counter() - started
    failed = {Path(source) for source, _ in failures}
    pairs, downloads = [], []
    for job in jobs:
        if job.source in failed or not job.target.exists():  # failed, or not reached before a Stop
            continue
        photo, result = read_image(job.source).rgb, read_image(job.target).rgb
        for kind, rgb in (("photo", photo), ("result", result)):
            preview = folder / f"{job.target.stem}.{kind}.jpg"
            write_image(preview, fit_within(rgb, PREVIEW_SIDE))
            pairs.append((str(preview), f"{job.source.name}: {kind}" if kind == "photo" else _caption(first, second, mix)))
        downloads.append(str(job.target))
    stopped = "Stopped: " if len(downloads) + len(failures) < len(jobs) else ""
    lines = [f"{stopped}Stylized {len(downloads)} of {counted(len(jobs), 'photo')} in {seconds:.1f} s."]
    lines += [f"- {Path(source).name}: {_without_folder(reason, source)}" for source, reason in failures]
    lines += [f"- {_page_words(text)}" for text in notes]
    return Result(pairs, downloads, "\n".join(lines))


def _output_name(source, index, label):
    """A name for the result that no other upload's result takes, in a format Pillow writes."""
    from src.images import writable_suffix

    return f"{index:02d}_{_safe_stem(source, label)}{writable_suffix(source)}"


def _safe_stem(source, label):
    """The upload's name and the style's, in characters every file system takes."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{source.stem}_{label}")


# The pipeline's pointers to the other script, as the page says them: its tabs.
_PAGE_WORDS = {
    "(transform_video.py stylizes videos)": "(the Video tab stylizes videos)",
    "(evaluate.py stylizes images)": "(the Stylize tab stylizes images)",
    "(transform_video.py stylizes every frame)": "(the Video tab stylizes every frame)",
}


def _without_folder(reason, source):
    """The pipeline's message, with the temporary folder of the upload left out, and the page's
    tabs named where it names the scripts."""
    return _page_words(str(reason).replace(str(Path(source).parent) + "/", ""))


def _page_words(text):
    for script, page in _PAGE_WORDS.items():
        text = text.replace(script, page)
    return text


def _caption(first, second, mix):
    return first if not second or mix <= 0 else f"{first} {1 - mix:.0%} + {second} {mix:.0%}"


def sheet_file(catalog, workspace, photo_path, size=384, preserve_color=False, strength=1.0, stroke_scale=1.0, progress=False):
    """One photo in every style of the catalog, labelled -> (path of the sheet, message).
    progress: show a bar of the styles done, which the page follows."""
    from src.images import ImageError, read_image, write_image

    if not photo_path:
        raise AppError("upload a photo first")
    try:
        photo = fit_within(read_image(photo_path).rgb, size)
    except ImageError as error:
        raise AppError(_without_folder(error, photo_path)) from None
    options = stylizer_options(strength, preserve_color, stroke_scale)
    styles = [(s.label, s.model, s.weights) for s in catalog.styles.values()]
    with RUNNING:
        sheet = contact_sheet(sheet_cells(photo, styles, options, progress))
    path = workspace.run_folder() / f"{Path(photo_path).stem}_sheet.jpg"
    write_image(path, sheet)
    return str(path), f"{counted(len(styles), 'style')}, each picture {photo.shape[1]}x{photo.shape[0]}."


def stylize_video_file(
    catalog, workspace, video_path, style, strength=1.0, preserve_color=False, stroke_scale=1.0, stabilize=0.0, seconds=0.0,
    progress=False, stop=None, gif=False, longest_side=0,
):  # fmt: skip
    """An uploaded video -> (path of the stylized .mp4, message), through transform_video.py's
    pipeline (src/video_jobs.py): size, frame rate and sound kept, `stabilize` against flicker
    (src/stabilize.py; left out with a note where OpenCV is missing), only the first `seconds`
    when above 0. H.264 in .mp4, or VP9 in .webm for an odd size (which H.264 keeps only in
    4:4:4, which browsers do not play) and for a transparent video (whose alpha VP9 keeps): a
    file the page can play, whatever the upload's. `gif`: a looping GIF instead, without sound,
    for chats and stickers (its transparency kept). longest_side: above 0, the frames are scaled
    down to fit a square of that side (transform_video.py --max-size), a lighter file.
    stop: a StopSwitch (or threading.Event); once set, the video ends before its next frame,
    nothing is kept and an AppError says so (a long video takes minutes on a CPU)."""
    from src.stabilize import opencv_available
    from src.video import plan_output
    from src.video_jobs import notes_before, stylize_video
    from src.video_probe import VideoError, fit_within, probe

    if not video_path:
        raise AppError("upload a video first")
    source = Path(video_path)
    try:
        info = fit_within(probe(source), (longest_side, longest_side) if longest_side else None)
        even = info.width % 2 == 0 and info.height % 2 == 0
        suffix = ".gif" if gif else ".mp4" if even and not info.alpha else ".webm"
        output = plan_output(source, workspace.run_folder() / f"{_safe_stem(source, style)}{suffix}", info)
    except VideoError as error:
        raise AppError(_without_folder(error, source)) from None
    notes = notes_before(info, output)
    if stabilize and not opencv_available():
        stabilize = 0.0
        notes.append("each frame was stylized on its own: steadying needs OpenCV (pip install opencv-python-headless)")
    stylizer = catalog.stylizer(style, strength=strength, preserve_color=preserve_color, stroke_scale=stroke_scale)
    max_frames = math.ceil(seconds * info.frame_rate) if seconds > 0 else None
    done = []

    def stylize(frames):
        if stop is not None and stop.is_set():
            raise Stopped
        done.append(len(frames))
        return stylizer(frames)

    with RUNNING:
        try:
            result = stylize_video(source, output, info, stylize, 1, max_frames, progress, notes.append, stabilize)
        except VideoError as error:
            raise AppError(_without_folder(error, source)) from None
        except Stopped:
            raise AppError(f"stopped after {counted(sum(done), 'frame')}; nothing was kept") from None
    rate = result.frames / result.seconds if result.seconds else 0.0
    megabytes = output.path.stat().st_size / 1e6
    lines = [
        f"Stylized {counted(result.frames, 'frame')} in {result.seconds:.1f} s ({rate:.1f} frames/s): "
        f"{info.width}x{info.height}, {megabytes:.1f} MB."
    ]
    return str(output.path), "\n".join(lines + [f"- {note}" for note in notes])


class LiveFrames:
    """Camera frames from the browser -> stylized frames, one at a time: a frame that arrives
    while the network is busy gets the session's last picture again, so latency never grows (as
    webcam.py drops frames). Where OpenVINO runs, the first frame races it against TensorFlow and
    the faster serves the rest, as in webcam.py. `steady`: each session's pictures are blended
    along its camera's motion against flicker, as webcam.py --stabilize does."""

    def __init__(self, catalog):
        self.catalog = catalog
        self._stylizers = {}  # one per style, kept: a style picked again needs no new compilation
        # The last picture and steadier of each browser session (the newest LIVE_SESSIONS): one
        # person's camera is never shown to, or blended into, another's, on a page the whole
        # classroom opens.
        self._last, self._steadiers = OrderedDict(), OrderedDict()
        self._sessions = threading.Lock()  # a session's end never closes its steadier mid-frame
        self.engine = None  # the race's winner, once a frame has come where OpenVINO runs

    def __call__(self, frame, label, strength=1.0, preserve_color=False, steady=False, session=None):
        if frame is None:
            return None
        if not RUNNING.acquire(blocking=False):
            return self._last.get(session)
        try:
            with self._sessions:
                return self._paint(frame, label, strength, preserve_color, steady, session)
        finally:
            RUNNING.release()

    def _paint(self, frame, label, strength, preserve_color, steady, session):
        rgb = np.asarray(frame)[..., :3]
        if max(rgb.shape[:2]) > LIVE_SIDE:
            rgb = to_uint8(fit_within(rgb, LIVE_SIDE))
        if label not in self._stylizers:
            self._stylizers[label] = self._stylizer(rgb, label)
        # Strength and colour are set on the style's Stylizer, as webcam.py's keys do: a new
        # Stylizer for every position of the slider compiled the network anew each time.
        stylizer = self._stylizers[label]
        stylizer.strength, stylizer.preserve_color = float(strength), bool(preserve_color)
        settings = (label, float(strength), bool(preserve_color))
        steadier = self._steadier(session) if steady else self._forget_steadier(session)
        if steadier is None:
            painted = stylizer(rgb[None])[0]
        else:
            painted = steadier(rgb, lambda one: stylizer(one[None])[0], settings)
        picture = self._last[session] = to_uint8(painted)
        self._last.move_to_end(session)
        while len(self._last) > LIVE_SESSIONS:
            self._last.popitem(last=False)
        return picture

    def _steadier(self, session):
        """The session's FrameSteadier (None where OpenCV, which measures the motion, is missing)."""
        from src.stabilize import FrameSteadier, opencv_available

        if not opencv_available():
            return None
        steadier = self._steadiers.pop(session, None) or FrameSteadier()
        self._steadiers[session] = steadier
        while len(self._steadiers) > LIVE_SESSIONS:
            self._steadiers.popitem(last=False)[1].close()
        return steadier

    def forget(self, session):
        """The session has ended (its tab closed or reloaded): its last picture and its steadier,
        with the steadier's thread and frames, go now rather than when LIVE_SESSIONS newer ones
        have come."""
        with self._sessions:
            self._last.pop(session, None)
            self._forget_steadier(session)

    def _forget_steadier(self, session):
        """Steadiness turned off: turned on again, it starts afresh. -> None"""
        steadier = self._steadiers.pop(session, None)
        if steadier is not None:
            steadier.close()

    def _stylizer(self, rgb, label):
        from src.engines import resolve_engine
        from src.live import engines_to_race, on_fastest_engine

        def make(engine):
            return self.catalog.stylizer(label, engine=engine)

        if self.engine is not None:
            return make(self.engine)
        engine, stylizer, seconds = on_fastest_engine(make, engines_to_race("auto", resolve_engine("auto", "cpu")), rgb)
        self.engine = engine if seconds else None
        return stylizer
