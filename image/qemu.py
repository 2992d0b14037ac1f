"""A QEMU virtual machine for tests of the ceremony DVD: start it (TCG unless KVM is asked for),
read, wait for and type text on its serial ports, send QMP commands, stop it.

    with VirtualMachine(iso, firmware="uefi", workdir=tmp) as vm:
        vm.console.expect(r"Serial console", timeout=120, reason="boot menu")
        vm.console.type("s")
        vm.console.expect(r"Set\\s+the\\s+clock", timeout=300, reason="ceremony console")
        print(vm.shell.run("ss -H -lntu"))
        vm.qmp("eject", id="cdrom", force=True)

Serial port 0 (ttyS0) carries the kernel console and, in the DVD's "serial console" boot entry,
the ceremony; serial port 1 (ttyS1) carries the administrator's root shell (see README, "The DVD
image"). Every byte each port sends is also written to <workdir>/<name>.log. A wait that fails raises
VmTimeout saying what was awaited, for how long, and what the port showed last.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import threading
import time
from pathlib import Path

from qemu.qmp import QMPError
from qemu.qmp.legacy import QEMUMonitorProtocol

from image.firmware import firmware as firmware_named

# Terminal control sequences: cursor moves forward become spaces, moves elsewhere become line
# breaks, everything else (colours, modes, titles, charsets) disappears. What remains is the text a
# person would read, good enough to search for words.
_CURSOR_FORWARD = re.compile(rb"\x1b\[(\d*)C")
_CURSOR_ELSEWHERE = re.compile(rb"\x1b\[[\d;]*[ABEFGHfd]")
_OTHER_ESCAPES = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[@-Z\\-_=>]")


def strip_terminal_codes(raw: bytes) -> str:
    text = _CURSOR_FORWARD.sub(lambda m: b" " * int(m.group(1) or 1), raw)
    text = _CURSOR_ELSEWHERE.sub(b"\n", text)
    text = _OTHER_ESCAPES.sub(b"", text)
    return text.replace(b"\r", b"").decode("utf-8", errors="replace")


class VmError(Exception):
    """The virtual machine could not be started or stopped."""


class VmTimeout(VmError):
    """Something awaited on a serial port did not appear in time."""


def connect_when_ready(path: Path, error: type[Exception], what: str, seconds: float = 30) -> socket.socket:
    """Connect to a Unix socket QEMU is about to open; QEMU creates it only once it has started."""
    deadline = time.monotonic() + seconds
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(path))
            return sock
        except OSError:
            sock.close()
            if time.monotonic() > deadline:
                raise error(f"QEMU never opened {what} {path}") from None
            time.sleep(0.1)


class SerialPort:
    """One serial port of the VM, through a Unix socket that QEMU listens on."""

    def __init__(self, name: str, socket_path: Path, log_path: Path):
        self.name = name
        self._raw = bytearray()
        self._position = 0  # expect() searches the text after the previous match
        self._changed = threading.Condition()
        self._log = open(log_path, "wb")
        self._socket = connect_when_ready(socket_path, VmError, "the serial socket")
        self._reader = threading.Thread(target=self._read, name=f"serial-{name}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = self._socket.recv(65536)
            except OSError:
                data = b""
            with self._changed:
                if not data:
                    self._closed = True
                    self._changed.notify_all()
                    return
                self._raw += data
                self._log.write(data)
                self._log.flush()
                self._changed.notify_all()

    _closed = False

    def text(self) -> str:
        """Everything the port showed so far, terminal codes stripped."""
        with self._changed:
            return strip_terminal_codes(bytes(self._raw))

    def expect(self, pattern: str, timeout: float, reason: str) -> re.Match:
        """Wait until `pattern` (a regular expression) appears after the previous match."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                text = strip_terminal_codes(bytes(self._raw))
                match = regex.search(text, self._position)
                if match:
                    self._position = match.end()
                    return match
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    why = "the VM stopped" if self._closed else f"timed out after {timeout:.0f}s"
                    tail = text[-600:].strip()
                    raise VmTimeout(f"{reason}: {why} waiting for /{pattern}/ on {self.name}; "
                                    f"it showed last:\n{tail}")
                self._changed.wait(min(remaining, 1.0))

    def mark(self) -> int:
        """Make later expect() calls look only at what arrives from now on; returns that position
        in text()."""
        with self._changed:
            self._position = len(strip_terminal_codes(bytes(self._raw)))
            return self._position

    def type(self, text: str, delay: float = 0.02) -> None:
        """Send keys one by one, as a person at a serial terminal would: firmware and boot loaders
        drop characters that arrive faster than they poll."""
        for char in text.encode():
            self._socket.sendall(bytes([char]))
            time.sleep(delay)

    def close(self) -> None:
        self._socket.close()
        self._reader.join(timeout=5)
        self._log.close()


