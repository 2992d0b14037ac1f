"""The boot test's stage times (image/boot_stages.py) from a guest's answers, without QEMU."""
import pytest

from image import boot_stages

# systemd's timestamps (microseconds since the kernel started), then the dmesg marks, as the guest
# prints them for boot_stages.guest_command(); shaped like a real boot of the DVD under TCG.
GUEST = """\
31500000
40250000
41000000
[    3.912345] Run /init as init process
[    9.100000] ISO 9660 Extensions: Microsoft Joliet Level 3
[    9.200000] ISO 9660 Extensions: RRIP_1991A
[   14.000000] ISO 9660 Extensions: RRIP_1991A
[   20.500000] loop0: detected capacity change from 0 to 174000
[   22.000000] ceremony: leaving the initramfs
"""


def test_each_stage_is_measured_between_its_marks():
    measured = boot_stages.stages(GUEST, kernel_started=8.0, first_screen=58.0)
    assert measured == {
        "firmware": 8.0, "kernel": 3.9, "initramfs": 18.1, "toram copy": 6.5, "systemd start": 9.5,
        "systemd to basic.target": 8.8, "to console process": 0.8, "console start": 9.0,
        "first screen": 58.0}
    line = boot_stages.summary(measured)
    assert line.startswith("firmware 8.0s, kernel 3.9s, initramfs 18.1s, toram copy 6.5s")


def test_without_the_initramfs_mark_systemd_start_is_part_of_the_initramfs():
    guest = GUEST.replace("[   22.000000] ceremony: leaving the initramfs\n", "")
    measured = boot_stages.stages(guest, kernel_started=8.0, first_screen=58.0)
    assert measured["initramfs"] == 27.6 and measured["systemd start"] is None
    assert "systemd start" not in boot_stages.summary(measured)


def test_output_of_another_shape_is_refused():
    with pytest.raises(ValueError, match="three timestamps"):
        boot_stages.stages("bash: systemctl: command not found\n", 1.0, 2.0)
    with pytest.raises(ValueError, match="not numbers"):
        boot_stages.stages("n/a\n1\n2\n", 1.0, 2.0)


def test_median_per_stage_and_saved_beside_other_firmwares(tmp_path):
    boots = [boot_stages.stages(GUEST, 8.0, first) for first in (58.0, 70.0, 61.0)]
    assert boot_stages.median(boots)["first screen"] == 61.0
    path = tmp_path / "boot-stages.json"
    boot_stages.save(path, "bios/dvd", boots, "1.00 0.50 0.25", "2026-11-30 15:00 UTC")
    boot_stages.save(path, "uefi/dvd", boots[:1], "2.00 1.00 0.50", "2026-11-30 15:05 UTC")
    kept = boot_stages.load(path)
    assert kept["bios/dvd"]["median"]["first screen"] == 61.0 and len(kept["bios/dvd"]["boots"]) == 3
    assert kept["uefi/dvd"]["load"] == "2.00 1.00 0.50"
