"""Test helpers that catch a file being reached outside the bytes or the folder a test hands over.

`OpenWatch` reports every open(2) of a file in watched folders, whoever does it (Python, or
libxml2 in C): Linux inotify IN_OPEN, through ctypes (no dependency). `no_reader(fifo)` tells
whether anything holds a FIFO open for reading (or is blocked opening it), and frees such a reader.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import struct
import threading
from pathlib import Path

_IN_OPEN = 0x00000020
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len (struct inotify_event)
_libc = ctypes.CDLL(None, use_errno=True)


class OpenWatch:
    """Use as a context manager; `opened()` lists the paths opened in the watched folders so far."""

    def __init__(self, *folders: Path):
        self._folders = [Path(f) for f in folders]
        self._fd = -1
        self._watches: dict[int, Path] = {}

    def __enter__(self) -> OpenWatch:
        self._fd = _libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        for folder in self._folders:
            wd = _libc.inotify_add_watch(self._fd, os.fsencode(folder), _IN_OPEN)
            if wd < 0:
                raise OSError(ctypes.get_errno(), f"inotify_add_watch {folder}")
            self._watches[wd] = folder
        return self

    def __exit__(self, *exc) -> None:
        os.close(self._fd)

    def opened(self) -> list[Path]:
        found = []
        while True:
            try:
                buffer = os.read(self._fd, 65536)
            except BlockingIOError:
                return found
            offset = 0
            while offset < len(buffer):
                wd, _mask, _cookie, length = _EVENT.unpack_from(buffer, offset)
                name = buffer[offset + _EVENT.size: offset + _EVENT.size + length].rstrip(b"\0")
                offset += _EVENT.size + length
                found.append(self._watches[wd] / os.fsdecode(name) if name else self._watches[wd])


def no_reader(fifo: Path) -> bool:
    """True when no one has `fifo` open for reading; otherwise opens it for writing (freeing a
    reader blocked in open(2)) and returns False. True too when `fifo` is no longer a FIFO (a
    write renamed a file over it)."""
    try:
        if not stat.S_ISFIFO(os.lstat(fifo).st_mode):
            return True
    except FileNotFoundError:
        return True
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            return True
        raise
    os.close(fd)
    return False


class FifoGuard:
    """Frees anything blocked opening these FIFOs (for reading or for writing) after `after`
    seconds, so that a test of code that would block for good fails instead of hanging.
    `fired` tells whether anyone was blocked on a FIFO when the time came."""

    def __init__(self, *fifos: Path, after: float = 30.0):
        self._fifos = fifos
        self._timer = threading.Timer(after, self._free)
        self._held: list[int] = []
        self.fired = False

    def _free(self) -> None:
        for fifo in self._fifos:
            if not no_reader(fifo):  # a reader was blocked: it has a writer now
                self.fired = True
            try:
                # A writer blocked in open(2) waits for a reader: give it one, kept open so its
                # writes land in the pipe instead of failing.
                self._held.append(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
            except OSError:
                continue

    def __enter__(self) -> FifoGuard:
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()
        for fd in self._held:
            os.close(fd)
