"""src/listen.py: where app.py listens, and why it cannot, said before the page is built."""

import errno
import socket

import pytest

from src import listen


@pytest.mark.parametrize(
    "host, loopback",
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("127.0.1.1", True), ("app.localhost", True),
     ("0.0.0.0", False), ("::", False), ("192.168.1.20", False), ("classroom.example", False)],
)  # fmt: skip
def test_only_this_computers_own_addresses_are_loopback(host, loopback):
    assert listen.is_loopback(host) is loopback


def test_the_network_address_is_an_address_or_none():
    address = listen.network_address()
    assert address is None or socket.inet_pton(socket.AF_INET, address)  # raises OSError for anything else


def test_a_free_port_is_no_problem_and_a_taken_one_is():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        assert "is taken by another program" in listen.listen_problem("127.0.0.1", port)
        taken.listen()
        assert "is taken by another program" in listen.listen_problem("127.0.0.1", port)
    assert listen.listen_problem("127.0.0.1", port) is None
    assert listen.listen_problem("localhost", port) is None


def test_a_host_that_is_no_address_of_this_computer():
    assert listen.listen_problem("no-such-host.invalid", 8000) == "--host no-such-host.invalid: no such name or address"
    assert "--host 203.0.113.77 is not an address of this computer" in listen.listen_problem("203.0.113.77", 8000)


def test_a_port_below_1024_without_the_rights_says_so(monkeypatch):
    """As a user who is not root (the tests may run as root, where every port binds)."""

    class Refused(socket.socket):
        def bind(self, address):
            raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(listen.socket, "socket", Refused)
    assert "ports below 1024 need administrator rights" in listen.listen_problem("127.0.0.1", 80)
