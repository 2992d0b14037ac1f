"""What every media source shares: sticks, events, verified writes, and the watcher thread.

A source watches for sticks in a background thread and posts StickEvents to a queue; the
console polls that queue (never blocking its own loop) or passes `on_event`, which the thread
calls for each event (give it something thread-safe such as `loop.call_soon_threadsafe`).

Every operation on a stick either succeeds completely or raises MediaError with a plain
message; a failed write raises MediaWriteError, whose `report` says which files were written
and verified and which were not.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from appliance.errors import MediaError
from appliance.media import files
from appliance.text import shown

log = logging.getLogger(__name__)

ADDED = "added"
REMOVED = "removed"
UNUSABLE = "unusable"  # a stick was seen but cannot be used (e.g. it would not mount)
STOPPED = "stopped"  # the watcher itself failed: no stick will be seen coming or going any more

STICK_NAME_LIMIT = 40  # columns for a kernel name or a volume label on the operator's screen
DEFAULT_MAX_READ = 16 * 1024 * 1024  # the largest real KSR is well under 1 MiB

# fault_hook(step, stick, name) is called before each step of a write; tests use it to pull a
# stick at a precise moment. Steps: "write" (before writing `name`), "verify" (before reading
# `name` back).
FaultHook = Callable[[str, "Stick", str], None]


@dataclass(frozen=True)
class Stick:
    """One stick the operator can use: a mounted USB filesystem, or a folder standing in for one."""

    name: str  # unique while present: the kernel name ("sdb1") or the folder name
    label: str  # the filesystem label (may be empty) or the folder name
    size: int | None  # bytes, when known
    fs_type: str  # "vfat", "exfat", "ext4", or "folder"
    path: Path  # where its files are: the mount point or the folder
    device: str | None = None  # the device node ("/dev/sdb1"); None for a folder

    def describe(self) -> str:
        """A short phrase for the operator, e.g. `stick sdb1 "KSR" (vfat, 7.8 GB)`."""
        parts = [self.fs_type]
        if self.size:
            parts.append(_decimal_size(self.size))
        # The kernel's name and the label (chosen by whoever formatted the stick) are shown escaped.
        label = f' "{shown(self.label, limit=STICK_NAME_LIMIT)}"' if self.label and self.label != self.name else ""
        return f"stick {shown(self.name, limit=STICK_NAME_LIMIT)}{label} ({', '.join(parts)})"


def _decimal_size(size: int) -> str:
    """Size in decimal units, as sticks are sold: 7.8 GB, 33.6 MB."""
    for unit in ("bytes", "kB", "MB", "GB"):
        if size < 1000:
            break
        size /= 1000
    else:
        unit = "TB"
    return f"{size} bytes" if unit == "bytes" else f"{size:.1f} {unit}"


@dataclass(frozen=True)
class StickEvent:
    """A stick was added, removed, or seen but unusable (`message` says why); or the watcher
    stopped (STOPPED, no stick; `message` says why)."""

    kind: str  # ADDED, REMOVED, UNUSABLE or STOPPED
    stick: Stick | None
    message: str = ""


@dataclass(frozen=True)
class WrittenFile:
    """A file written to a stick and read back identical."""

    name: str
    size: int
    sha256: str  # hex


@dataclass(frozen=True)
class WriteReport:
    """The outcome of write_files: what is now verified on the stick and what is not."""

    stick: Stick
    verified: tuple[WrittenFile, ...]  # written and read back identical
    unverified: tuple[str, ...] = ()  # written under the final name, but not read back identical
    not_written: tuple[str, ...] = ()  # never reached the final name
    reason: str = ""  # why not everything was verified

    @property
    def complete(self) -> bool:
        return not (self.unverified or self.not_written)

    def describe(self) -> str:
        """Plain lines for the operator and the log."""
        lines = []
        if self.reason:
            lines.append(f"Writing to {self.stick.describe()} failed: {shown(self.reason.rstrip('.'), limit=None)}.")
        if self.verified:
            lines.append("Written and verified by reading back:")
            lines += [f"  {shown(f.name)} ({f.size} bytes, SHA-256 {f.sha256})" for f in self.verified]
        if self.unverified:
            lines.append("Written but NOT verified (do not rely on these copies):")
            lines += [f"  {shown(name)}" for name in self.unverified]
        if self.not_written:
            lines.append("NOT written:")
            lines += [f"  {shown(name)}" for name in self.not_written]
        return "\n".join(lines)


class MediaWriteError(MediaError):
    """A write that did not complete; `report` lists what was and was not written."""

    def __init__(self, report: WriteReport):
        super().__init__(report.describe())
        self.report = report


class MediaSource(ABC):
    """Sticks that come and go, and verified reads and writes on them.

    Use as a context manager (or call start() and stop()). start() finds the sticks already
    present, so sticks() is right as soon as it returns; their ADDED events are queued too.
    """

    def __init__(
        self,
        *,
        on_event: Callable[[StickEvent], None] | None = None,
        fault_hook: FaultHook | None = None,
    ):
        self._on_event = on_event
        self._fault_hook = fault_hook
        self._events: queue.SimpleQueue[StickEvent] = queue.SimpleQueue()
        self._present: dict[str, Stick] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.failure: str | None = None  # set when the watcher has stopped on its own: why

    # --- the watcher --------------------------------------------------------------------

    def start(self) -> None:
        """Find the sticks present now, then watch for changes in a background thread."""
        if self._thread is not None:
            return
        self._stopping.clear()
        try:
            self._begin()
        except BaseException:
            for stick in self.sticks():  # leave nothing mounted behind a failed start
                self._forget(stick)
            raise
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching and release every stick."""
        if self._thread is None:
            return
        self._stopping.set()
        self._thread.join()
        self._thread = None
        for stick in self.sticks():
            self._forget(stick)
        self._end()

    def __enter__(self) -> MediaSource:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def sticks(self) -> list[Stick]:
        """The sticks present now, sorted by name."""
        with self._lock:
            return sorted(self._present.values(), key=lambda s: s.name)

    def poll(self, timeout: float = 0.0) -> StickEvent | None:
        """The next event, waiting at most `timeout` seconds (0: never block); None if none."""
        try:
            if timeout <= 0:
                return self._events.get_nowait()
            return self._events.get(timeout=timeout)
        except queue.Empty:
            return None

    def events(self) -> Iterator[StickEvent]:
        """Every event queued so far, without blocking."""
        while (event := self.poll()) is not None:
            yield event

    def _run(self) -> None:
        try:
            self._watch()
        except Exception as exc:  # the watcher must never take the console down with it...
            log.exception("media watcher stopped unexpectedly")
            # ... nor stop unnoticed: the operators would wait for a stick that is already in.
            self.failure = f"stick detection has stopped ({type(exc).__name__}: {shown(str(exc))})"
            self._emit(STOPPED, None, self.failure)

    def _emit(self, kind: str, stick: Stick | None, message: str = "") -> None:
        with self._lock:
            if kind == ADDED:
                self._present[stick.name] = stick
            elif kind == REMOVED:
                self._present.pop(stick.name, None)
        event = StickEvent(kind, stick, message)
        log.info("%s %s %s", stick.describe() if stick else "media watcher", kind, message)
        self._events.put(event)
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:  # a faulty callback must not stop the watcher
                log.exception("on_event callback failed for %s", event)

    def _is_present(self, stick: Stick) -> bool:
        with self._lock:
            return self._present.get(stick.name) == stick

    # --- reading and writing ------------------------------------------------------------

    def list_files(self, stick: Stick, suffix: str = ".xml", *, regular_only: bool = True) -> list[str]:
        """Visible names at the top of the stick ending in `suffix` (any case; "" for all), sorted:
        regular files only, unless `regular_only` is false (then FIFOs, links, folders too)."""
        try:
            with self._opened(stick) as directory:
                return files.list_names(directory, suffix, regular_only=regular_only)
        except OSError as exc:
            raise self._gone_or(stick, f"cannot list the files on {stick.describe()}: {exc.strerror or exc}")

    def find_file(self, stick: Stick, name: str) -> str | None:
        """The name on the stick that is `name` ignoring case (literally: no pattern), or None."""
        try:
            with self._opened(stick) as directory:
                return files.find_name(directory, name)
        except OSError as exc:
            raise self._gone_or(stick, f"cannot list the files on {stick.describe()}: {exc.strerror or exc}")

    def read_file(self, stick: Stick, name: str, max_size: int = DEFAULT_MAX_READ) -> bytes:
        """The bytes of one regular file at the top of the stick; refuses files over `max_size` bytes."""
        try:
            with self._opened(stick) as directory:
                return files.read_capped(directory, name, max_size)
        except OSError as exc:
            raise self._gone_or(stick, f"cannot read {shown(name)} from {stick.describe()}: {exc.strerror or exc}")

    def still_there(self, stick: Stick) -> bool:
        """Whether the stick is physically present now (not from the last event)."""
        return self._still_there(stick)

    def write_files(
        self, stick: Stick, contents: Mapping[str, bytes], *, overwrite: bool = False
    ) -> WriteReport:
        """Write each file (temp name, fsync, rename, fsync dir), then read each back and compare.

        Returns the report when every file verified; raises MediaWriteError (a MediaError) with
        the report otherwise. Existing files are refused unless `overwrite` is set: nothing is
        written then.
        """
        names = [files.check_name(name) for name in contents]
        written: list[str] = []
        try:
            # Compared ignoring case: on FAT "skr.xml" and "SKR.XML" are the same file.
            on_stick = {n.casefold() for n in self.list_files(stick, "", regular_only=False)}
            existing = [n for n in names if n.casefold() in on_stick]
            if existing and not overwrite:
                raise MediaError(f"already on the stick, not overwritten: {', '.join(map(shown, existing))}")
            # The directory is closed before _writable's exit unmounts.
            with self._writable(stick) as path, files.opened_directory(path) as directory:
                self._check_directory(stick, directory)
                for name in names:
                    self._fault("write", stick, name)
                    files.write_atomic(directory, name, contents[name])
                    written.append(name)
        except (OSError, MediaError) as exc:
            raise self._write_failed(stick, names, written, (), exc)
        return self._verify(stick, contents)

    def release(self, stick: Stick) -> None:
        """Finish with a stick: after this it may be pulled (a later read mounts it again)."""
        self._release(stick)

    def _verify(self, stick: Stick, contents: Mapping[str, bytes]) -> WriteReport:
        verified: list[WrittenFile] = []
        try:
            with self._opened(stick) as directory:
                for name, data in contents.items():
                    self._fault("verify", stick, name)
                    expected = hashlib.sha256(data).hexdigest()
                    try:
                        actual = files.sha256_from_medium(directory, name, max_size=len(data))
                    except FileNotFoundError:
                        raise MediaError(f"{shown(name)} is not on the stick when read back: the stick "
                                         "acknowledged the write but did not keep it") from None
                    if actual != expected:
                        raise MediaError(f"{shown(name)} read back as SHA-256 {actual}, not {expected}")
                    verified.append(WrittenFile(name, len(data), expected))
        except (OSError, MediaError) as exc:
            raise self._write_failed(stick, list(contents), list(contents), verified, exc)
        report = WriteReport(stick, tuple(verified))
        log.info("%s", report.describe())
        return report

    def _write_failed(
        self,
        stick: Stick,
        names: list[str],
        written: list[str],
        verified: list[WrittenFile],
        error: Exception,
    ) -> MediaWriteError:
        log.error("write to %s failed: %s", stick.describe(), error)
        reason = "the stick was removed" if not self._still_there(stick) else str(error)
        done = {f.name for f in verified}
        report = WriteReport(
            stick,
            tuple(verified),
            unverified=tuple(n for n in written if n not in done),
            not_written=tuple(n for n in names if n not in written),
            reason=reason,
        )
        log.error("%s", report.describe())
        return MediaWriteError(report)

    @contextmanager
    def _opened(self, stick: Stick) -> Iterator[int]:
        with files.opened_directory(self._readable(stick)) as directory:
            self._check_directory(stick, directory)
            yield directory

    def _gone_or(self, stick: Stick, message: str) -> MediaError:
        if not self._still_there(stick):
            return MediaError(f"{stick.describe()} was removed; {message}")
        return MediaError(message)

    def _fault(self, step: str, stick: Stick, name: str) -> None:
        if self._fault_hook is not None:
            self._fault_hook(step, stick, name)

    # --- what each kind of source provides ---------------------------------------------

    @abstractmethod
    def _begin(self) -> None:
        """Prepare watching and emit ADDED for the sticks present now (in the caller's thread)."""

    @abstractmethod
    def _watch(self) -> None:
        """Emit events until self._stopping is set (in the watcher thread)."""

    def _end(self) -> None:
        """Undo _begin, after the watcher thread has stopped."""

    @abstractmethod
    def _still_there(self, stick: Stick) -> bool:
        """Whether the stick is still physically present (checked now, not from the last event)."""

    @abstractmethod
    def _readable(self, stick: Stick) -> Path:
        """The directory to read the stick's files from; raises MediaError if it is gone."""

    def _check_directory(self, stick: Stick, directory: int) -> None:
        """Raise MediaError if the open directory is not on the stick (e.g. an empty mount point)."""

    @abstractmethod
    @contextmanager
    def _writable(self, stick: Stick) -> Iterator[Path]:
        """The directory to write into; on exit the writes must be on the medium itself."""

    @abstractmethod
    def _release(self, stick: Stick) -> None:
        """Make the stick safe to pull."""

    def _forget(self, stick: Stick) -> None:
        """Release and drop a stick when the source stops (errors are logged, never raised)."""
        with self._lock:
            self._present.pop(stick.name, None)
        try:
            self._release(stick)
        except MediaError as exc:
            log.warning("releasing %s on stop: %s", stick.describe(), exc)
