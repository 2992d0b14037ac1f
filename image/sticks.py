"""USB stick images for the QEMU test, made and read on the host without root: a whole-disk FAT file
system (no partition table, as many sticks come) in a raw image file, written with mkfs.vfat and
mtools, read back with mtools, checked with fsck.vfat.

    make_stick(path, "KSR", {"ksr-root-2027-q1-0.xml": data})
    files = read_stick(path)          # {"ksr-root-2027-q1-0.xml": b"...", "ceremony-....log": b"..."}
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

STICK_MB = 32  # FAT16: small to make, big enough for any request, response and log
# mtools refuses images whose size does not fit an old floppy/disk geometry unless told not to check.
_MTOOLS_ENV = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}


class StickError(Exception):
    """A stick image could not be made, read or checked."""


def _run(command: list[str], what: str, input: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(command, input=input, capture_output=True, env=_MTOOLS_ENV)
    except FileNotFoundError:
        raise StickError(f"{what}: {command[0]} is missing (Debian packages dosfstools, mtools)") from None
    if done.returncode != 0:
        raise StickError(f"{what}: {' '.join(command)} exited {done.returncode}: "
                         f"{done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def make_stick(path: Path, label: str, files: dict[str, bytes], size_mb: int = STICK_MB) -> Path:
    """A new stick image at `path` holding `files` in its root directory."""
    path.unlink(missing_ok=True)
    with open(path, "wb") as image:
        image.truncate(size_mb * 1024 * 1024)
    # A fixed volume id: the same inputs give the same image, which makes failures easier to compare.
    _run(["mkfs.vfat", "-n", label, "-i", "5eed0001", str(path)], f"formatting {path.name}")
    for name, data in files.items():
        add_file(path, name, data)
    return path


def list_stick(path: Path) -> list[str]:
    """The names of the files in the stick's root directory."""
    listing = _run(["mdir", "-i", str(path), "-b", "-a", "::"], f"listing {path.name}").decode()
    names = []
    for line in listing.splitlines():
        entry = line.strip().removeprefix("::/")
        if entry and not entry.endswith("/"):
            names.append(entry)
    return sorted(names)


def read_stick(path: Path) -> dict[str, bytes]:
    """Every file in the stick's root directory, by name."""
    return {name: read_file(path, name) for name in list_stick(path)}


def read_file(path: Path, name: str) -> bytes:
    """One file from the stick's root directory; StickError when mtools cannot read it whole."""
    return _run(["mcopy", "-i", str(path), f"::{name}", "-"], f"reading {name} from {path.name}")


def check_clean(path: Path) -> None:
    """Raises StickError unless the file system is consistent and was unmounted cleanly: a stick the
    appliance released must be safe to pull."""
    _run(["fsck.vfat", "-n", str(path)], f"checking the file system of {path.name}")


def add_file(path: Path, name: str, data: bytes) -> None:
    """Copy one more file to the stick's root directory, read back: mcopy exits 0 on a full disk."""
    _run(["mcopy", "-i", str(path), "-", f"::{name}"], f"copying {name} to {path.name}", input=data)
    if read_file(path, name) != data:
        raise StickError(f"copying {name} to {path.name}: the copy differs (the stick is full?)")


def free_bytes(path: Path) -> int:
    """The free room on the stick's file system, in bytes (mtools' directory summary)."""
    listing = _run(["mdir", "-i", str(path), "::"], f"listing {path.name}").decode()
    for line in listing.splitlines():
        if line.strip().endswith("bytes free"):
            return int(line.split("bytes free")[0].replace(" ", "").replace("\xa0", ""))
    raise StickError(f"mdir gave no free space for {path.name}: {listing[-200:]}")
