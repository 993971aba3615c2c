"""A local web page for stylizing photos without the command line.

    bash setup.sh --app        # once: installs Gradio
    python app.py              # then open the address it prints

Every model in examples/models/ and in each --models folder (style.py checkpoints, .keras files,
the original's .ckpt files) is a style. The page stylizes photos at full resolution, makes a
contact sheet of one photo in every style, and stylizes the browser's camera live. It listens on
this computer only unless --host says otherwise, and never makes a public link. For the other
computers of a room: --host 0.0.0.0 --https (their browsers open the camera only on https pages).
"""

import argparse
import importlib.util
import os
import signal
import sys
import time
from pathlib import Path

from src import cli
from src.listen import EVERY_ADDRESS, is_loopback, listen_problem, network_address
from src.memory import keep_freed_memory
from src.wording import counted

INSTALL = "app.py needs Gradio: bash setup.sh --app (or .venv/bin/pip install -r requirements-app.txt)"


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on; 0.0.0.0 for the whole network (default: %(default)s)")
    parser.add_argument("--port", type=cli.port, default=7860, help="port (default: %(default)s)")
    parser.add_argument(
        "--models",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder of more models (style.py checkpoints, .keras, .ckpt); give it more than once for several",
    )
    parser.add_argument(
        "--max-file-size",
        type=cli.file_size,
        default="2gb",
        help="the largest upload the page accepts, photo or video, such as 500mb (default: %(default)s)",
    )
    parser.add_argument(
        "--https",
        action="store_true",
        help="serve https, so that browsers on other computers may open their camera (the Live camera tab): with "
        "a self-signed certificate made once by openssl (each browser asks once to accept it), or --ssl-certfile's",
    )
    parser.add_argument("--ssl-certfile", type=Path, metavar="PEM", help="serve https with your certificate; with --ssl-keyfile")
    parser.add_argument("--ssl-keyfile", type=Path, metavar="PEM", help="its private key, not encrypted; with --ssl-certfile")
    return parser


def certificate(parser, args):
    """(certificate, key) paths for https, or None for http; a usage error where they cannot be had."""
    from src.tls import TlsError, check_pair, self_signed

    given = [path for path in (args.ssl_certfile, args.ssl_keyfile) if path is not None]
    if len(given) == 1:
        parser.error("--ssl-certfile and --ssl-keyfile go together")
    for path in given:
        if not path.is_file():
            parser.error(f"{path}: no such file")
    if given:
        try:
            check_pair(args.ssl_certfile, args.ssl_keyfile)
        except TlsError as error:
            parser.error(str(error))
        return args.ssl_certfile, args.ssl_keyfile
    if not args.https:
        return None
    from src.engines import cache_dir

    folder = cache_dir() / "app-certificate"
    try:
        return self_signed(folder, args.host)
    except TlsError as error:
        parser.error(f"--https: {error}")
    except OSError as error:  # a read-only cache folder
        parser.error(f"--https: cannot keep a certificate in {folder} ({error.strerror}); set FST_CACHE_DIR elsewhere")


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    for folder in args.models:
        if not os.path.isdir(folder):
            parser.error(f"--models {folder} is not a folder")
    problem = listen_problem(args.host, args.port)
    if problem:
        parser.error(problem)
    from src.settings import AppSettings

    settings = AppSettings(
        host=args.host,
        port=args.port,
        models=tuple(args.models),
        max_file_size=args.max_file_size,
        tls=certificate(parser, args),
    )
    if importlib.util.find_spec("gradio") is None:
        print(INSTALL, file=sys.stderr)
        return 1
    from src.webapp import Workspace

    asked = []  # the signals that asked the app to stop

    def interrupt(number, frame):
        asked.append(number)
        raise KeyboardInterrupt

    # A `kill` stops it as a Ctrl-C does, from the start: Keras, the models and Gradio's launch take
    # seconds, and a plain SIGTERM then left the temporary folder behind.
    previous = {number: signal.signal(number, interrupt) for number in (signal.SIGINT, signal.SIGTERM)}
    workspace = None
    try:
        workspace = Workspace()
        return _serve(settings, workspace, asked)
    except KeyboardInterrupt:
        print("interrupted before the app started; the temporary files are removed", file=sys.stderr)
        return 130
    finally:
        if workspace is not None:
            workspace.remove()
        for number, handler in previous.items():
            signal.signal(number, handler)


def _serve(settings, workspace, asked=()):
    # Before Gradio is imported: uploads go into our temporary folder, and nothing is reported home.
    os.environ["GRADIO_TEMP_DIR"] = str(workspace.uploads)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    cli.import_keras()
    keep_freed_memory()  # each photo and live frame reuses what the last one freed (src/memory.py)
    from src.webapp import SHIPPED, Catalog
    from src.webapp_page import build_page, theme, translations

    catalog = Catalog.load([SHIPPED, *settings.models])
    for problem in catalog.problems:
        print(f"note: {problem}", file=sys.stderr)
    if not catalog.styles:
        print("no model could be loaded: the app has no style to offer", file=sys.stderr)
        return 1
    page = build_page(catalog, workspace)
    # Gradio checks its own address once started; a self-signed certificate fails a verified check.
    tls = settings.tls
    certificates = {"ssl_certfile": str(tls[0]), "ssl_keyfile": str(tls[1]), "ssl_verify": False} if tls else {}
    try:
        page.queue(default_concurrency_limit=1).launch(
            server_name=settings.host, server_port=settings.port, share=False, prevent_thread_lock=True, quiet=True,
            ssr_mode=False, theme=theme(), i18n=translations(), max_file_size=settings.max_file_size, footer_links=[],
            **certificates,
        )  # fmt: skip
    except OSError as error:  # taken since listen_problem looked
        print(f"cannot listen on {settings.host}:{settings.port}: {error}", file=sys.stderr)
        return 1
    print(f"Fast Style Transfer: {page.local_url} ({counted(len(catalog.styles), 'style')}; Ctrl-C stops it)", file=sys.stderr, flush=True)
    _say_where(settings)
    try:
        while not asked:  # a Ctrl-C that a library caught while the app started stops it now
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    # Closing takes a second or two: a second Ctrl-C (or kill) meanwhile would end the app with a
    # traceback, before its temporary folder is removed.
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_IGN)
    print("stopping...", file=sys.stderr, flush=True)
    page.close()
    print("stopped; the temporary files are removed", file=sys.stderr)
    return 0


def _say_where(settings):
    """For an app open to the network: the address other computers type, and, over http, that
    their browsers will not open the camera."""
    if is_loopback(settings.host):
        return
    tls = settings.tls
    scheme, host = ("https" if tls else "http"), network_address() if settings.host in EVERY_ADDRESS else settings.host
    if host:
        host = f"[{host}]" if ":" in host else host  # an IPv6 address, as URLs write it
        print(f"on the network: {scheme}://{host}:{settings.port}/", file=sys.stderr, flush=True)
    if not tls:
        print(
            "note: browsers on other computers open their camera (the Live camera tab) only over https: "
            "add --https (a self-signed certificate, which each browser asks once to accept)",
            file=sys.stderr,
            flush=True,
        )


if __name__ == "__main__":
    # Gradio's workers (a live stream mid-frame) may still hold TensorFlow threads: ending them in
    # Python's teardown aborts the process, so it ends here, once the temporary folder is removed.
    cli.exit_now(main())
