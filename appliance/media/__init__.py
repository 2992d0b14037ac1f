"""Media: USB sticks (or folders standing in for them), read-only reads and verified writes.

Two sources behind one interface, MediaSource:
  UdevMedia()            USB sticks through udev, mounted read-only under /run/ceremony/media/
  FolderMedia(root_dir)  each visible subfolder of root_dir is a stick (`ceremony run --media DIR`)

    with FolderMedia(path) as media:          # or UdevMedia(); start() + stop() also work
        media.sticks()                         # -> list[Stick], sorted by name
        media.poll(timeout=0.0)                # -> StickEvent | None (never blocks at 0)
        media.events()                         # -> iterator over events queued so far
        media.list_files(stick, "*.xml")       # -> list[str] (case-insensitive pattern)
        media.read_file(stick, name, max_size=DEFAULT_MAX_READ)   # -> bytes
        media.write_files(stick, {name: data}, overwrite=False)   # -> WriteReport
        media.release(stick)                   # safe to pull now

Events (StickEvent.kind): ADDED, REMOVED, UNUSABLE (seen but cannot be used; .message says why),
STOPPED (the watcher failed, .stick is None; `media.failure` says why from then on).
Pass on_event=callback to be called from the watcher thread for each event as well.
Every failure raises appliance.errors.MediaError with a plain message; a failed write raises
MediaWriteError (a MediaError) whose .report (WriteReport) lists the files verified and not.
"""

from appliance.media.folder import FolderMedia
from appliance.media.source import (
    ADDED,
    DEFAULT_MAX_READ,
    REMOVED,
    STOPPED,
    UNUSABLE,
    MediaSource,
    MediaWriteError,
    Stick,
    StickEvent,
    WriteReport,
    WrittenFile,
)

__all__ = [
    "ADDED",
    "DEFAULT_MAX_READ",
    "REMOVED",
    "STOPPED",
    "UNUSABLE",
    "FolderMedia",
    "MediaSource",
    "MediaWriteError",
    "Stick",
    "StickEvent",
    "WriteReport",
    "WrittenFile",
    "UdevMedia",
]


def __getattr__(name: str):
    # UdevMedia is imported on first use: pyudev needs libudev, which folder mode does not.
    if name == "UdevMedia":
        from appliance.media.udev import UdevMedia

        return UdevMedia
    raise AttributeError(name)
