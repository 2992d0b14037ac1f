"""The host side of the QEMU test's HSM: the token stays on the host, the guest reaches it only
through PKCS#11, carried by p11-kit's RPC protocol over a virtio serial port.

    guest: ceremony -> p11-kit-client.so -> pkcs11-over-virtio-serial (sh + cat)
           -> /dev/virtio-ports/org.ceremony.hsm
    QEMU:  virtserialport <-> chardev socket <workdir>/hsm.sock
    host:  HsmBridge <-> `p11-kit remote <module>` (SoftHSM here, any PKCS#11 module in general)

A p11-kit RPC session starts with the client's first byte and has no end marker of its own: over
a pipe, the server sees end of file. A virtio port never gives the host an end of file, so the
bridge learns that a session ended from QEMU's VSERPORT_CHANGE event (the guest closed the port,
on its own QMP monitor), ends that `p11-kit remote`, and starts a fresh one at the next byte.
QEMU throttles that event to one a second per port, so a guest that closes and reopens the port
within a second would reach the old server; the ceremony opens the HSM once per run.

A fault test pulls the link: `drop_now()`, or `drop_at(n)` (at the guest's C_SignInit of its
signature n + 1, read from the stream by image.pkcs11_rpc, the call not passed on), closes the
bridge's end of the port's socket and ends the server, as a cable pulled would; the guest sees the
host side of the port close. `reconnect()` connects again, and the guest's next session gets a
fresh server.
"""
from __future__ import annotations

import json
import os
import select
import subprocess
import threading
import time
from pathlib import Path

from image.pkcs11_rpc import CallReader
from image.qemu import connect_when_ready

PORT_NAME = "org.ceremony.hsm"  # the guest script's default: /dev/virtio-ports/org.ceremony.hsm
PORT_ID = "hsm-port"
GUEST_MODULE = "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so"
GUEST_TRANSPORT = "|/usr/local/libexec/ceremony/pkcs11-over-virtio-serial"


class BridgeError(Exception):
    """The bridge could not reach QEMU or start the PKCS#11 server."""


def guest_hsm_table(token_label: str) -> str:
    """The [hsm] table of a ceremony configuration that reaches the host's token from the guest."""
    return (f'[hsm]\nmodule = "{GUEST_MODULE}"\ntoken = "{token_label}"\n'
            f'[hsm.environment]\nP11_KIT_SERVER_ADDRESS = "{GUEST_TRANSPORT}"\n')


class _QemuGone(Exception):
    """QEMU closed its end: the VM stopped."""


