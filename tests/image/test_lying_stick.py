"""The lying stick of `make fault-test` (image/lying_stick.py, image/nbdkit_drop_writes.py)
without booting: QEMU with no machine (`-machine none`, nothing runs in it) opens the stick as
the fault test does (hotplug's NBD node) and writes to it with its own `qemu-io` (HMP); every
write is acknowledged, reads still give the image's bytes, the image file never changes, and
each dropped write is listed. Needs nbdkit with its python plugin and qemu-system-x86 (Debian:
nbdkit nbdkit-plugin-python qemu-system-x86; CI installs them with `make fault-test`'s setup)."""
import hashlib
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from image import hotplug, lying_stick, sticks
from image.lying_stick import LyingStick, LyingStickError

pytestmark = pytest.mark.skipif(
    not (shutil.which("nbdkit") and shutil.which("qemu-system-x86_64")
         and Path("/usr/lib/x86_64-linux-gnu/nbdkit/plugins/nbdkit-python-plugin.so").exists()),
    reason="needs nbdkit, nbdkit-plugin-python and qemu-system-x86 (Debian packages; CI has them)")


class MachineLessQemu:
    """qemu-system-x86_64 -machine none: a block layer and a QMP monitor, no guest. What its
    `qemu-io` commands print goes to QEMU's standard output: `output()` once it has quit."""

    def __init__(self, workdir: Path):
        from qemu.qmp import QMPError
        from qemu.qmp.legacy import QEMUMonitorProtocol

        self.socket, self.log = workdir / "qmp.sock", workdir / "qemu.out"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                ["qemu-system-x86_64", "-machine", "none", "-nodefaults", "-display", "none",
                 "-qmp", f"unix:{self.socket},server=on,wait=on"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        self.monitor = QEMUMonitorProtocol(str(self.socket))
        deadline = time.monotonic() + 30
        while True:
            try:
                self.monitor.connect()
                break
            except (OSError, QMPError):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("QEMU did not start: " + self.log.read_text(errors="replace"))
                time.sleep(0.1)

    def qmp(self, command, **arguments):
        reply = self.monitor.cmd_raw(command, arguments or None)
        if "error" in reply:
            raise RuntimeError(f"QMP {command}: {reply['error']}")
        return reply.get("return")

    def qemu_io(self, node: str, command: str) -> None:
        self.qmp("human-monitor-command", **{"command-line": f'qemu-io {node} "{command}"'})

    def quit(self) -> None:
        if self.process.poll() is None:
            try:
                self.monitor.cmd_raw("quit", None)
            except EOFError:  # QEMU may close the socket before it answers
                pass
            self.process.wait(10)
            try:
                self.monitor.close()
            except EOFError:  # the connection QEMU ended, said once more
                pass

    def output(self) -> str:
        self.quit()
        return self.log.read_text(errors="replace")


@pytest.fixture
def qemu(tmp_path):
    machine = MachineLessQemu(tmp_path)
    yield machine
    machine.quit()


def test_every_write_is_acknowledged_and_none_is_kept(qemu, tmp_path):
    image = sticks.make_stick(tmp_path / "lying.img", "LYING", {"ksr.xml": b"the request\n"})
    before = hashlib.sha256(image.read_bytes()).hexdigest()
    with LyingStick(image, tmp_path / "nbd") as stick:
        node = {"node-name": "lying-node", "driver": "raw", "discard": "unmap",  # trims passed on
                "file": {"driver": "nbd", "server": {"type": "unix", "path": str(stick.socket)}}}
        qemu.qmp("blockdev-add", **node)
        qemu.qemu_io("lying-node", "write -P 0x55 1048576 65536")
        qemu.qemu_io("lying-node", "write -z 2097152 4096")
        qemu.qemu_io("lying-node", "discard 3145728 4096")
        qemu.qemu_io("lying-node", "flush")
        qemu.qemu_io("lying-node", "read -P 0x55 1048576 65536")  # what was written: must fail
        qemu.qemu_io("lying-node", "read -P 0x00 1048576 65536")  # what the image holds there
        qemu.qmp("blockdev-del", **{"node-name": "lying-node"})
        dropped = stick.dropped_writes()
    said = qemu.output()
    assert "wrote 65536/65536 bytes at offset 1048576" in said  # acknowledged: no error at all
    assert "error" not in said.lower()
    # Read back over NBD: not what was written (one pattern check fails, the 0x55 one) but what
    # the image held (the zeros' check passes).
    assert said.count("Pattern verification failed") == 1
    assert said.count("read 65536/65536 bytes at offset 1048576") == 2
    assert hashlib.sha256(image.read_bytes()).hexdigest() == before
    assert ("pwrite", 1048576, 65536) in dropped
    assert {what for what, _, _ in dropped} >= {"pwrite", "zero", "trim"}
    assert sticks.read_stick(image) == {"ksr.xml": b"the request\n"}
    # The shadow (never served) is what an honest stick would hold: the write is there.
    with open(stick.shadow, "rb") as shadow:
        shadow.seek(1048576)
        assert shadow.read(65536) == b"\x55" * 65536


def test_the_lying_stick_is_plugged_as_an_nbd_node(tmp_path):
    class Recorder:
        qmp_calls = []

        def qmp(self, command, **arguments):
            self.qmp_calls.append((command, arguments))

    vm = Recorder()
    hotplug.plug(vm, "lying", tmp_path / "lying.img", served_by=tmp_path / "lying.sock")
    assert vm.qmp_calls[0] == ("blockdev-add", {"node-name": "lying-node", "driver": "raw", "file": {
        "driver": "nbd", "server": {"type": "unix", "path": str(tmp_path / "lying.sock")}}})
    assert vm.qmp_calls[1][0] == "device_add" and vm.qmp_calls[1][1]["drive"] == "lying-node"


def test_nbdkit_failing_to_start_is_said(tmp_path, monkeypatch):
    monkeypatch.setattr(lying_stick, "PLUGIN", tmp_path / "no-such-plugin.py")
    image = sticks.make_stick(tmp_path / "lying.img", "LYING", {})
    with pytest.raises(LyingStickError, match="did not start serving lying.img: .*no-such-plugin"):
        LyingStick(image, tmp_path / "nbd").start()
