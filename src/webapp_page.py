"""The web app's page (app.py), in Gradio: four tabs, Stylize, Video, Contact sheet and Live camera,
over the work in src/webapp.py. Each handler turns an AppError (a user mistake) or any other
failure into a message in the page, so the server keeps serving."""

import traceback
from pathlib import Path

from src.webapp import AppError, LiveFrames, StopSwitch, sheet_file, stylize_files, stylize_video_file

NO_MIX = "(none)"
# Run in the browser as the page loads: browsers open the camera only on secure pages (https, or
# http://localhost on the computer running the app); elsewhere Gradio's own error, a passing
# message (CAMERA_NEEDS_HTTPS, below), cannot say what to do, so the live tab says it.
INSECURE_NOTICE = (
    "() => window.isSecureContext ? '' : '**The camera cannot open on this page:** browsers allow it only on "
    "https pages, or at `http://localhost` on the computer running the app. Start the app with "
    "`python app.py --host 0.0.0.0 --https` and open its https:// address (the browser asks once to accept "
    "its certificate).'"
)
CAMERA_NEEDS_HTTPS = (
    "This page cannot open the camera: browsers allow it only on https pages, or at http://localhost on "
    "the computer running the app (see the note above the camera)."
)
INTRO = (
    "# Fast Style Transfer\n"
    "Paint your photos and videos in the style of an artwork. Everything runs on this computer; "
    "your files stay in a temporary folder that is removed when the app stops."
)


def theme():
    """Gradio's default look with the system's fonts: the page loads nothing from the internet."""
    import gradio as gr

    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def translations():
    """Words for Gradio's own messages where it has none: its webcam, refused on an insecure page,
    shows the bare key "image.no_webcam_support" (Gradio 6), which this says in English instead."""
    import gradio as gr

    return gr.I18n(en={"image.no_webcam_support": CAMERA_NEEDS_HTTPS})


def build_page(catalog, workspace):
    import gradio as gr

    labels = catalog.labels()
    default = "wave" if "wave" in labels else labels[0]
    with gr.Blocks(title="Fast Style Transfer") as page:
        gr.Markdown(INTRO)
        if catalog.problems:
            gr.Markdown("\n".join(f"- {problem}" for problem in catalog.problems), elem_id="problems")
        with gr.Tab("Stylize"):
            _stylize_tab(gr, catalog, workspace, labels, default)
        with gr.Tab("Video"):
            _video_tab(gr, catalog, workspace, labels, default)
        with gr.Tab("Contact sheet"):
            _sheet_tab(gr, catalog, workspace)
        with gr.Tab("Live camera"):
            live, notice = _live_tab(gr, catalog)
        page.load(None, None, notice, js=INSECURE_NOTICE)

        def gone(request: gr.Request):
            live.forget(request.session_hash)

        page.unload(gone)
    return page


def _stylize_tab(gr, catalog, workspace, labels, default):
    with gr.Row():
        with gr.Column():
            files = gr.File(label="Photos", file_count="multiple", type="filepath", elem_id="photos")
            style = gr.Dropdown(labels, value=default, label="Style", elem_id="style")
            with gr.Accordion("Mix with a second style", open=False):
                second = gr.Dropdown([NO_MIX, *labels], value=NO_MIX, label="Second style", elem_id="second")
                mix = gr.Slider(0, 1, value=0.5, step=0.05, label="Share of the second style", elem_id="mix")
            strength = gr.Slider(0, 1, value=1, step=0.05, label="Strength (0: the photo, 1: the painting)", elem_id="strength")
            stroke = gr.Slider(0.25, 4, value=1, step=0.05, label="Stroke size (times the network's own)", elem_id="stroke")
            colour = gr.Checkbox(label="Keep the photo's colours", elem_id="colour")
            with gr.Row():
                button = gr.Button("Stylize", variant="primary", elem_id="go")
                stop_button = gr.Button("Stop", variant="stop", elem_id="stop")
        with gr.Column():
            status = gr.Markdown(elem_id="status")
            gallery = gr.Gallery(label="Photo and result", columns=2, object_fit="contain", elem_id="gallery")
            downloads = gr.File(label="Full-resolution results", file_count="multiple", elem_id="downloads")

    # track_tqdm: the page shows the pipeline's progress bars (photos done, a tiled photo's
    # share done), as evaluate.py prints them; many photos or a huge one take minutes on a CPU.
    def run(files, style, second, mix, strength, stroke, colour, switch, progress=gr.Progress(track_tqdm=True)):
        try:
            second = None if second == NO_MIX else second
            with switch.run():
                result = stylize_files(
                    catalog, workspace, files, style, second, mix, strength, colour, stroke, progress=True, stop=switch
                )
            return result.pairs, result.downloads or None, result.message
        except AppError as error:
            return [], None, f"**{error}**"
        except Exception as error:  # noqa: BLE001 - any failure is a message; the server keeps serving
            return [], None, _unexpected(error)

    _stoppable(gr, button, stop_button, run, [files, style, second, mix, strength, stroke, colour], [gallery, downloads, status])


