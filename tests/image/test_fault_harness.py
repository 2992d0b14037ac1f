"""`make fault-test`'s harness without booting: the full stick, the failing stick's QMP shape, the
failure as the console shows it, and the host's check of a stick whose write failed. mtools and
dosfstools on the host; no root."""
import subprocess

import pytest

from image import hotplug, sticks
from image.fault_test import FULL_ROOM, check_failed_stick, make_full_stick, write_fails_then_another
from image.host_checks import CheckFailed
from image.scenario import Console, ScenarioFailed
from tests.image.test_qemu_harness import fake_vm  # noqa: F401 (a fixture)

RESPONSE = "skr-root-2027-q1-0.xml"


def test_the_full_stick_has_no_room_for_a_response(tmp_path):
    image = make_full_stick(tmp_path / "full.img")
    sticks.check_clean(image)
    assert sticks.free_bytes(image) < FULL_ROOM
    with pytest.raises(sticks.StickError, match="the copy differs"):
        sticks.add_file(image, RESPONSE, b"x" * FULL_ROOM)


def test_a_failing_stick_is_plugged_behind_blkdebug(fake_vm, tmp_path):
    vm = fake_vm("")
    hotplug.plug(vm, "eio", tmp_path / "stick.img", fault="write")
    node = vm.qmp_calls[0][1]
    assert node["driver"] == "raw" and node["file"]["driver"] == "blkdebug"
    assert node["file"]["image"] == {"driver": "file", "filename": str(tmp_path / "stick.img")}
    assert node["file"]["inject-error"] == [{"event": "write_aio", "errno": 5, "iotype": "write"}]
    hotplug.plug(vm, "good", tmp_path / "good.img")
    assert vm.qmp_calls[2][1]["file"] == {"driver": "file", "filename": str(tmp_path / "good.img")}
    hotplug.plug(vm, "unreadable", tmp_path / "stick.img", fault="read-after-write")
    fault = vm.qmp_calls[4][1]["file"]
    assert fault["set-state"] == [{"event": "write_aio", "new_state": 2}]
    assert fault["inject-error"] == [{"event": "read_aio", "state": 2, "errno": 5, "iotype": "read"}]


class NoShell:
    def run(self, command, timeout, reason):
        return 0, ""


FAILED_SCREEN = ("Waiting for a stick (or type 'cancel'):\n"
                 "Sticks present, choose the one for the response and the log:\n"
                 "  1. stick sdc \"EIO\" (vfat, 33.6 MB)\n"
                 "Stick number (or 'cancel'):\n"
                 "Writing to stick sdc \"EIO\" (vfat, 33.6 MB) failed: [Errno 5] Input/output error.\n"
                 f"NOT written:\n  {RESPONSE}\n"
                 "Insert another stick, or Enter to try this one again (or 'cancel'):\n")


def test_a_failure_said_on_screen_is_returned(fake_vm, tmp_path):
    vm = fake_vm(FAILED_SCREEN)
    vm.shell = NoShell()
    told = write_fails_then_another(Console(vm, timeout=2), "eio", tmp_path / "s.img", "write", "Input/output error")
    assert told == 'Writing to stick sdc "EIO" (vfat, 33.6 MB) failed: [Errno 5] Input/output error.'
    assert [c for c, _ in vm.qmp_calls] == ["blockdev-add", "device_add", "device_del", "blockdev-del"]


def test_a_failure_for_another_reason_fails_the_scenario(fake_vm, tmp_path):
    vm = fake_vm(FAILED_SCREEN)
    vm.shell = NoShell()
    with pytest.raises(ScenarioFailed, match="does not say 'No space left on device'"):
        write_fails_then_another(Console(vm, timeout=2), "full", tmp_path / "s.img", None, "No space left on device")


def test_a_response_on_a_stick_whose_write_failed_is_reported(tmp_path):
    image = sticks.make_stick(tmp_path / "eio.img", "EIO", {})
    assert "holds nothing" in check_failed_stick(image, RESPONSE, "EIO stick")
    sticks.add_file(image, RESPONSE, b"<KSR/>")
    with pytest.raises(CheckFailed, match="is on the stick after a failed write"):
        check_failed_stick(image, RESPONSE, "EIO stick")


def test_the_damaged_stick_keeps_its_boot_sector_and_loses_its_directory(tmp_path):
    from image.fault_test import make_damaged_stick

    image = make_damaged_stick(tmp_path / "damaged.img", {"ksr-root-2027-q1-0.xml": b"<KSR/>"})
    assert image.read_bytes()[510:512] == b"\x55\xaa"  # still a FAT boot sector: udev sees vfat
    assert subprocess.run(["blkid", "-o", "value", "-s", "TYPE", str(image)],
                          capture_output=True, text=True).stdout.strip() == "vfat"
    with pytest.raises(sticks.StickError):
        sticks.check_clean(image)
    again = make_damaged_stick(tmp_path / "again.img", {"ksr-root-2027-q1-0.xml": b"<KSR/>"})
    assert again.read_bytes() == image.read_bytes()  # seeded: the same damage every run
