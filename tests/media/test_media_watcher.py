"""The stick watcher never dies silently (case ../shared/cases/hostile-stick/19): one bad udev
event is logged and skipped, and if the watcher stops anyway every consumer is told.

UdevMedia's real watcher thread (_watch, _consider, _stick, _emit) runs against a scripted udev
monitor; only the filter, the stale-mount check and the mount itself are stubbed (no root)."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from appliance.errors import MediaError
from appliance.media import ADDED, STOPPED, FolderMedia, UdevMedia, mount
from appliance.media import udev as udev_module

WAIT = 5.0  # an upper bound for the thread, not a timing goal


class Attributes:
    def __init__(self, size):
        self.size = size

    def asint(self, name):
        if self.size is None:
            raise KeyError(name)  # what pyudev raises for a sysfs attribute that is gone
        return self.size


class Device:
    def __init__(self, name, size, action="add"):
        self.sys_name, self.action = name, action
        self.device_node, self.device_type = f"/dev/{name}", "partition"
        self.properties = {"ID_BUS": "usb", "ID_FS_TYPE": "vfat", "ID_FS_LABEL": name.upper()}
        self.attributes = Attributes(size)


class ScriptedMonitor:
    """Hands out the scripted devices one per poll; an exception in the script is raised."""

    def __init__(self, script):
        self.script = list(script)

    def poll(self, timeout=None):
        time.sleep(0.01)
        if not self.script:
            return None
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


def scripted_media(tmp_path, monkeypatch, script, events):
    media = UdevMedia(mount_root=tmp_path / "mnt", on_event=events.append)
    monkeypatch.setattr(media, "refusal", lambda device: None)
    monkeypatch.setattr(media, "_clear_stale_mount", lambda path: None)
    monkeypatch.setattr(udev_module.mount, "mount_readonly", lambda device, path, fs_type: None)
    monkeypatch.setattr(media, "_begin", lambda: None)
    media._monitor = ScriptedMonitor(script)
    return media


def wait_for(condition):
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "the watcher did not get there"
        time.sleep(0.01)


def test_a_stick_pulled_while_it_was_looked_at_does_not_stop_the_watcher(tmp_path, monkeypatch, caplog):
    events = []
    plugged_and_pulled = Device("sdb1", None)
    good = Device("sdc1", 8_000_000_000)
    media = scripted_media(tmp_path, monkeypatch, [plugged_and_pulled, good], events)
    with caplog.at_level(logging.ERROR, logger="appliance.media.udev"):
        media.start()
        try:
            wait_for(lambda: media.sticks())
            assert media._thread.is_alive()
            assert [s.name for s in media.sticks()] == ["sdc1"]
            assert [(e.kind, e.stick.name) for e in events] == [(ADDED, "sdc1")]
            assert media.failure is None
        finally:
            media.stop()
    assert "udev event add for sdb1 skipped" in caplog.text and "KeyError: 'size'" in caplog.text


def test_a_monitor_that_fails_is_told_to_every_consumer(tmp_path, monkeypatch):
    """pyudev's monitor itself raising (ENOBUFS on a burst of events): the watcher stops, and says so."""
    events = []
    media = scripted_media(tmp_path, monkeypatch, [OSError(105, "No buffer space available")], events)
    media.start()
    try:
        wait_for(lambda: media.failure is not None)
        assert media.failure == "stick detection has stopped (OSError: [Errno 105] No buffer space available)"
        assert [(e.kind, e.stick, e.message) for e in events] == [(STOPPED, None, media.failure)]
        assert [(e.kind, e.message) for e in media.events()] == [(STOPPED, media.failure)]
    finally:
        media.stop()


def test_a_folder_watcher_that_fails_says_so_too(tmp_path, monkeypatch):
    stopped = threading.Event()

    def broken(self):
        raise RuntimeError("scanning failed")

    monkeypatch.setattr(FolderMedia, "_watch", broken)
    with FolderMedia(tmp_path, on_event=lambda event: event.kind == STOPPED and stopped.set()) as media:
        assert stopped.wait(WAIT)
        assert media.failure == "stick detection has stopped (RuntimeError: scanning failed)"


def test_a_mount_program_that_cannot_run_is_a_media_error(monkeypatch):
    """Case 18's PATH=/nonexistent: `mount` not found was a FileNotFoundError that killed the watcher."""
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(MediaError, match="mount could not be run: No such file or directory"):
        mount._run(["mount", "-o", "ro", "/dev/null", "/nonexistent"])
