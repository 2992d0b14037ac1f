"""The image tooling's pure parts and the QEMU harness's serial-port logic, without QEMU: a Unix
socket stands in for the VM's serial port."""
import re
import socket
import threading
from pathlib import Path

import pytest

from image import lockfile
from image.lockfile import Deb, Lock, LockError, Wheel
from image.qemu import SerialPort, Shell, VmTimeout, strip_terminal_codes


def test_terminal_codes_are_stripped_and_cursor_moves_become_spaces():
    raw = b"\x1b[?25l\x1b[1;1H\x1b[0;1;37mSet\x1b[0m\x1b[1Cthe\x1b[2Cclock\r\n\x1b]0;title\x07done"
    text = strip_terminal_codes(raw)
    assert re.search(r"Set\s+the\s+clock", text)
    assert "\x1b" not in text and "done" in text


def test_lock_round_trip(tmp_path):
    lock = Lock(1700000000,
                (Deb("libc6", "2.41-12", "amd64", "a" * 64), Deb("tzdata", "1:2025b-4", "all", "b" * 64)),
                (Wheel("python-pkcs11", "0.10.1", "python_pkcs11-0.10.1-cp313-cp313-x.whl", "c" * 64),),
                (Wheel("setuptools", "80.9.0", "setuptools-80.9.0-py3-none-any.whl", "d" * 64),))
    path = tmp_path / "lock.tsv"
    lockfile.write(lock, path)
    assert lockfile.read(path) == Lock(lock.source_date_epoch, lock.debs, lock.wheels, lock.build_wheels)
    assert Deb("tzdata", "1:2025b-4", "all", "").file_name == "tzdata_1%3a2025b-4_all.deb"


def test_lock_rejects_a_malformed_record(tmp_path):
    path = tmp_path / "lock.tsv"
    path.write_text("source-date-epoch\t1700000000\ndeb\tlibc6\t2.41-12\n")
    with pytest.raises(LockError, match=r"lock.tsv:2: not a lock record"):
        lockfile.read(path)


def test_check_file_names_the_mismatch(tmp_path):
    path = tmp_path / "x.deb"
    path.write_bytes(b"not the locked file")
    with pytest.raises(LockError, match=r"x.deb: SHA-256 [0-9a-f]{64} differs from the lock's 0+"):
        lockfile.check_file(path, "0" * 64)


class FakeSerial:
    """The VM side of a serial port: a listening Unix socket the harness connects to."""

    def __init__(self, tmp_path: Path):
        self.path = tmp_path / "ttyS.sock"
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(self.path))
        self.server.listen(1)
        self.port = SerialPort("ttyS9", self.path, tmp_path / "ttyS9.log")
        self.peer, _ = self.server.accept()

    def close(self):
        self.peer.close()
        self.port.close()
        self.server.close()


@pytest.fixture
def serial(tmp_path):
    fake = FakeSerial(tmp_path)
    yield fake
    fake.close()


def test_expect_finds_text_split_by_colour_codes(serial):
    serial.peer.sendall(b"booting...\r\n\x1b[1mSet the\x1b[0m clock\r\n")
    match = serial.port.expect(r"Set\s+the\s+clock", timeout=5, reason="first screen")
    assert match.group(0).startswith("Set")


def test_expect_timeout_says_what_was_awaited_and_what_was_seen(serial):
    serial.peer.sendall(b"Kernel panic - not syncing: VFS: Unable to mount root fs\r\n")
    with pytest.raises(VmTimeout) as failure:
        serial.port.expect(r"Set\s+the\s+clock", timeout=0.5, reason="ceremony console's first screen")
    message = str(failure.value)
    assert "ceremony console's first screen: timed out after 0s waiting for /Set\\s+the\\s+clock/ on ttyS9" in message
    assert "Kernel panic" in message


def test_expect_reports_a_stopped_vm_at_once(serial):
    serial.peer.close()
    with pytest.raises(VmTimeout, match="the VM stopped"):
        serial.port.expect("never", timeout=30, reason="boot menu")


def test_shell_run_returns_status_and_output(serial):
    def answer():
        typed = b""
        while not typed.endswith(b"\n"):
            typed += serial.peer.recv(1)
        token = re.search(rb"' (\S+) \$\?", typed)
        # the shell (echo and prompt off, as wait_ready leaves it) prints the output, then the marker
        serial.peer.sendall(b"lo\r\n\r\n::end-" + token.group(1) + b"-3::\r\n")

    responder = threading.Thread(target=answer)
    responder.start()
    status, output = Shell(serial.port).run("ip -o link show up", timeout=10)
    responder.join()
    assert (status, output) == (3, "lo")