def _video_tab(gr, catalog, workspace, labels, default):
    from src.stabilize import DEFAULT_STRENGTH
    from src.video_probe import ANIMATION_SUFFIXES, VIDEO_SUFFIXES

    with gr.Row():
        with gr.Column():
            # A file box rather than gr.Video, which refuses what the browser does not call a video
            # (a GIF is an image to it); the upload is shown below, in a player or as a picture.
            video = gr.File(
                label="Video or animation (GIF, animated PNG or WebP)", file_count="single", type="filepath",
                file_types=sorted(VIDEO_SUFFIXES | ANIMATION_SUFFIXES), elem_id="video",
            )  # fmt: skip
            uploaded = gr.Video(label="Your video", interactive=False, visible=False, elem_id="video-uploaded")
            uploaded_animation = gr.Image(
                label="Your animation", type="filepath", interactive=False, visible=False, elem_id="gif-uploaded"
            )
            style = gr.Dropdown(labels, value=default, label="Style", elem_id="video-style")
            strength = gr.Slider(0, 1, value=1, step=0.05, label="Strength (0: the video, 1: the painting)")
            stroke = gr.Slider(0.25, 4, value=1, step=0.05, label="Stroke size (times the network's own)")
            colour = gr.Checkbox(label="Keep the video's colours")
            steady = gr.Slider(
                0, 0.9, value=DEFAULT_STRENGTH, step=0.05, elem_id="steady",
                label="Steadiness (against flicker; 0: every frame painted on its own)",
            )  # fmt: skip
            seconds = gr.Number(value=0, minimum=0, label="Only the first seconds (0: the whole video)", elem_id="seconds")
            size = gr.Dropdown(
                [("The video's own", 0)] + [(f"{side} pixels", side) for side in (1280, 854, 640, 480, 320)],
                value=0, label="Size: the longer side at most (smaller: faster, a lighter file)", elem_id="video-size",
            )  # fmt: skip
            gif = gr.Checkbox(label="As a looping GIF (no sound), for chats and stickers", elem_id="gif")
            with gr.Row():
                button = gr.Button("Stylize the video", variant="primary", elem_id="video-go")
                stop_button = gr.Button("Stop", variant="stop", elem_id="video-stop")
        with gr.Column():
            status = gr.Markdown(elem_id="video-status")
            result = gr.Video(label="Stylized", interactive=False, elem_id="video-result")
            animation = gr.Image(label="Stylized GIF", type="filepath", interactive=False, visible=False, elem_id="gif-result")
            download = gr.File(label="Download the result", elem_id="video-download")

    def shown(path=None, message=""):
        return (*_player_or_picture(gr, path), path, message)

    def run(video, style, strength, stroke, colour, steady, seconds, size, gif, switch, progress=gr.Progress(track_tqdm=True)):
        try:
            settings = {"strength": strength, "preserve_color": colour, "stroke_scale": stroke, "stabilize": steady}
            with switch.run():
                path, message = stylize_video_file(
                    catalog, workspace, video, style, **settings, seconds=seconds or 0, progress=True, stop=switch,
                    gif=gif, longest_side=size or 0,
                )  # fmt: skip
            return shown(path, message)
        except AppError as error:
            return shown(message=f"**{error}**")
        except Exception as error:  # noqa: BLE001
            return shown(message=_unexpected(error))

    inputs = [video, style, strength, stroke, colour, steady, seconds, size, gif]
    _stoppable(gr, button, stop_button, run, inputs, [result, animation, download, status])
    video.change(lambda path: _player_or_picture(gr, path, hidden=not path), [video], [uploaded, uploaded_animation], queue=False)


