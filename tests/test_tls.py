"""src/tls.py: the self-signed certificate of app.py --https, made once, kept, renewed, and a
clear error without openssl."""

import os
import shutil
import ssl
import subprocess
import time

import pytest

from src import tls

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")


@needs_openssl
def test_a_certificate_is_made_once_kept_and_renewed_when_old(tmp_path):
    certificate, key = tls.self_signed(tmp_path / "made", host="192.0.2.7")
    ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certificate, key)  # a pair a server can use
    assert key.stat().st_mode & 0o077 == 0  # the private key: this user's alone
    text = subprocess.run(["openssl", "x509", "-in", str(certificate), "-noout", "-text"], capture_output=True, text=True).stdout
    assert "DNS:localhost" in text and "IP Address:127.0.0.1" in text and "IP Address:192.0.2.7" in text
    assert sorted(p.name for p in certificate.parent.iterdir()) == [tls.CERTIFICATE, tls.KEY]  # no leftovers
    first = certificate.read_bytes()
    assert tls.self_signed(tmp_path / "made") == (certificate, key) and certificate.read_bytes() == first  # kept
    old = time.time() - (tls.RENEW_DAYS + 1) * 86400
    os.utime(certificate, (old, old))
    tls.self_signed(tmp_path / "made")
    assert certificate.read_bytes() != first  # renewed


def test_without_openssl_the_error_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(tls.shutil, "which", lambda name: None)
    with pytest.raises(tls.TlsError, match="openssl.*--ssl-certfile and --ssl-keyfile"):
        tls.self_signed(tmp_path)
    assert not (tmp_path / tls.CERTIFICATE).exists()


@needs_openssl
def test_a_pair_that_is_not_a_certificate_and_its_key_is_said_before_the_server_starts(tmp_path):
    certificate, key = tls.self_signed(tmp_path / "one")
    other_certificate, _ = tls.self_signed(tmp_path / "two")
    tls.check_pair(certificate, key)
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(tls.TlsError, match="junk.pem and .* are not a certificate and its private key"):
        tls.check_pair(tmp_path / "junk.pem", key)
    with pytest.raises(tls.TlsError, match="key values mismatch"):
        tls.check_pair(other_certificate, key)
    encrypted = tmp_path / "encrypted.pem"
    subprocess.run(["openssl", "pkey", "-in", str(key), "-out", str(encrypted), "-aes256", "-passout", "pass:secret"], check=True)
    with pytest.raises(tls.TlsError, match="encrypted.pem is encrypted"):
        tls.check_pair(certificate, encrypted)
