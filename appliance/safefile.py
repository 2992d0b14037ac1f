"""Opening, reading and writing files so that whatever sits at a name cannot redirect, block or
swell the operation: the one module that opens a file the appliance reads or writes.

Reading (stick files, command-line arguments, configuration, policy and PIN files):
- the name is looked at with lstat first, so a device node or a FIFO is never opened at all;
- it is then opened with O_NOFOLLOW | O_NONBLOCK (a symbolic link is refused, a FIFO or a device
  swapped in meanwhile opens without waiting for a writer), and `fstat` on that descriptor must
  show a regular file before a single byte is read;
- at most `max_size` + 1 bytes are read: one byte more than allowed is enough to refuse the file,
  so /dev/zero or a sparse 1 TB file costs no memory and no time.

Writing goes to a fresh temporary file in the target folder, created with O_CREAT | O_EXCL |
O_NOFOLLOW under an unpredictable name (nothing a stick or another user planted can be at it), is
fsynced, then renamed over the final name, and the folder is fsynced. rename(2) replaces a
directory entry and never opens what was there, so a FIFO, a hard link or a symbolic link at the
final name is simply replaced: nothing else is written and nothing blocks.

Refusals are OSError subclasses with `strerror` set, so callers handle them like any other I/O
failure (and name the file, shown escaped, in their own message).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

NAME_MAX = 255  # bytes in one file name: Linux's limit on ext4, and 255 UTF-16 units on FAT/exFAT
TEMP_PREFIX = ".ceremony-"  # hidden: a pulled stick never shows a half-written file as real
TEMP_SUFFIX = ".partial"
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 20

PathLike = str | bytes | os.PathLike


class NotRegularFile(OSError):
    """The name is a FIFO, a device, a directory, a socket or a symbolic link."""


class FileTooLarge(OSError):
    """The file holds more bytes than the reader allows."""


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISLNK, "a symbolic link (never followed)"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISDIR, "a directory"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def _not_regular(mode: int) -> NotRegularFile:
    return NotRegularFile(errno.EINVAL, f"{_kind(mode)}, not a regular file")


@contextmanager
def opened_regular(name: PathLike, *, dir_fd: int | None = None) -> Iterator[int]:
    """A read-only descriptor of the regular file `name` (relative to `dir_fd` if given), closed
    on exit. Raises NotRegularFile for anything else, OSError if it cannot be opened."""
    mode = os.lstat(name, dir_fd=dir_fd).st_mode
    if not stat.S_ISREG(mode):
        raise _not_regular(mode)
    try:
        fd = os.open(name, _READ, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # swapped for a symbolic link after the lstat
            raise _not_regular(stat.S_IFLNK) from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _not_regular(mode)
        os.set_blocking(fd, True)  # O_NONBLOCK was for the open; a regular file never blocks a read
        yield fd
    finally:
        os.close(fd)


def read_capped(name: PathLike, max_size: int, *, dir_fd: int | None = None) -> bytes:
    """The whole content of the regular file `name`; FileTooLarge beyond `max_size` bytes."""
    with opened_regular(name, dir_fd=dir_fd) as fd:
        chunks = []
        wanted = max_size + 1  # one more byte than allowed tells us it is too big
        while wanted > 0:
            chunk = os.read(fd, min(wanted, _CHUNK))
            if not chunk:
                break
            chunks.append(chunk)
            wanted -= len(chunk)
    if wanted <= 0:
        raise FileTooLarge(errno.EFBIG, f"larger than the {max_size} bytes allowed")
    return b"".join(chunks)


def sha256_of(name: PathLike, *, dir_fd: int | None = None) -> str:
    """SHA-256 (hex) of the regular file's content as read now, streamed."""
    import hashlib  # streamed digests of stick files only; every command loads this module

    digest = hashlib.sha256()
    with opened_regular(name, dir_fd=dir_fd) as fd:
        while chunk := os.read(fd, _CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def opened_directory(path: PathLike) -> Iterator[int]:
    """A descriptor of the directory `path` (not a symbolic link to one), closed on exit."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        yield fd
    finally:
        os.close(fd)


def write_in(directory: int, name: str, data: bytes, *, replace: bool) -> None:
    """`data` as the file `name` in the open `directory`: complete or absent, never half.

    Without `replace`, FileExistsError if something is at `name` already (checked just before the
    rename; the folder is the operator's or a stick being written by the appliance alone).
    """
    temp, fd = _fresh_temp(directory)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        if not replace and _exists(name, directory):
            raise FileExistsError(errno.EEXIST, "already exists; not overwritten")
        os.rename(temp, name, src_dir_fd=directory, dst_dir_fd=directory)
    except BaseException:
        _remove_quietly(directory, temp)
        raise
    fsync_directory(directory)


def write_file(path: Path, data: bytes, *, replace: bool = False) -> None:
    """`data` as the file at `path` (see write_in); the folder must exist. The folder's own path
    is the operator's and may run through symbolic links; the file's name never does."""
    with opened_directory(path.parent.resolve()) as directory:
        write_in(directory, path.name, data, replace=replace)


def fits_name(name: str) -> bool:
    """Whether `name` (a str, possibly carrying undecodable bytes) fits one directory entry."""
    return len(os.fsencode(name)) <= NAME_MAX


def _fresh_temp(directory: int) -> tuple[str, int]:
    for _ in range(8):
        # os.urandom, as secrets.token_hex uses: the secrets module would load random, hmac and hashlib.
        temp = f"{TEMP_PREFIX}{os.urandom(8).hex()}{TEMP_SUFFIX}"
        try:
            return temp, os.open(temp, _CREATE, 0o644, dir_fd=directory)
        except FileExistsError:
            continue  # 64 random bits taken already: something is planting names; try another
    raise FileExistsError(errno.EEXIST, "no free temporary name in the folder")


def _exists(name: str, directory: int) -> bool:
    try:
        os.lstat(name, dir_fd=directory)
    except FileNotFoundError:
        return False
    return True


def fsync_directory(directory: int) -> None:
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