def _player_or_picture(gr, path, hidden=False):
    """Updates of a video player and an image showing `path`: an animation (GIF, APNG, WebP) is a
    picture to the browser, shown by the image with the player hidden, and the other way round
    (both hidden: `hidden`)."""
    from src.video_probe import ANIMATION_SUFFIXES

    is_picture = bool(path) and Path(path).suffix.lower() in ANIMATION_SUFFIXES
    player = gr.update(value=None if is_picture else path, visible=not (is_picture or hidden))
    return player, gr.update(value=path if is_picture else None, visible=is_picture and not hidden)


def _stoppable(gr, button, stop_button, run, inputs, outputs):
    """`button` runs run(*inputs, switch) in the queue; `stop_button` presses the session's
    StopSwitch. The click marks the request pending at once (outside the queue), so that a Stop
    also reaches a request still waiting its turn; the request's own answer then says what was
    kept. (Gradio's `cancels` would drop that answer, and lets a running function run on.)"""
    switch = gr.State(StopSwitch)  # one per browser session
    button.click(StopSwitch.begin, [switch], None, queue=False).then(run, [*inputs, switch], outputs)
    stop_button.click(StopSwitch.press, [switch], None, queue=False)


def _sheet_tab(gr, catalog, workspace):
    with gr.Row():
        with gr.Column():
            photo = gr.File(label="Photo", file_count="single", type="filepath", elem_id="sheet-photo")
            size = gr.Slider(128, 1024, value=384, step=32, label="Size of each picture (longer side, pixels)")
            button = gr.Button("Make the contact sheet", variant="primary", elem_id="sheet-go")
        with gr.Column():
            status = gr.Markdown(elem_id="sheet-status")
            sheet = gr.Image(label="Every style", type="filepath", interactive=False, elem_id="sheet")
            download = gr.File(label="Download the sheet", elem_id="sheet-download")

    def run(photo, size, progress=gr.Progress(track_tqdm=True)):
        try:
            path, message = sheet_file(catalog, workspace, photo, int(size), progress=True)
            return path, path, message
        except AppError as error:
            return None, None, f"**{error}**"
        except Exception as error:  # noqa: BLE001
            return None, None, _unexpected(error)

    button.click(run, [photo, size], [sheet, download, status])


def _live_tab(gr, catalog):
    labels = catalog.live_labels()
    live = LiveFrames(catalog)
    gr.Markdown("Your browser's camera, stylized frame by frame with the slim networks (distilled for speed).")
    notice = gr.Markdown("", elem_id="live-insecure")
    with gr.Row():
        # The camera at 640x480, as webcam.py's measurements: Gradio asks browsers for 1920x1440.
        size = {"width": {"ideal": 640}, "height": {"ideal": 480}}
        options = gr.WebcamOptions(constraints={"video": size})
        camera = gr.Image(sources=["webcam"], streaming=True, type="numpy", label="Camera", elem_id="camera", webcam_options=options)
        painted = gr.Image(label="Stylized", streaming=True, elem_id="live")
    with gr.Row():
        style = gr.Dropdown(labels, value=labels[0], label="Style", elem_id="live-style")
        strength = gr.Slider(0, 1, value=1, step=0.05, label="Strength")
        colour = gr.Checkbox(label="Keep the colours")
        steady = gr.Checkbox(value=True, label="Steady (less flicker)", elem_id="live-steady")

    def frame(picture, style, strength, colour, steady, request: gr.Request):
        return live(picture, style, strength, colour, steady, session=request.session_hash)

    inputs = [camera, style, strength, colour, steady]
    camera.stream(frame, inputs, [painted], stream_every=0.1, concurrency_limit=1)
    return live, notice


def _unexpected(error):
    traceback.print_exc()  # for whoever runs the server; the page gets one line
    return f"**Something went wrong: {type(error).__name__}: {error}**. The app is still running; try again."
