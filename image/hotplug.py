"""USB sticks plugged into and pulled from the running VM through QMP, as a person would: the
image file becomes a block node (blockdev-add), the node a usb-storage device on the xHCI bus
(device_add); pulling removes the device at once, like a stick yanked out, then the node, which
closes the file so the host reads everything the guest wrote.

A stick plugged `served_by` an NBD server's Unix socket (image/lying_stick.py) is that server's
export instead of the image file: QEMU's nbd driver, the rest as for any stick.

A stick plugged `slowable` sits behind QEMU's `throttle` filter in a throttle group of its own,
unlimited until `slow_reads` sets a read rate: a read-back then takes seconds instead of
milliseconds, so the stick can be pulled between the write and the read-back, or during it.
"""
from __future__ import annotations

import time
from pathlib import Path

XHCI_ARGS = ("-device", "qemu-xhci,id=xhci")
XHCI_BUS = "xhci.0"


class HotplugError(Exception):
    """QEMU would not plug or pull a stick."""


# Faults QEMU's blkdebug driver puts between a stick's image and the guest (errno 5: EIO).
FAULTS = {
    # every write fails from the first on; reads still work
    "write": {"inject-error": [{"event": "write_aio", "errno": 5, "iotype": "write"}]},
    # writes work, but once something was written every read fails: the read-back cannot happen,
    # as with a stick pulled between the write and the read-back
    "read-after-write": {"set-state": [{"event": "write_aio", "new_state": 2}],
                         "inject-error": [{"event": "read_aio", "state": 2, "errno": 5, "iotype": "read"}]},
}


def throttle_group(name: str) -> str:
    """The QOM id of the throttle group of the stick `name` plugged `slowable`."""
    return f"{name}-throttle"


def plug(vm, name: str, image: Path, fault: str | None = None, slowable: bool = False,
         served_by: Path | None = None) -> None:
    """Insert `image` as a USB stick called `name` (a QMP id: letters, digits, '-'), behaving
    as FAULTS[fault] says when `fault` is given; `slowable`: behind a throttle filter whose
    rate `slow_reads` sets (unlimited until then); `served_by`: the Unix socket of an NBD server
    serving `image` (read through it, not from the file)."""
    medium: dict = {"driver": "file", "filename": str(image)}
    if served_by is not None:
        medium = {"driver": "nbd", "server": {"type": "unix", "path": str(served_by)}}
    if fault is not None:
        medium = {"driver": "blkdebug", "image": medium, **FAULTS[fault]}
    node: dict = {"node-name": f"{name}-node", "driver": "raw", "file": medium}
    try:
        if slowable:
            vm.qmp("object-add", **{"qom-type": "throttle-group", "id": throttle_group(name), "limits": {}})
            node = {"node-name": f"{name}-node", "driver": "throttle", "throttle-group": throttle_group(name),
                    "file": {"driver": "raw", "file": medium}}
        vm.qmp("blockdev-add", **node)
        vm.qmp("device_add", driver="usb-storage", bus=XHCI_BUS, id=name, drive=f"{name}-node",
               removable=True, serial=name.upper())
    except Exception as error:
        raise HotplugError(f"could not plug in {image.name} as {name}: {error}") from error


def slow_reads(vm, name: str, bytes_per_second: int) -> None:
    """From now on the stick `name` (plugged `slowable`) reads at `bytes_per_second` on average;
    QEMU's leaky bucket lets a request through once the bytes read before it have drained, so a
    large read delays the next one by its size over the rate. Writes stay unlimited."""
    try:
        vm.qmp("qom-set", path=throttle_group(name), property="limits", value={"bps-read": bytes_per_second})
    except Exception as error:
        raise HotplugError(f"could not slow down the reads of {name}: {error}") from error


def pull(vm, name: str, timeout: float = 30) -> None:
    """Remove the stick `name`; returns once QEMU has closed its image file."""
    try:
        vm.qmp("device_del", id=name)
    except Exception as error:
        raise HotplugError(f"could not pull {name}: {error}") from error
    # The node stays busy until the guest has let go of the device; retry until it is free.
    deadline = time.monotonic() + timeout
    while True:
        try:
            vm.qmp("blockdev-del", **{"node-name": f"{name}-node"})
            break
        except Exception as error:
            if time.monotonic() > deadline:
                raise HotplugError(f"{name} was pulled but QEMU kept its image open: {error}") from error
            time.sleep(0.2)
    if throttle_group(name) in (entry.get("name") for entry in vm.qmp("qom-list", path="/objects") or []):
        try:
            vm.qmp("object-del", id=throttle_group(name))
        except Exception as error:
            raise HotplugError(f"{name} was pulled but its throttle group stayed: {error}") from error