class HsmBridge:
    """Serves the PKCS#11 module `module` (with `environment`, e.g. SOFTHSM2_CONF) to the guest."""

    def __init__(self, workdir: Path, module: str, environment: dict[str, str]):
        self.workdir, self.module, self.environment = workdir, module, environment
        self.data_path = workdir / "hsm.sock"
        self.events_path = workdir / "hsm-qmp.sock"
        self.log_path = workdir / "hsm-bridge.log"
        self.sessions = 0  # `p11-kit remote` processes started: one per guest session
        self.bytes_to_guest = self.bytes_from_guest = 0
        self._server: subprocess.Popen | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._log = None
        self.failure: str | None = None  # why the pump stopped early, if it did
        self._data = None
        self._calls = CallReader()
        self._signatures = 0  # C_SignInit calls passed on in this session
        self._cue: int | None = None  # drop the link at the C_SignInit after this many signatures
        self._drop_pending = False  # drop_now() asked, the pump thread does it
        self.dropped = threading.Event()  # set when a drop happened (cleared by reconnect)

    def qemu_args(self) -> tuple[str, ...]:
        """QEMU options: a virtio serial port on a socket we connect to, and a QMP monitor of ours
        for the port's open/close events (the harness keeps its own monitor for commands)."""
        return ("-device", "virtio-serial-pci,id=hsm-serial",
                "-chardev", f"socket,id=hsm,path={self.data_path},server=on,wait=off",
                "-device", f"virtserialport,bus=hsm-serial.0,chardev=hsm,name={PORT_NAME},id={PORT_ID}",
                "-qmp", f"unix:{self.events_path},server=on,wait=off")

    def start(self) -> None:
        """After QEMU started: connect both sockets and pump in a thread until stop()."""
        self._log = open(self.log_path, "ab")
        self._data = connect_when_ready(self.data_path, BridgeError, "the HSM port")
        self._events = connect_when_ready(self.events_path, BridgeError, "the QMP socket")
        self._events_file = self._events.makefile("rwb", buffering=0)
        self._qmp_handshake()
        self._thread = threading.Thread(target=self._pump, name="hsm-bridge", daemon=True)
        self._thread.start()

    def _qmp_handshake(self) -> None:
        greeting = json.loads(self._events_file.readline())
        if "QMP" not in greeting:
            raise BridgeError(f"not a QMP greeting on {self.events_path}: {greeting}")
        self._events.sendall(b'{"execute": "qmp_capabilities"}\n')
        reply = json.loads(self._events_file.readline())
        if "return" not in reply:
            raise BridgeError(f"QMP refused capabilities negotiation: {reply}")
        self._events.setblocking(False)
        self._events_buffer = b""

    def _note(self, text: str) -> None:
        self._log.write(f"{time.strftime('%H:%M:%S')} {text}\n".encode())
        self._log.flush()

    def drop_now(self) -> None:
        """Pull the link: the guest sees the port's host side close."""
        self._drop_pending = True

    def drop_at(self, signatures: int) -> None:
        """Pull the link when the guest asks for the signature after `signatures` of this session."""
        self._cue, self._drop_pending = signatures, False

    def reconnect(self) -> None:
        """Plug the link in again after a drop."""
        self._data = connect_when_ready(self.data_path, BridgeError, "the HSM port")
        self.dropped.clear()
        self._note("link reconnected")

    def _drop(self, why: str) -> None:
        self._cue, self._drop_pending = None, False
        data, self._data = self._data, None
        if data is not None:
            data.close()
        self._note(f"link dropped: {why}")
        self._end_server("the link was dropped")
        self.dropped.set()

    def _start_server(self) -> None:
        self.sessions += 1
        self._calls, self._signatures = CallReader(), 0
        self._note(f"session {self.sessions}: p11-kit remote {self.module}")
        try:
            self._server = subprocess.Popen(["p11-kit", "remote", self.module], stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=self._log,
                                            env={**os.environ, **self.environment})
        except FileNotFoundError:
            raise BridgeError("p11-kit is missing on the host (Debian package p11-kit)") from None

    def _end_server(self, why: str) -> None:
        if self._server is None:
            return
        self._note(f"session {self.sessions} ends: {why}")
        self._server.stdin.close()
        try:
            self._server.wait(5)
        except subprocess.TimeoutExpired:
            self._server.kill()
            self._server.wait()
        self._server.stdout.close()
        self._server = None

    def _pump(self) -> None:
        try:
            while not self._stop.is_set():
                if self._drop_pending:
                    self._drop("on cue, with no call in progress")
                data = self._data  # None while the link is dropped
                watched = [self._events] + ([data] if data else []) + ([self._server.stdout] if self._server else [])
                ready, _, _ = select.select(watched, [], [], 0.5)
                # Events first: a close that arrived with the next session's bytes must end the
                # old server before those bytes are handed on.
                if self._events in ready:
                    self._read_events()
                if self._server is not None and self._server.stdout in ready:
                    answer = os.read(self._server.stdout.fileno(), 65536)
                    if answer and data is not None:
                        data.sendall(answer)
                        self.bytes_to_guest += len(answer)
                    else:
                        self._end_server("the server closed its output")
                if data is not None and data in ready:
                    request = data.recv(65536)
                    if not request:
                        raise _QemuGone("QEMU closed the port's socket")
                    if self._server is None:
                        self._start_server()
                    if self._cued(request):
                        continue
                    self._server.stdin.write(request)
                    self._server.stdin.flush()
                    self.bytes_from_guest += len(request)
        except _QemuGone as gone:  # the VM ended: the normal end of the bridge
            self._note(str(gone))
        except (OSError, BridgeError, ValueError) as error:
            if not self._stop.is_set():
                self.failure = f"HSM bridge stopped: {error}"
                self._note(self.failure)
        finally:
            self._end_server("bridge stopped")

    def _cued(self, request: bytes) -> bool:
        """Whether these bytes reach the call at which the cue drops the link (then it is dropped)."""
        for call in self._calls.feed(request):
            if call == "C_SignInit":
                if self._cue is not None and self._signatures >= self._cue:
                    self._drop(f"at the guest's C_SignInit after {self._signatures} signature(s)")
                    return True
                self._signatures += 1
        return False

    def _read_events(self) -> None:
        chunk = self._events.recv(65536)
        if not chunk:
            raise _QemuGone("QEMU closed the bridge's QMP monitor")
        self._events_buffer += chunk
        *lines, self._events_buffer = self._events_buffer.split(b"\n")
        for line in lines:
            if not line.strip():
                continue
            message = json.loads(line)
            data = message.get("data", {})
            if message.get("event") == "VSERPORT_CHANGE" and data.get("id") == PORT_ID:
                self._note(f"guest {'opened' if data.get('open') else 'closed'} the port")
                if not data.get("open"):
                    self._end_server("the guest closed the port")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        for closable in (getattr(self, "_events_file", None), getattr(self, "_events", None),
                         getattr(self, "_data", None), self._log):
            if closable is not None:
                closable.close()
