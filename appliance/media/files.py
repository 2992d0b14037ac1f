"""File operations on the top directory of a stick: list, capped read, atomic write, hash.

Only plain names at the top of the stick are used: no paths, no hidden files, no symlinks, so a
crafted stick cannot point a read or a write anywhere else. Everything works relative to a
directory file descriptor opened while the stick is mounted: if the stick is pulled and
unmounted meanwhile, operations fail instead of landing in the empty mount point underneath.
OSError is left to the caller, which knows which stick it was and turns it into a MediaError.
"""

from __future__ import annotations

import errno
import fnmatch
import hashlib
import mmap
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from appliance.errors import MediaError

PARTIAL_PREFIX = "."  # temp files are hidden, so a pulled stick never shows a half file as real
PARTIAL_SUFFIX = ".partial"
_CHUNK = 1 << 20
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC


@contextmanager
def opened_directory(path: Path) -> Iterator[int]:
    """A file descriptor of the directory, closed on exit."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield fd
    finally:
        os.close(fd)


def check_name(name: str) -> str:
    """Refuse anything but a plain, visible file name."""
    bad = (
        not name
        or name in (".", "..")
        or name.startswith(".")
        or any(c in name for c in "/\\\0")
        or len(name.encode()) > 255
    )
    if bad:
        raise MediaError(f"not a plain file name: {name!r}")
    return name


def list_names(directory: int, pattern: str) -> list[str]:
    """Sorted names of visible regular files matching the shell pattern, ignoring case."""
    wanted = pattern.casefold()
    with os.scandir(directory) as entries:
        return sorted(
            e.name
            for e in entries
            if not e.name.startswith(".")
            and e.is_file(follow_symlinks=False)
            and fnmatch.fnmatchcase(e.name.casefold(), wanted)
        )


def read_capped(directory: int, name: str, max_size: int) -> bytes:
    """The whole file, refusing non-regular files and files larger than max_size."""
    fd = os.open(check_name(name), _READ, dir_fd=directory)
    with os.fdopen(fd, "rb") as f:
        if not _is_regular(f.fileno()):
            raise MediaError(f"{name} is not a regular file")
        data = f.read(max_size + 1)  # one more byte than allowed tells us it is too big
    if len(data) > max_size:
        raise MediaError(f"{name} is larger than the {max_size} bytes allowed")
    return data


def write_atomic(directory: int, name: str, data: bytes) -> None:
    """Write under a hidden temp name, fsync, rename to the final name, fsync the directory.

    The final name only ever holds the complete content; a pull mid-write leaves at most the
    hidden temp file.
    """
    temp = f"{PARTIAL_PREFIX}{check_name(name)}{PARTIAL_SUFFIX}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temp, flags, 0o644, dir_fd=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, name, src_dir_fd=directory, dst_dir_fd=directory)
    except BaseException:
        _remove_quietly(directory, temp)
        raise
    _fsync_directory(directory)


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
                    raise MediaError(f"{name} read back larger than the {max_size} bytes written")
                if count < _CHUNK:  # a short read is the end of the file
                    return digest.hexdigest()
        finally:
            view.release()


def _is_regular(fd: int) -> bool:
    return stat.S_ISREG(os.fstat(fd).st_mode)


def _fsync_directory(directory: int) -> None:
    try:
        os.fsync(directory)
    except OSError as exc:
        # Some filesystems refuse fsync on a directory; the unmount that follows flushes it.
        if exc.errno != errno.EINVAL:
            raise


def _remove_quietly(directory: int, name: str) -> None:
    try:
        os.unlink(name, dir_fd=directory)
    except OSError:
        pass  # the stick may be gone already; the temp name is hidden either way
