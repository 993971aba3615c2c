"""HTTPS for app.py: browsers open the camera only on secure pages, https ones or those of the
computer itself (http://localhost), so the Live camera tab works on another computer of the
room only when the app serves https. Without a certificate of the user's own, one is made,
self-signed, by the `openssl` command: every browser asks once to accept it.
"""

import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

from src.listen import EVERY_ADDRESS, network_address

CERTIFICATE, KEY = "certificate.pem", "key.pem"
# Made again when older than this, before browsers' limit of 825 days is near.
RENEW_DAYS = 365
VALID_DAYS = 400


class TlsError(Exception):
    """A certificate that cannot be made or read, with what to do instead."""


def check_pair(certificate, key):
    """TlsError unless `certificate` and `key` are a PEM certificate and its unencrypted private
    key, said before the server starts rather than as a traceback from its thread."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)

    def no_password():  # rather than a prompt on the terminal
        raise TlsError(f"{key} is encrypted: give the private key without a password")

    try:
        context.load_cert_chain(certificate, key, password=no_password)
    except ssl.SSLError as error:
        reason = (error.reason or "not PEM").replace("_", " ").lower()  # KEY_VALUES_MISMATCH -> key values mismatch
        raise TlsError(f"{certificate} and {key} are not a certificate and its private key ({reason})") from None


def self_signed(folder, host=None):
    """(certificate path, key path) in `folder`: kept from an earlier run while younger than
    RENEW_DAYS, else made now (an EC P-256 key, this computer's names and addresses), both
    written under temporary names and renamed, the certificate last. TlsError without openssl."""
    folder = Path(folder)
    certificate, key = folder / CERTIFICATE, folder / KEY
    if certificate.exists() and key.exists() and time.time() - certificate.stat().st_mtime < RENEW_DAYS * 86400:
        return certificate, key
    folder.mkdir(parents=True, exist_ok=True)
    openssl = shutil.which("openssl")
    if openssl is None:
        raise TlsError("making a certificate needs the openssl command; install it, or give --ssl-certfile and --ssl-keyfile")
    with tempfile.TemporaryDirectory(dir=folder) as work:
        new_certificate, new_key = Path(work) / CERTIFICATE, Path(work) / KEY
        command = [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(new_key), "-out", str(new_certificate), "-days", str(VALID_DAYS),
            "-subj", "/CN=Fast Style Transfer", "-addext", f"subjectAltName={_alt_names(host)}",
        ]  # fmt: skip
        made = subprocess.run(command, capture_output=True, text=True)
        if made.returncode != 0:
            reason = (made.stderr.strip().splitlines() or ["no reason given"])[-1]
            raise TlsError(f"openssl could not make a certificate ({reason}); give --ssl-certfile and --ssl-keyfile")
        os.chmod(new_key, 0o600)  # the private key is for this user only
        os.replace(new_key, key)
        os.replace(new_certificate, certificate)
    return certificate, key


def _alt_names(host):
    """The names and addresses the certificate is for: this computer's, and `host` where given."""
    names = {"localhost", socket.gethostname()}
    addresses = {"127.0.0.1", "::1", network_address()}
    if host and host not in EVERY_ADDRESS:
        (addresses if _is_address(host) else names).add(host)
    return ",".join([f"DNS:{name}" for name in sorted(names) if name] + [f"IP:{a}" for a in sorted(addresses - {None})])


def _is_address(text):
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, text)
            return True
        except OSError:
            pass
    return False
