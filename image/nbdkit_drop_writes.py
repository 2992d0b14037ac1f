"""An nbdkit plugin (nbdkit's python plugin, API version 2): a stick that lies about its writes.

    nbdkit --unix SOCKET python image/nbdkit_drop_writes.py image=STICK.img dropped=WRITES.txt shadow=COPY.img

Reads come from the image file; every write, zero, trim and flush is acknowledged as done and
nothing is stored there (the image is opened read-only), like a counterfeit or worn-out stick
whose controller answers "done" to writes it never keeps. For the harness only, each dropped
request is noted in the `dropped` file as one line "pwrite|zero|trim OFFSET LENGTH", and applied
to `shadow` (a copy of the image made beforehand): what the stick would hold had it kept its
writes, which the guest never reads. nbdkit 1.32 has no filter that drops writes (cow keeps them
in an overlay, error fails them), hence these few lines.
"""
import os

API_VERSION = 2

_PARAMETERS = ("image", "dropped", "shadow")
_settings = {}


def config(key, value):
    if key not in _PARAMETERS:
        raise RuntimeError(f"unknown parameter {key!r}: expected image=FILE dropped=FILE shadow=FILE")
    _settings[key] = value


def config_complete():
    missing = set(_PARAMETERS) - set(_settings)
    if missing:
        raise RuntimeError(f"missing parameter(s): {', '.join(sorted(missing))}")
    if not os.access(_settings["image"], os.R_OK):  # said at the start, not at the first client
        raise RuntimeError(f"cannot read the image {_settings['image']}")


def open(readonly):  # noqa: A001 - the name nbdkit calls
    image = os.open(_settings["image"], os.O_RDONLY | os.O_CLOEXEC)
    dropped = os.open(_settings["dropped"], os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    shadow = os.open(_settings["shadow"], os.O_WRONLY | os.O_CLOEXEC)
    return {"image": image, "dropped": dropped, "shadow": shadow}


def close(h):
    for fd in h.values():
        os.close(fd)


def get_size(h):
    return os.fstat(h["image"]).st_size


def pread(h, buf, offset, flags):
    data = os.pread(h["image"], len(buf), offset)
    if len(data) != len(buf):
        raise OSError(f"short read at {offset}: {len(data)} of {len(buf)} bytes")
    buf[:] = data


def _drop(h, what, offset, data):
    os.write(h["dropped"], f"{what} {offset} {len(data)}\n".encode())
    os.pwrite(h["shadow"], data, offset)


def can_write(h):
    return True


def pwrite(h, buf, offset, flags):
    _drop(h, "pwrite", offset, bytes(buf))


def can_zero(h):
    return True


def zero(h, count, offset, flags):
    _drop(h, "zero", offset, bytes(count))


def can_trim(h):
    return True


def trim(h, count, offset, flags):
    _drop(h, "trim", offset, bytes(count))  # the shadow reads back zeros there, as most sticks do


def can_flush(h):
    return True


def flush(h, flags):
    pass
