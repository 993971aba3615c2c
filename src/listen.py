"""Where app.py listens: whether an address is this computer's alone, the address the other
computers of its network type, and whether it can listen on an address and port at all, said
before the page is built rather than as uvicorn's traceback and Gradio's "no empty port"."""

import errno
import socket

LOOPBACK = {"localhost", "127.0.0.1", "::1"}
# The hosts that listen on every address of this computer (IPv4, IPv6).
EVERY_ADDRESS = {"0.0.0.0", "::"}


def is_loopback(host):
    """Whether only this computer reaches an app listening on `host` (its pages secure over http)."""
    return host in LOOPBACK or host.startswith("127.") or host.endswith(".localhost")


def network_address():
    """This computer's address on its network (what another computer types), or None. Connecting
    a UDP socket sends nothing: it only asks the system which interface a route would take."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: routed like the internet, never reached
            return probe.getsockname()[0]
        except OSError:
            return None


def listen_problem(host, port):
    """Why nothing could listen on `host`:`port`, in the words of app.py's flags, or None where
    it can: found by binding a socket there (then closing it) as uvicorn will, IPv6 for an
    address with a colon and IPv4 for anything else, so that "localhost" means 127.0.0.1 to both."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: a port just freed is free
        try:
            probe.bind((host, port))
        except socket.gaierror:
            return f"--host {host}: no such name or address"
        except OSError as error:
            return _reason(error.errno, host, port) or f"cannot listen on {host}:{port}: {error.strerror}"
    return None


def _reason(number, host, port):
    if number == errno.EADDRINUSE:
        return f"--port {port} is taken by another program (another app.py?): choose another --port"
    if number == errno.EACCES:
        return f"--port {port}: ports below 1024 need administrator rights; choose one from 1024 up"
    if number == errno.EADDRNOTAVAIL:
        return f"--host {host} is not an address of this computer (0.0.0.0 listens on all of them)"
    return None
