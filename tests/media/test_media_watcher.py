"""The stick watcher never dies silently (case ../shared/cases/hostile-stick/19): one bad udev
event is logged and skipped, and if the watcher stops anyway every consumer is told.

UdevMedia's real watcher thread (_watch, _consider, _stick, _emit) runs against a scripted udev
monitor; only the filter, the stale-mount check, mount and unmount, and (after a monitor failure)
opening a new monitor and listing the devices are stubbed (no root)."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from appliance.errors import MediaError
from appliance.media import ADDED, REMOVED, STOPPED, FolderMedia, UdevMedia, mount
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
    monkeypatch.setattr(udev_module.mount, "unmount", lambda path, lazy=False: None)
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


class Listing:
    """The part of pyudev.Context the re-listing after a monitor failure reads."""

    def __init__(self, devices):
        self.devices = devices

    def list_devices(self, subsystem):
        return list(self.devices)


def test_a_failing_monitor_is_opened_again_and_the_devices_listed_afresh(tmp_path, monkeypatch, caplog):
    """pyudev's monitor itself raising (ENOBUFS on a burst of events, pyudev issue #194): events were
    lost, so a new monitor is opened and the block devices are listed again."""
    events = []
    pulled = Device("sdb1", 8_000_000_000)
    media = scripted_media(tmp_path, monkeypatch, [pulled, OSError(105, "No buffer space available")], events)
    arrived_meanwhile = Device("sdc1", 8_000_000_000)
    monkeypatch.setattr(media, "_context", Listing([arrived_meanwhile]))  # sdb1 went while events were lost
    reopened = []
    monkeypatch.setattr(media, "_open_monitor", lambda: reopened.append(1) or ScriptedMonitor([]))
    with caplog.at_level(logging.ERROR, logger="appliance.media.udev"):
        media.start()
        try:
            wait_for(lambda: [s.name for s in media.sticks()] == ["sdc1"])
            assert reopened == [1] and media._thread.is_alive() and media.failure is None
            assert [(e.kind, e.stick.name) for e in events] == [(ADDED, "sdb1"), (REMOVED, "sdb1"), (ADDED, "sdc1")]
        finally:
            media.stop()
    assert "udev monitor failed (1 of 3); listening again" in caplog.text


def test_a_monitor_that_keeps_failing_is_told_to_every_consumer(tmp_path, monkeypatch):
    events = []
    broken = [OSError(105, "No buffer space available")]
    media = scripted_media(tmp_path, monkeypatch, broken, events)
    monkeypatch.setattr(media, "_context", Listing([]))
    monkeypatch.setattr(media, "_open_monitor", lambda: ScriptedMonitor(list(broken)))
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
