"""FolderMedia: each subfolder of a directory stands in for a stick (`ceremony run --media DIR`).

No root, no udev, no mounting: a subfolder appearing is a stick inserted, a subfolder removed is
a stick pulled. The directory is polled, which is enough for development, tests and the demo.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from appliance.errors import MediaError
from appliance.media.source import ADDED, REMOVED, FaultHook, MediaSource, Stick, StickEvent

DEFAULT_INTERVAL = 0.1  # seconds between scans; also bounds how late a new stick is noticed


class FolderMedia(MediaSource):
    """Sticks are the visible subfolders of `root`."""

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        interval: float = DEFAULT_INTERVAL,
        on_event: Callable[[StickEvent], None] | None = None,
        fault_hook: FaultHook | None = None,
    ):
        super().__init__(on_event=on_event, fault_hook=fault_hook)
        self.root = Path(root)
        self.interval = interval

    def _begin(self) -> None:
        if not self.root.is_dir():
            why = "is not a directory" if self.root.exists() else "does not exist"
            raise MediaError(f"the media folder {self.root} {why}")
        self._rescan()

    def _watch(self) -> None:
        while not self._stopping.wait(self.interval):
            self._rescan()

    def _rescan(self) -> None:
        found = {stick.name: stick for stick in self._scan()}
        present = {stick.name: stick for stick in self.sticks()}
        for name in sorted(present.keys() - found.keys()):
            self._emit(REMOVED, present[name])
        for name in sorted(found.keys() - present.keys()):
            self._emit(ADDED, found[name])

    def _scan(self) -> list[Stick]:
        try:
            with os.scandir(self.root) as entries:
                names = [
                    e.name
                    for e in entries
                    if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)
                ]
        except OSError:
            return []  # the media folder itself went away: no sticks
        return [Stick(n, n, None, "folder", self.root / n) for n in names]

    def _still_there(self, stick: Stick) -> bool:
        return stick.path.is_dir()

    def _readable(self, stick: Stick) -> Path:
        if not self._still_there(stick):
            raise MediaError(f"{stick.describe()} is no longer present")
        return stick.path

    @contextmanager
    def _writable(self, stick: Stick) -> Iterator[Path]:
        yield self._readable(stick)

    def _release(self, stick: Stick) -> None:
        """Nothing is mounted; the folder may be removed at any time."""
