"""UdevMedia: USB sticks found through udev, mounted read-only under /run/ceremony/media/<name>.

Only block devices on the USB bus carrying a vfat, exfat or ext4 filesystem are sticks
(partitions, or whole disks formatted without a partition table). Internal disks are never
mounted, nor is any disk the system has already mounted elsewhere (such as a live USB the
appliance booted from). For a write the stick is remounted read-write; afterwards it is
unmounted, its cached blocks dropped and mounted read-only again, so the read-back comes from
the medium.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pyudev

from appliance.errors import MediaError
from appliance.media import mount
from appliance.media.source import (
    ADDED,
    REMOVED,
    UNUSABLE,
    FaultHook,
    MediaSource,
    Stick,
    StickEvent,
)
from appliance.text import shown

log = logging.getLogger(__name__)

DEFAULT_MOUNT_ROOT = Path("/run/ceremony/media")
FILESYSTEMS = frozenset({"vfat", "exfat", "ext4"})
UDEV_CONTROL = "/run/udev/control"  # systemd-udevd listens here while it runs
_POLL_SECONDS = 0.5  # how often the watcher checks for stop()
_MONITOR_REOPENS = 3  # a monitor failing this many times in a row ends the watcher (and says so)


def udev_running() -> bool:
    """Whether systemd-udevd answers (its socket file outlives it, so connect rather than stat)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as probe:
        try:
            probe.connect(UDEV_CONTROL)
        except OSError:
            return False
    return True


def is_usb(device: pyudev.Device) -> bool:
    """Whether a block device sits on the USB bus."""
    return device.properties.get("ID_BUS") == "usb" or device.find_parent("usb") is not None


