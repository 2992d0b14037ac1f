"""Writing a file on the local filesystem so that it is either complete or absent."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from appliance.errors import UsageError


def write_atomically(path: Path, data: bytes) -> None:
    """Temporary file in the same directory, fsync, rename over nothing, fsync the directory."""
    directory = path.parent.resolve()
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        if path.exists():
            raise UsageError(f"{path} appeared while signing; not overwritten")
        os.rename(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory_fd)
    finally:
        os.close(directory_fd)
