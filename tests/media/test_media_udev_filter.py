"""Which block devices UdevMedia takes for sticks (no root: devices described, not plugged in).

The real-device test cannot plug in a USB stick, so the USB side of the filter is shown here on
device descriptions carrying the properties udev gives real sticks and internal disks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pytest

from appliance.errors import MediaError
from appliance.media import UdevMedia
from appliance.media import udev as udev_module


@dataclass(eq=False)
class Device:
    """The part of pyudev.Device that the filter reads."""

    sys_name: str
    device_type: str = "partition"
    properties: dict = field(default_factory=dict)
    usb_parent: bool = False
    disk: Device | None = None
    number: tuple[int, int] = (8, 17)

    @property
    def device_node(self) -> str:
        return f"/dev/{self.sys_name}"

    @property
    def device_number(self) -> int:
        return os.makedev(*self.number)

    def find_parent(self, subsystem, device_type=None):
        if subsystem == "usb":
            return object() if self.usb_parent else None
        return self.disk if (subsystem, device_type) == ("block", "disk") else None


class Context:
    def __init__(self, *devices):
        self.devices = devices

    def list_devices(self, subsystem, parent):
        return [d for d in self.devices if d.disk is parent]


def usb_stick(fs_type="vfat", **kwargs):
    disk = Device("sdb", "disk", {"ID_BUS": "usb"}, number=(8, 16))
    part = Device("sdb1", properties={"ID_BUS": "usb", "ID_FS_TYPE": fs_type}, disk=disk, **kwargs)
    return disk, part


@pytest.fixture
def nothing_mounted(monkeypatch):
    mounted: set[tuple[int, int]] = set()
    monkeypatch.setattr(udev_module.mount, "mounted_device_numbers", lambda excluding_under: mounted)
    return mounted


def media_seeing(*devices, also_accept=None):
    media = UdevMedia(also_accept=also_accept)
    media._context = Context(*devices)
    return media


@pytest.mark.parametrize("fs_type", ["vfat", "exfat", "ext4"])
def test_a_usb_partition_with_a_supported_filesystem_is_a_stick(nothing_mounted, fs_type):
    disk, part = usb_stick(fs_type)
    assert media_seeing(disk, part).refusal(part) is None


def test_a_whole_usb_disk_carrying_a_filesystem_is_a_stick(nothing_mounted):
    disk = Device("sdc", "disk", {"ID_FS_TYPE": "vfat"}, usb_parent=True, number=(8, 32))
    assert media_seeing(disk).refusal(disk) is None


def test_a_usb_disk_holding_a_partition_table_is_not_itself_a_stick(nothing_mounted):
    disk, part = usb_stick()
    disk.properties["ID_PART_TABLE_TYPE"] = "dos"
    assert media_seeing(disk, part).refusal(disk) == "no supported filesystem (none)"


@pytest.mark.parametrize("bus", ["ata", "scsi", "nvme", None])
def test_internal_disks_are_never_sticks(nothing_mounted, bus):
    disk = Device("sda", "disk", {"ID_BUS": bus} if bus else {}, number=(8, 0))
    part = Device("sda1", properties={**disk.properties, "ID_FS_TYPE": "ext4"}, disk=disk)
    assert media_seeing(disk, part).refusal(part) == (
        "not on the USB bus (internal disks are never mounted)"
    )


@pytest.mark.parametrize("fs_type", ["ntfs", "iso9660", "crypto_LUKS", "swap", ""])
def test_other_filesystems_are_refused(nothing_mounted, fs_type):
    disk, part = usb_stick(fs_type)
    assert media_seeing(disk, part).refusal(part).startswith("no supported filesystem")


def test_a_usb_disk_the_system_mounted_elsewhere_is_refused_whole(nothing_mounted):
    """Booted from a live USB: its ISO partition is mounted, so its FAT (EFI) partition is left."""
    disk, efi = usb_stick()
    iso = Device("sdb2", properties={"ID_BUS": "usb", "ID_FS_TYPE": "iso9660"}, disk=disk,
                 number=(8, 18))
    nothing_mounted.add(iso.number)
    assert media_seeing(disk, efi, iso).refusal(efi) == "its disk is already mounted by the system"


def test_the_efi_partition_of_the_dvd_written_to_a_stick_is_refused(nothing_mounted):
    """Booted from a stick with `toram`: the stick is no longer mounted, yet it is no ceremony stick."""
    disk, efi = usb_stick()
    disk.properties.update({"ID_FS_TYPE": "iso9660", "ID_PART_TABLE_TYPE": "dos"})
    assert media_seeing(disk, efi).refusal(efi).startswith("its disk is a bootable ISO image")


def test_also_accept_admits_only_what_its_predicate_names(nothing_mounted):
    disk = Device("loop3", "disk", {"ID_FS_TYPE": "vfat"}, number=(7, 3))
    other = Device("loop4", "disk", {"ID_FS_TYPE": "vfat"}, number=(7, 4))
    media = media_seeing(disk, other, also_accept=lambda d: d.sys_name == "loop3")
    assert media.refusal(disk) is None
    assert media.refusal(other).startswith("not on the USB bus")


def test_also_accept_is_logged_as_a_test_option(caplog):
    UdevMedia(also_accept=lambda d: False)
    assert "never for ceremonies" in caplog.text


def test_without_root_udev_media_refuses_to_start_and_points_to_folder_mode(monkeypatch):
    monkeypatch.setattr(udev_module.os, "geteuid", lambda: 1000)
    media = UdevMedia()
    with pytest.raises(MediaError, match="needs root; for development use --media DIR"):
        media.start()
    assert media.sticks() == []