class UdevMedia(MediaSource):
    """USB sticks through udev and mount; needs root and a running systemd-udevd.

    `also_accept(device)` accepts chosen non-USB devices as well. It exists for the real-device
    test, which has no USB stick and passes a predicate matching its own loop device only; it is
    never the default and its use is logged.
    """

    def __init__(
        self,
        *,
        mount_root: str | os.PathLike = DEFAULT_MOUNT_ROOT,
        also_accept: Callable[[pyudev.Device], bool] | None = None,
        on_event: Callable[[StickEvent], None] | None = None,
        fault_hook: FaultHook | None = None,
    ):
        super().__init__(on_event=on_event, fault_hook=fault_hook)
        self.mount_root = Path(mount_root)
        self.also_accept = also_accept
        self._context = pyudev.Context()
        self._monitor: pyudev.Monitor | None = None
        self._mount_lock = threading.Lock()  # one mount or unmount at a time
        if also_accept is not None:
            log.warning("non-USB devices are accepted by %r (a test option, never for ceremonies)",
                        also_accept)

    def refusal(self, device: pyudev.Device) -> str | None:
        """Why this block device is not a usable stick, or None if it is one."""
        fs_type = device.properties.get("ID_FS_TYPE", "")
        if device.device_type not in ("disk", "partition") or device.device_node is None:
            return "not a disk or partition"
        if not (is_usb(device) or (self.also_accept is not None and self.also_accept(device))):
            return "not on the USB bus (internal disks are never mounted)"
        if fs_type not in FILESYSTEMS:
            return f"no supported filesystem ({fs_type or 'none'})"
        if self._disk_in_use(device):
            return "its disk is already mounted by the system"
        if self._is_boot_medium(device):
            return "its disk is a bootable ISO image (the DVD written to a stick), not a ceremony stick"
        return None

    # --- watching -------------------------------------------------------------------------

    def _begin(self) -> None:
        if os.geteuid() != 0:
            raise MediaError("mounting USB sticks needs root; for development use --media DIR")
        if not udev_running():
            raise MediaError("systemd-udevd is not running: USB sticks cannot be seen")
        self.mount_root.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Listen before listing, so a stick inserted in between is not missed.
        self._monitor = self._open_monitor()
        for device in self._context.list_devices(subsystem="block"):
            self._consider(device)

    def _open_monitor(self) -> pyudev.Monitor:
        monitor = pyudev.Monitor.from_netlink(self._context)
        monitor.filter_by("block")
        monitor.start()
        return monitor

    def _listen_again(self) -> None:
        """After the monitor failed (events lost, e.g. ENOBUFS on a burst: pyudev issue #194): a new
        monitor, then the block devices listed afresh, so no stick that came or went meanwhile is missed."""
        self._monitor = self._open_monitor()
        present = {device.sys_name: device for device in self._context.list_devices(subsystem="block")}
        for stick in self.sticks():
            if stick.name not in present:
                self._gone(stick.name)
        for device in present.values():
            try:
                self._consider(device)
            except Exception:
                log.exception("udev device %s skipped", shown(str(device.sys_name)))

    def _watch(self) -> None:
        assert self._monitor is not None
        failures = 0
        while not self._stopping.is_set():
            try:
                device = self._monitor.poll(timeout=_POLL_SECONDS)
            except Exception:
                failures += 1
                if failures >= _MONITOR_REOPENS:
                    raise  # the watcher stops, and MediaSource tells every consumer
                log.exception("udev monitor failed (%d of %d); listening again", failures, _MONITOR_REOPENS)
                self._listen_again()
                continue
            failures = 0
            if device is None:
                continue
            try:
                if device.action == "remove":
                    self._gone(device.sys_name)
                elif device.action in ("add", "change"):
                    self._consider(device)
            except Exception:
                # One device's trouble (pulled while being looked at: its sysfs attributes gone;
                # a mount that could not even start) is that device's, never the watcher's end.
                log.exception("udev event %s for %s skipped", device.action, shown(str(device.sys_name)))

    def _end(self) -> None:
        self._monitor = None

    def _consider(self, device: pyudev.Device) -> None:
        """Mount a newly usable stick; drop one whose medium or filesystem went away."""
        name = device.sys_name
        present = any(s.name == name for s in self.sticks())
        if present:
            if device.properties.get("ID_FS_TYPE", "") not in FILESYSTEMS:
                self._gone(name)  # e.g. a loop device detached, or a card taken from a reader
            return
        reason = self.refusal(device)
        if reason is not None:
            log.debug("ignoring %s: %s", device.device_node, reason)
            return
        stick = self._stick(device)
        try:
            with self._mount_lock:
                self._clear_stale_mount(stick.path)
                mount.mount_readonly(stick.device, stick.path, stick.fs_type)
        except MediaError as exc:
            mount.unmount(stick.path)  # nothing is mounted: this only removes the mount point
            self._emit(UNUSABLE, stick, f"could not be mounted: {exc}")
            return
        self._emit(ADDED, stick)

    def _gone(self, name: str) -> None:
        stick = next((s for s in self.sticks() if s.name == name), None)
        if stick is None:
            return
        try:
            with self._mount_lock:
                mount.unmount(stick.path, lazy=True)
        except MediaError as exc:
            log.error("unmounting pulled %s: %s", stick.describe(), exc)
        self._emit(REMOVED, stick)

    def _stick(self, device: pyudev.Device) -> Stick:
        return Stick(
            name=device.sys_name,
            label=device.properties.get("ID_FS_LABEL", ""),
            size=device.attributes.asint("size") * 512,  # sysfs counts 512-byte sectors
            fs_type=device.properties["ID_FS_TYPE"],
            path=self.mount_root / device.sys_name,
            device=device.device_node,
        )

    @staticmethod
    def _is_boot_medium(device: pyudev.Device) -> bool:
        """A hybrid ISO on a stick carries an ISO 9660 file system on the whole disk. Booted with
        `toram`, the appliance no longer has it mounted, so only this tells its EFI partition
        from a ceremony stick's FAT."""
        disk = device.find_parent("block", "disk") if device.device_type == "partition" else None
        return disk is not None and disk.properties.get("ID_FS_TYPE") == "iso9660"

    def _disk_in_use(self, device: pyudev.Device) -> bool:
        disk = device.find_parent("block", "disk") if device.device_type == "partition" else None
        disk = disk or device
        mounted = mount.mounted_device_numbers(excluding_under=self.mount_root)
        family = [disk, *self._context.list_devices(subsystem="block", parent=disk)]
        return any(
            (os.major(d.device_number), os.minor(d.device_number)) in mounted for d in family
        )

    @staticmethod
    def _clear_stale_mount(target: Path) -> None:
        """A mount point left mounted by a crashed run is released before reuse."""
        if os.path.ismount(target):
            log.warning("unmounting stale mount at %s", target)
            mount.unmount(target, lazy=True)

    # --- reading and writing --------------------------------------------------------------

    def _still_there(self, stick: Stick) -> bool:
        """The kernel still has the device, with a medium in it."""
        size_file = Path("/sys/class/block") / stick.name / "size"
        try:
            return int(size_file.read_text()) > 0
        except (OSError, ValueError):
            return False

    def _readable(self, stick: Stick) -> Path:
        if not self._is_present(stick) or not self._still_there(stick):
            raise MediaError(f"{stick.describe()} is no longer present")
        with self._mount_lock:
            if not os.path.ismount(stick.path):  # released earlier: mount it again, read-only
                mount.mount_readonly(stick.device, stick.path, stick.fs_type)
        return stick.path

    def _check_directory(self, stick: Stick, directory: int) -> None:
        """The directory must be the stick's filesystem, not the bare mount point under it."""
        if os.fstat(directory).st_dev != os.stat(stick.device).st_rdev:
            raise MediaError(f"{stick.describe()} is not mounted")

    @contextmanager
    def _writable(self, stick: Stick) -> Iterator[Path]:
        directory = self._readable(stick)
        with self._mount_lock:
            mount.remount(directory, writable=True)
        try:
            yield directory
        except BaseException:
            self._settle_after_failure(stick)
            raise
        self._settle(stick)

    def _settle(self, stick: Stick) -> None:
        """Unmount (which flushes everything), drop cached blocks, mount read-only again."""
        with self._mount_lock:
            mount.unmount(stick.path)
            mount.flush_buffers(stick.device)
            mount.mount_readonly(stick.device, stick.path, stick.fs_type)

    def _settle_after_failure(self, stick: Stick) -> None:
        """After a failed write: leave nothing mounted read-write (errors only logged)."""
        try:
            with self._mount_lock:
                if self._still_there(stick):
                    mount.remount(stick.path, writable=False)
                else:
                    mount.unmount(stick.path, lazy=True)
        except MediaError as exc:
            log.error("after a failed write to %s: %s", stick.describe(), exc)

    def _release(self, stick: Stick) -> None:
        with self._mount_lock:
            mount.unmount(stick.path, lazy=not self._still_there(stick))
