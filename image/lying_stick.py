"""A stick that acknowledges every write and keeps none, for `make fault-test`.

nbdkit (its python plugin running image/nbdkit_drop_writes.py) serves a FAT image on a Unix
socket; QEMU reaches it as an NBD block node (hotplug.plug(..., served_by=socket)), so the guest
sees an ordinary USB stick whose writes all succeed while the image file never changes. QEMU's
own block drivers cannot do this (blkdebug fails requests, null-co reads zeros, a snapshot
overlay keeps the writes), and the host has neither device-mapper nor an NBD client in its kernel.
"""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

PLUGIN = Path(__file__).with_name("nbdkit_drop_writes.py")


class LyingStickError(Exception):
    """nbdkit would not start, or stopped serving."""


class LyingStick:
    """nbdkit serving `image` with its writes dropped, from start() to stop(). `socket` is what
    QEMU connects to; `dropped` lists every write it acknowledged and dropped; `shadow`, a copy
    of the image made at start(), has those writes applied: what an honest stick would hold."""

    def __init__(self, image: Path, workdir: Path):
        self.image, self.workdir = image, workdir
        self.socket = workdir / f"{image.stem}.nbd.sock"
        self.dropped = workdir / f"{image.stem}.dropped"
        self.shadow = workdir / f"{image.stem}.had-it-kept-its-writes.img"
        self._pidfile = workdir / f"{image.stem}.nbdkit.pid"
        self._log = workdir / f"{image.stem}.nbdkit.log"
        self._process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> None:
        """Run nbdkit in the foreground of a child process; returns once it accepts connections
        (nbdkit writes its pid file then)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        for stale in (self.socket, self._pidfile, self.dropped):
            stale.unlink(missing_ok=True)
        self.dropped.touch()
        shutil.copyfile(self.image, self.shadow)
        with open(self._log, "wb") as log:
            try:
                self._process = subprocess.Popen(
                    ["nbdkit", "--foreground", "--exit-with-parent", "--unix", str(self.socket),
                     "--pidfile", str(self._pidfile), "python", str(PLUGIN),
                     f"image={self.image}", f"dropped={self.dropped}", f"shadow={self.shadow}"],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            except OSError as error:
                raise LyingStickError(f"nbdkit could not be run (Debian: nbdkit nbdkit-plugin-python): {error}") from None
        deadline = time.monotonic() + timeout
        while not self._pidfile.exists():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise LyingStickError(f"nbdkit did not start serving {self.image.name}: "
                                      + self._log.read_text(errors="replace").strip())
            time.sleep(0.05)

    def dropped_writes(self) -> list[tuple[str, int, int]]:
        """(request, offset, length) of every write nbdkit acknowledged and dropped so far."""
        requests = []
        for line in self.dropped.read_text().splitlines():
            what, offset, length = line.split()
            requests.append((what, int(offset), int(length)))
        return requests

    def stop(self, timeout: float = 10) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def __enter__(self) -> "LyingStick":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
