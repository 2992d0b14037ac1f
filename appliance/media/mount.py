"""Mounting sticks: read-only by default, read-write only for the duration of a write.

util-linux `mount`/`umount` do the work; the filesystem type is always given explicitly (never
guessed) and every mount carries nodev,nosuid,noexec.
"""

from __future__ import annotations

import fcntl
import logging
import os
import subprocess
from pathlib import Path

from appliance.errors import MediaError

log = logging.getLogger(__name__)

SAFE_OPTIONS = "nodev,nosuid,noexec"
BLKFLSBUF = 0x1261  # <linux/fs.h>: drop the block device's buffer cache


def mount_readonly(device: str, target: Path, fs_type: str) -> None:
    """Mount `device` read-only at `target` (created if missing)."""
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    _run(["mount", "-t", fs_type, "-o", f"ro,{SAFE_OPTIONS}", device, str(target)])


def remount(target: Path, *, writable: bool) -> None:
    """Switch a mounted stick between read-only and read-write."""
    mode = "rw" if writable else "ro"
    _run(["mount", "-o", f"remount,{mode},{SAFE_OPTIONS}", str(target)])


def unmount(target: Path, *, lazy: bool = False) -> None:
    """Unmount (lazily when the device is already gone) and remove the mount point."""
    if os.path.ismount(target):
        _run(["umount", *(["--lazy"] if lazy else []), str(target)])
    try:
        target.rmdir()
    except FileNotFoundError:
        pass
    except OSError as exc:  # harmless: the next mount reuses it
        log.warning("mount point %s left in place: %s", target, exc)


def flush_buffers(device: str) -> None:
    """Drop the kernel's cached blocks of `device`, so the next read comes from the medium."""
    fd = os.open(device, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(fd, BLKFLSBUF, 0)
    finally:
        os.close(fd)


def mounted_device_numbers(excluding_under: Path) -> set[tuple[int, int]]:
    """(major, minor) of every device mounted anywhere except below `excluding_under`."""
    numbers = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()  # see proc(5): field 3 is major:minor, field 5 the mount point
            mount_point = Path(fields[4].replace("\\040", " "))
            if mount_point.is_relative_to(excluding_under):
                continue
            major, minor = fields[2].split(":")
            numbers.add((int(major), int(minor)))
    return numbers


def _run(command: list[str]) -> None:
    log.debug("running %s", " ".join(command))
    try:
        done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    except OSError as exc:  # the program missing (a PATH changed under us) or not runnable
        raise MediaError(f"{command[0]} could not be run: {exc.strerror or exc}") from None
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip() or f"exit status {done.returncode}"
        raise MediaError(f"{command[0]} failed: {message}")
