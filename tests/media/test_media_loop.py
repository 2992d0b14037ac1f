"""UdevMedia against a real FAT filesystem on a loop device, real udev events and real mounts.

Needs root (marker `root`; CI runs as root). There is no USB stick here, and a loop device is
not on the USB bus, so the tests pass UdevMedia a predicate accepting only the loop device
backed by their own image file: other loop devices on the machine are never touched. If
systemd-udevd is not running (a container or build chroot does not start it), the tests start
it for themselves and stop it afterwards.

The whole cycle runs once per supported filesystem. Where the running kernel cannot mount one
(some VM kernels are built without vfat and exfat), the test still checks that udev saw the
stick and that it was reported unusable with the mount error, then skips the rest, saying so.
"""

from __future__ import annotations

import errno
import os
import subprocess
import time
from pathlib import Path

import pyudev
import pytest

from appliance.media import ADDED, REMOVED, UNUSABLE, MediaWriteError, UdevMedia
from appliance.media.udev import udev_running

pytestmark = pytest.mark.root

WAIT = 10.0  # an upper bound for udev to deliver an event, not a timing goal
REQUEST_NAME = "ksr-root-2026-q1-0.xml"
REQUEST = b"<KSR>a request</KSR>\n"
OUTPUT = {"skr-root-2026-q1-0.xml": b"<KSR-response/>\n", "ceremony-log.txt": b"log line\n" * 500}
UDEVD = [Path("/lib/systemd/systemd-udevd"), Path("/usr/lib/systemd/systemd-udevd")]


