"""The top directory of a stick: which names may be used, listing, and the safe file operations.

Only plain names at the top of the stick are used: no paths, no hidden files, no symlinks, so a
crafted stick cannot point a read or a write anywhere else. Names are compared literally (ignoring
case, as FAT does), never as patterns. Everything works relative to a directory file descriptor
opened while the stick is mounted: if the stick is pulled and unmounted meanwhile, operations fail
instead of landing in the empty mount point underneath. Opening, reading and writing are
appliance.safefile's (O_NOFOLLOW | O_NONBLOCK, regular files only, capped reads, fresh temporary
files renamed into place). OSError is left to the caller, which knows which stick it was and turns
it into a MediaError.
"""

from __future__ import annotations

import os

from appliance import safefile
from appliance.errors import MediaError
from appliance.safefile import opened_directory  # noqa: F401 - part of this module's interface
from appliance.text import shown


def check_name(name: str) -> str:
    """Refuse anything but a plain, visible file name that fits a directory entry."""
    bad = (
        not name
        or name in (".", "..")
        or name.startswith(".")
        or any(c in name for c in "/\\\0")
        or not safefile.fits_name(name)
    )
    if bad:
        raise MediaError(f"not a plain file name: {shown(name)}")
    return name


def is_utf8(name: str) -> bool:
    """False for a name os.scandir decoded with surrogate escapes (bytes that are not UTF-8)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def list_names(directory: int, suffix: str = "", *, regular_only: bool = True) -> list[str]:
    """Sorted visible names ending in `suffix` (any case); only regular files unless told."""
    wanted = suffix.casefold()
    with os.scandir(directory) as entries:
        return sorted(
            e.name
            for e in entries
            if not e.name.startswith(".")
            and (not regular_only or e.is_file(follow_symlinks=False))
            and e.name.casefold().endswith(wanted)
        )


def find_name(directory: int, name: str) -> str | None:
    """The entry whose name is `name` ignoring case (as FAT compares), of any type, or None."""
    wanted = name.casefold()
    with os.scandir(directory) as entries:
        return next((e.name for e in entries if e.name.casefold() == wanted), None)


def read_capped(directory: int, name: str, max_size: int) -> bytes:
    """The whole regular file; safefile's refusals (not regular, too large) are OSErrors."""
    return safefile.read_capped(check_name(name), max_size, dir_fd=directory)


def write_atomic(directory: int, name: str, data: bytes) -> None:
    """A fresh temporary file renamed over `name`: the final name only ever holds the complete
    content, and nothing already at any name (FIFO, hard link, symlink) is opened."""
    safefile.write_in(directory, check_name(name), data, replace=True)


def sha256_of(directory: int, name: str) -> str:
    """SHA-256 (hex) of the regular file's content as read now."""
    return safefile.sha256_of(check_name(name), dir_fd=directory)
