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

import errno
import hashlib
import mmap
import os
import stat

from appliance import safefile
from appliance.errors import MediaError
from appliance.safefile import opened_directory  # noqa: F401 - part of this module's interface
from appliance.text import shown

# Read-back: never through a link, never blocking on a FIFO; whole aligned chunks for O_DIRECT.
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CHUNK = 1 << 20


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


def sha256_from_medium(directory: int, name: str, max_size: int) -> str:
    """SHA-256 (hex) of a file as the medium holds it, not as the page cache remembers it.

    The file's cached pages are dropped (posix_fadvise DONTNEED) and it is read with O_DIRECT
    into a page-aligned buffer, so a stick that acknowledged a write it never stored is caught.
    A filesystem without O_DIRECT (tmpfs, a folder standing in for a stick: there the memory is
    the medium) is read normally after the drop. Raises MediaError for a file larger than
    `max_size` bytes (it cannot be the one just written), OSError when the read fails.
    """
    check_name(name)
    try:
        fd = os.open(name, _READ | os.O_DIRECT, dir_fd=directory)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        fd = os.open(name, _READ, dir_fd=directory)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise MediaError(f"{shown(name)} is no longer a regular file")
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        try:
            return _hash_aligned(fd, max_size, name)
        except OSError as exc:  # O_DIRECT accepted at open but refused on read by this filesystem
            if exc.errno != errno.EINVAL:
                raise
            fallback = os.open(name, _READ, dir_fd=directory)
            try:
                os.posix_fadvise(fallback, 0, 0, os.POSIX_FADV_DONTNEED)
                return _hash_aligned(fallback, max_size, name)
            finally:
                os.close(fallback)
    finally:
        os.close(fd)


def _hash_aligned(fd: int, max_size: int, name: str) -> str:
    """Hash from offset 0 in whole, aligned chunks: O_DIRECT needs an aligned buffer, offset and
    length; the anonymous mapping is page-aligned and every read but the last is a whole chunk."""
    digest = hashlib.sha256()
    total = 0
    with mmap.mmap(-1, _CHUNK) as buffer:
        view = memoryview(buffer)
        try:
            while True:
                count = os.preadv(fd, [view], total)
                digest.update(view[:count])
                total += count
                if total > max_size:
                    raise MediaError(f"{shown(name)} read back larger than the {max_size} bytes written")
                if count < _CHUNK:  # a short read is the end of the file
                    return digest.hexdigest()
        finally:
            view.release()