def run(*command) -> str:
    return subprocess.run(
        [str(c) for c in command], check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture(scope="module")
def udevd():
    """A running systemd-udevd: the machine's own, or one started for these tests."""
    if os.geteuid() != 0:
        pytest.skip("needs root for loop devices and mount (runs in CI as root)")
    if udev_running():
        yield
        return
    binary = next((p for p in UDEVD if p.exists()), None)
    if binary is None:
        pytest.fail("systemd-udevd is not installed (Debian package udev, see make setup)")
    daemon = subprocess.Popen([binary], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + WAIT
        while not udev_running():
            if daemon.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{binary} did not start (exit status {daemon.poll()})")
            time.sleep(0.05)
        yield
    finally:
        daemon.terminate()
        daemon.wait(timeout=WAIT)


def kernel_mounts(fs_type: str) -> bool:
    return any(line.split()[-1] == fs_type for line in open("/proc/filesystems"))


def make_image(directory: Path, fs_type: str) -> Path:
    """A 32 MiB image with a filesystem labelled CEREMONY holding one request file."""
    path = directory / f"stick-{fs_type}.img"
    with open(path, "wb") as f:
        f.truncate(32 * 1024 * 1024)
    content = directory / "content"
    content.mkdir()
    (content / REQUEST_NAME).write_bytes(REQUEST)
    if fs_type == "vfat":
        run("mkfs.vfat", "-n", "CEREMONY", path)
        run("mcopy", "-i", path, content / REQUEST_NAME, f"::{REQUEST_NAME}")
    elif fs_type == "ext4":
        run("mkfs.ext4", "-q", "-L", "CEREMONY", "-d", content, path)
    else:  # exfat has no offline copy tool: mount it once (only where the kernel can)
        run("mkfs.exfat", "-L", "CEREMONY", path)
        if kernel_mounts("exfat"):
            mount_point = directory / "populate"
            mount_point.mkdir()
            run("mount", "-t", "exfat", "-o", "loop", path, mount_point)
            try:
                (mount_point / REQUEST_NAME).write_bytes(REQUEST)
            finally:
                run("umount", mount_point)
    return path


@pytest.fixture(params=["vfat", "ext4", "exfat"])
def image(request, tmp_path):
    return make_image(tmp_path, request.param)


@pytest.fixture
def mountable_image(tmp_path):
    """An image of the first filesystem the running kernel can mount (for the other tests)."""
    fs_type = next((fs for fs in ("vfat", "ext4", "exfat") if kernel_mounts(fs)), None)
    if fs_type is None:
        pytest.fail("the kernel mounts none of vfat, ext4, exfat")
    return make_image(tmp_path, fs_type)


class Loop:
    """Attach and detach a loop device for the image; teardown detaches whatever is left."""

    def __init__(self, image: Path):
        self.image = image
        self.device: str | None = None

    def attach(self) -> str:
        self.device = run("losetup", "--find", "--show", self.image).strip()
        return self.device

    def detach(self) -> None:
        if self.device is not None:
            run("losetup", "--detach", self.device)
            self.device = None

    def accepts(self, device: pyudev.Device) -> bool:
        """The predicate given to UdevMedia: only the loop device backed by our image."""
        backing = Path("/sys/class/block", device.sys_name, "loop", "backing_file")
        try:
            return Path(backing.read_text().strip()) == self.image
        except OSError:
            return False


def attached(image: Path, tmp_path: Path):
    loop = Loop(image)
    try:
        yield loop
    finally:
        for mount_point in (tmp_path / "media").glob("*"):
            subprocess.run(["umount", "--lazy", str(mount_point)], capture_output=True)
        loop.detach()


@pytest.fixture
def loop(udevd, image, tmp_path):
    yield from attached(image, tmp_path)


@pytest.fixture
def mountable_loop(udevd, mountable_image, tmp_path):
    yield from attached(mountable_image, tmp_path)


def watching(loop: Loop, tmp_path: Path):
    with UdevMedia(mount_root=tmp_path / "media", also_accept=loop.accepts) as source:
        yield source


@pytest.fixture
def media(loop, tmp_path):
    yield from watching(loop, tmp_path)


@pytest.fixture
def mountable_media(mountable_loop, tmp_path):
    yield from watching(mountable_loop, tmp_path)


def wait_for(media, *kinds):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        event = media.poll(timeout=0.1)
        if event is not None and event.kind in kinds:
            return event
        if event is not None and event.kind == UNUSABLE:
            pytest.fail(f"stick unusable: {event.message}")
    pytest.fail(f"no {' or '.join(kinds)} event from udev within {WAIT} s")


def mount_options(path: Path) -> set[str]:
    """The per-mount options of the mount at `path`, from /proc/self/mountinfo."""
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if fields[4] == str(path):
            return set(fields[5].split(","))
    return set()


def on_the_medium(image: Path, fs_type: str, name: str, tmp_path: Path) -> bytes:
    """A file's content read from the image file itself, not through our mount."""
    if fs_type == "vfat":
        copy = tmp_path / f"copy-{name}"
        run("mcopy", "-n", "-i", image, f"::{name}", copy)
        return copy.read_bytes()
    if fs_type == "ext4":
        return subprocess.run(
            ["debugfs", "-R", f"cat /{name}", str(image)], check=True, capture_output=True
        ).stdout
    mount_point = tmp_path / "check"  # exfat: a second, independent read-only mount
    mount_point.mkdir(exist_ok=True)
    run("mount", "-t", "exfat", "-o", "ro,loop", image, mount_point)
    try:
        return (mount_point / name).read_bytes()
    finally:
        run("umount", mount_point)


def test_a_stick_is_mounted_read_only_then_written_verified_and_released(
    media, loop, image, tmp_path
):
    fs_type = image.stem.removeprefix("stick-")
    assert media.sticks() == []
    device = loop.attach()
    event = wait_for(media, ADDED, UNUSABLE)
    assert (event.stick.device, event.stick.fs_type) == (device, fs_type)
    if not kernel_mounts(fs_type):
        assert event.kind == UNUSABLE and "could not be mounted" in event.message
        assert media.sticks() == []
        # No mount point left. udev may send the device again (a "change" after the "add") and each
        # event is one more attempt, which makes and removes the directory once more: wait for the
        # attempts to end rather than look in the middle of one.
        mount_point = tmp_path / "media" / Path(device).name
        deadline = time.monotonic() + 30
        while mount_point.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not mount_point.exists()
        pytest.skip(f"this kernel cannot mount {fs_type} (seen by udev, reported unusable)")
    assert event.kind == ADDED, event.message
    stick = event.stick
    assert stick.label == "CEREMONY"
    assert stick.size == 32 * 1024 * 1024
    assert stick.path == tmp_path / "media" / Path(device).name
    assert media.sticks() == [stick]

    assert {"ro", "nodev", "nosuid", "noexec"} <= mount_options(stick.path)
    assert media.list_files(stick) == [REQUEST_NAME]
    assert media.read_file(stick, REQUEST_NAME) == REQUEST
    with pytest.raises(OSError) as refused:
        (stick.path / "attempt.txt").write_bytes(b"not allowed")
    assert refused.value.errno == errno.EROFS

    report = media.write_files(stick, OUTPUT)
    assert report.complete
    assert [f.name for f in report.verified] == list(OUTPUT)
    assert {"ro", "nodev", "nosuid", "noexec"} <= mount_options(stick.path)  # read-only again

    media.release(stick)
    assert not os.path.ismount(stick.path)
    for name, data in OUTPUT.items():
        assert on_the_medium(loop.image, fs_type, name, tmp_path) == data
    assert media.read_file(stick, "ceremony-log.txt") == OUTPUT["ceremony-log.txt"]  # remounts


def test_a_stick_pulled_before_the_write_is_reported_removed(mountable_media, mountable_loop):
    mountable_loop.attach()
    stick = wait_for(mountable_media, ADDED).stick
    mountable_media.release(stick)
    mountable_loop.detach()
    assert wait_for(mountable_media, REMOVED).stick == stick
    assert mountable_media.sticks() == []
    with pytest.raises(MediaWriteError) as raised:
        mountable_media.write_files(stick, OUTPUT)
    report = raised.value.report
    assert report.reason == "the stick was removed"
    assert report.not_written == tuple(OUTPUT)


def test_by_default_only_usb_devices_are_sticks(mountable_loop, tmp_path):
    device = mountable_loop.attach()
    run("udevadm", "settle")
    with UdevMedia(mount_root=tmp_path / "media") as media:
        assert media.sticks() == []
        context = pyudev.Context()
        ours = pyudev.Devices.from_device_file(context, device)
        assert ours.properties.get("ID_FS_TYPE")  # udev saw the filesystem
        assert media.refusal(ours) == "not on the USB bus (internal disks are never mounted)"
        for other in context.list_devices(subsystem="block"):
            if other.properties.get("ID_BUS") != "usb":
                assert media.refusal(other) is not None, other.device_node
    assert not (tmp_path / "media" / Path(device).name).exists()


def test_a_stick_pulled_during_the_write_is_reported_with_what_was_written(
    mountable_loop, tmp_path
):
    """The medium vanishes under the mounted filesystem: the image shrinks to nothing."""

    def pull_before_the_log(step, stick, name):
        if (step, name) == ("write", "ceremony-log.txt"):
            os.truncate(mountable_loop.image, 0)
            run("losetup", "--set-capacity", stick.device)

    with UdevMedia(
        mount_root=tmp_path / "media",
        also_accept=mountable_loop.accepts,
        fault_hook=pull_before_the_log,
    ) as media:
        mountable_loop.attach()
        stick = wait_for(media, ADDED).stick
        with pytest.raises(MediaWriteError) as raised:
            media.write_files(stick, OUTPUT)
        report = raised.value.report
        assert report.reason == "the stick was removed"
        assert report.verified == ()
        assert report.unverified == ("skr-root-2026-q1-0.xml",)
        assert report.not_written == ("ceremony-log.txt",)
        assert wait_for(media, REMOVED).stick == stick
        assert not os.path.ismount(stick.path)


def test_a_medium_that_does_not_hold_what_the_kernel_cached_is_caught(mountable_loop, tmp_path):
    """A stick that lies: the kernel holds the response's pages, the medium holds other bytes
    (changed in the image file behind the mounted filesystem). The read-back drops the cached
    pages and reads the device (O_DIRECT), so the write is NOT reported verified; a read-back
    served from the page cache would have reported it verified."""
    response = "skr-root-2026-q1-0.xml"
    payload = b"<KSR-response>" + os.urandom(6000).hex().encode() + b"</KSR-response>\n"

    def medium_differs_from_the_cache(step, stick, name):
        if (step, name) == ("verify", response):
            assert (stick.path / name).read_bytes() == payload  # now in the page cache
            image = mountable_loop.image.read_bytes()
            at = image.find(payload[:64])
            assert at >= 0, "the response's bytes are not in the image"
            with open(mountable_loop.image, "r+b") as medium:
                medium.seek(at + 100)
                medium.write(b"X" * 16)
                medium.flush()
                os.fsync(medium.fileno())

    with UdevMedia(
        mount_root=tmp_path / "media",
        also_accept=mountable_loop.accepts,
        fault_hook=medium_differs_from_the_cache,
    ) as media:
        mountable_loop.attach()
        stick = wait_for(media, ADDED).stick
        with pytest.raises(MediaWriteError, match="read back as SHA-256") as raised:
            media.write_files(stick, {response: payload, "ceremony-log.txt": b"log\n"})
        report = raised.value.report
        assert report.verified == ()
        assert report.unverified == (response, "ceremony-log.txt")
        media.release(stick)