class Shell:
    """A root shell on a serial port (the DVD's administrator shell): run a command, get its output
    and exit status."""

    def __init__(self, port: SerialPort):
        self.port = port
        self._count = 0

    def wait_ready(self, timeout: float) -> None:
        """Wait for the shell, then turn off its echo and prompts: readline redraws a long typed
        line sideways with backspaces, which no parser should have to undo. Keys typed before the
        shell runs are lost (its service resets the terminal), so this types again every 15 s."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                self._send("stty -echo; PS1=''; PS2=''", min(15.0, max(remaining, 0.1)),
                           "administrator shell")
                return
            except VmTimeout:
                if time.monotonic() >= deadline:
                    raise

    def run(self, command: str, timeout: float = 60, reason: str | None = None) -> tuple[int, str]:
        """Run `command`; returns (exit status, output)."""
        return self._send(command, timeout, reason or f"command {command!r}")

    def _send(self, command: str, timeout: float, reason: str) -> tuple[int, str]:
        # The end marker is assembled by printf, so an echo of the typed line never matches it.
        self._count += 1
        token = f"{os.getpid()}x{self._count}"
        start = self.port.mark()
        self.port.type(f"{command}; printf '\\n::end-%s-%d::\\n' {token} $?\n", delay=0.002)
        match = self.port.expect(rf"::end-{token}-(\d+)::\n", timeout, reason)
        return int(match.group(1)), self.port.text()[start : match.start()].strip()


class VirtualMachine:
    """qemu-system-x86_64 booting the ISO, q35 machine, SeaBIOS or OVMF (with or without Secure Boot;
    image/firmware.py), from a virtual DVD drive (QMP device id "cdrom") or a read-only USB stick on
    its own xHCI controller (device id "bootstick")."""

    def __init__(self, iso: Path, workdir: Path, firmware: str = "bios", memory_mb: int = 1536,
                 kvm: bool = False, network_card: bool = True, extra_args: tuple[str, ...] = (),
                 medium: str = "dvd"):
        try:
            self._firmware = firmware_named(firmware)
        except ValueError as error:
            raise VmError(str(error)) from None
        if medium not in ("dvd", "usb"):
            raise VmError(f"medium must be 'dvd' or 'usb', not {medium!r}")
        self.iso, self.workdir, self.firmware, self.medium = iso, workdir, firmware, medium
        self.memory_mb, self.kvm, self.network_card = memory_mb, kvm, network_card
        self.extra_args = extra_args
        self.process: subprocess.Popen | None = None
        self._monitor: QEMUMonitorProtocol | None = None
        self.console: SerialPort | None = None
        self.shell: Shell | None = None
        self.started_at = 0.0

    def command_line(self) -> list[str]:
        w = self.workdir
        args = [
            "qemu-system-x86_64", "-machine", self._firmware.machine, "-m", str(self.memory_mb), "-smp", "1",
            "-accel", "kvm" if self.kvm else "tcg",
            "-display", "none", "-no-reboot",
            "-chardev", f"socket,id=ttyS0,path={w / 'ttyS0.sock'},server=on,wait=on",
            "-serial", "chardev:ttyS0",
            "-chardev", f"socket,id=ttyS1,path={w / 'ttyS1.sock'},server=on,wait=on",
            "-serial", "chardev:ttyS1",
            "-qmp", f"unix:{w / 'qmp.sock'},server=on,wait=off",
        ]
        if self.medium == "dvd":
            args += ["-drive", f"if=none,id=dvd,media=cdrom,readonly=on,format=raw,file={self.iso}",
                     "-device", "ide-cd,drive=dvd,id=cdrom,bootindex=0"]
        else:
            # removable=on: a stick that says it is removable, as live-media=removable requires
            args += ["-device", "qemu-xhci,id=bootxhci",
                     "-drive", f"if=none,id=stick,readonly=on,format=raw,file={self.iso}",
                     "-device", "usb-storage,bus=bootxhci.0,drive=stick,id=bootstick,removable=on,bootindex=0"]
        if self.network_card:
            # A network card the appliance must leave down; restrict=on cuts it off from the host.
            args += ["-nic", "user,model=virtio-net-pci,restrict=on"]
        else:
            args += ["-nic", "none"]
        args += self._firmware.qemu_args(w)
        return args + list(self.extra_args)

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for name in ("ttyS0.sock", "ttyS1.sock", "qmp.sock"):
            (self.workdir / name).unlink(missing_ok=True)
        with open(self.workdir / "qemu.log", "wb") as log:
            # QEMU waits (wait=on) until both serial sockets are connected: no byte is lost.
            self.process = subprocess.Popen(self.command_line(), stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
        self.started_at = time.monotonic()
        try:
            self.console = SerialPort("ttyS0", self.workdir / "ttyS0.sock", self.workdir / "ttyS0.log")
            self.shell = Shell(SerialPort("ttyS1", self.workdir / "ttyS1.sock", self.workdir / "ttyS1.log"))
            self._monitor = QEMUMonitorProtocol(str(self.workdir / "qmp.sock"))
            self._connect_monitor()
        except VmError:
            self.stop()
            raise VmError("QEMU did not start: " + (self.workdir / "qemu.log").read_text(errors="replace"))

    def _connect_monitor(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                self._monitor.connect()
                return
            except (OSError, QMPError):
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise VmError("QEMU's QMP socket never answered") from None
                time.sleep(0.2)

    def seconds_since_start(self) -> float:
        return time.monotonic() - self.started_at

    def qmp(self, command: str, **arguments) -> object:
        """One QMP command (e.g. device_add, eject, query-status); returns its result, raises
        VmError with QEMU's message if it fails."""
        reply = self._monitor.cmd_raw(command, arguments or None)
        if "error" in reply:
            raise VmError(f"QMP {command} {arguments}: {reply['error'].get('desc', reply['error'])}")
        return reply.get("return")

    def stop(self, timeout: float = 20) -> None:
        if self.process is None:
            return
        if self.process.poll() is None and self._monitor is not None:
            try:
                self.qmp("quit")
            except Exception:  # a monitor that broke is no reason not to kill QEMU below
                pass
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for closable in (self._monitor, self.console, self.shell and self.shell.port):
            if closable is not None:
                try:
                    closable.close()
                except Exception:
                    pass
        self.process = None

    def __enter__(self) -> "VirtualMachine":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
