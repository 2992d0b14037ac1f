"""`make fault-test`'s harness without booting: the full stick, the failing stick's QMP shape, the
failure as the console shows it, and the host's check of a stick whose write failed. mtools and
dosfstools on the host; root only for the pull watcher run on a tmpfs."""
import os
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from appliance.ceremonylog import CONTINUED, CeremonyLog
from image import hotplug, sticks
from image.fault_test import (
    CONSOLE_PID,
    FULL_ROOM,
    PULL_SIGNAL,
    check_failed_stick,
    check_lying_attempt_logged,
    check_lying_stick,
    check_pulled_stick,
    check_read_only_stick,
    make_full_stick,
    lying_stick_caught,
    make_remount_ro_stick,
    open_at_pull,
    pull_watcher,
    signed_once,
    write_fails_then_another,
)
from image.host_checks import CheckFailed
from image.scenario import MEDIA_ROOT, Console, ScenarioFailed
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
    assert [c for c, _ in vm.qmp_calls] == ["blockdev-add", "device_add", "device_del", "blockdev-del", "qom-list"]


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


def test_a_slowable_stick_sits_behind_a_throttle_group_of_its_own_until_pulled(fake_vm, tmp_path):
    vm = fake_vm("")
    hotplug.plug(vm, "pulled", tmp_path / "stick.img", slowable=True)
    group, node = vm.qmp_calls[0], vm.qmp_calls[1]
    assert group == ("object-add", {"qom-type": "throttle-group", "id": "pulled-throttle", "limits": {}})
    assert node[1]["driver"] == "throttle" and node[1]["throttle-group"] == "pulled-throttle"
    assert node[1]["file"] == {"driver": "raw", "file": {"driver": "file", "filename": str(tmp_path / "stick.img")}}
    assert vm.qmp_calls[2][1]["drive"] == "pulled-node"
    hotplug.slow_reads(vm, "pulled", 512)
    assert vm.qmp_calls[3] == ("qom-set", {"path": "pulled-throttle", "property": "limits",
                                           "value": {"bps-read": 512}})
    vm.qmp = lambda command, **arguments: (vm.qmp_calls.append((command, arguments))
                                           or ([{"name": "pulled-throttle", "type": "throttle-group"}]
                                               if command == "qom-list" else {}))
    hotplug.pull(vm, "pulled")
    assert [c for c, _ in vm.qmp_calls[4:]] == ["device_del", "blockdev-del", "qom-list", "object-del"]
    assert vm.qmp_calls[-1] == ("object-del", {"id": "pulled-throttle"})


def test_the_pull_watcher_waits_for_the_unmount_then_stops_the_console_or_waits_for_an_open_file():
    before, during = pull_watcher(during=False), pull_watcher(during=True)
    for command in (before, during):
        # The stick's mount point before the write, then a wait in findmnt until it is unmounted.
        assert command.index("where=$(grep ' /run/ceremony/media/' /proc/self/mountinfo") \
            < command.index("findmnt --poll=umount --first-only") < command.index("mv ")
        assert "& true" in command  # runs in the background; the harness appends its end marker
        assert subprocess.run(["bash", "-n", "-c", command + "; printf done"]).returncode == 0
    assert "kill -STOP $pid" in before and "until [ -n" not in before
    assert "until [ -n" in during and "kill -STOP" not in during


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: mounts a tmpfs standing in for the stick (CI runs as root)")
def test_the_pull_watcher_stops_the_console_at_the_unmount_not_at_a_remount(tmp_path):
    """The watcher run for real on the host: a tmpfs stands in for the stick, a sleeping process
    for the console. A remount (read-write and back) must not wake it; the unmount must, at once."""
    media, signal = tmp_path / "media", tmp_path / "pull"
    stick = media / "STICK"
    stick.mkdir(parents=True)
    console = subprocess.Popen(["sleep", "120"])
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro", "stick", str(stick)], check=True)
    try:
        command = (pull_watcher(during=False).replace(MEDIA_ROOT, str(media)).replace(PULL_SIGNAL, str(signal))
                   .replace(CONSOLE_PID, str(console.pid)))
        subprocess.run(["bash", "-c", command], check=True)
        time.sleep(0.5)  # findmnt is polling
        subprocess.run(["mount", "-o", "remount,rw", str(stick)], check=True)
        subprocess.run(["mount", "-o", "remount,ro", str(stick)], check=True)
        time.sleep(0.5)
        assert not signal.exists() and _state(console.pid) != "T"
        subprocess.run(["umount", str(stick)], check=True)
        deadline = time.monotonic() + 10
        while not signal.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _state(console.pid) == "T" and signal.read_text().startswith("open: ")
    finally:
        subprocess.run(["umount", str(stick)], capture_output=True)
        console.kill()
        console.wait()


def _state(pid: int) -> str:
    """A process's state letter from /proc (T: stopped)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_the_remount_ro_stick_breaks_only_its_copys_chain(tmp_path):
    image, earlier = make_remount_ro_stick(tmp_path / "ro.img", RESPONSE)
    assert sticks.list_stick(image) == [RESPONSE] and len(earlier) == 6144
    checked = subprocess.run(["fsck.vfat", "-n", str(image)], capture_output=True, text=True)
    assert checked.returncode != 0 and "out of range" in checked.stdout
    assert "cluster chain length is 4096 bytes" in checked.stdout  # two of its three clusters remain


def test_a_pulled_stick_must_hold_the_verified_copy(tmp_path):
    good = sticks.make_stick(tmp_path / "good.img", "GOOD", {RESPONSE: b"<SKR/>"})
    pulled = sticks.make_stick(tmp_path / "pulled.img", "PULLED", {RESPONSE: b"<SKR/>"})
    assert "its response copy is the verified one" in check_pulled_stick(pulled, good, RESPONSE, "pulled")
    other = sticks.make_stick(tmp_path / "other.img", "OTHER", {RESPONSE: b"<SKR"})
    with pytest.raises(CheckFailed, match="not the verified one"):
        check_pulled_stick(other, good, RESPONSE, "pulled")


def test_the_read_only_stick_holds_a_whole_copy_or_none(tmp_path):
    good = sticks.make_stick(tmp_path / "good.img", "GOOD", {RESPONSE: b"<SKR/>"})
    ro, earlier = make_remount_ro_stick(tmp_path / "ro.img", RESPONSE)
    assert f"its {RESPONSE} is the earlier copy, its chain still broken" in \
        check_read_only_stick(ro, good, RESPONSE, earlier)
    whole = sticks.make_stick(tmp_path / "whole.img", "WHOLE", {RESPONSE: b"<SKR/>"})
    assert f"its {RESPONSE} is the verified response" in check_read_only_stick(whole, good, RESPONSE, earlier)
    half = sticks.make_stick(tmp_path / "half.img", "HALF", {RESPONSE: b"<SK"})
    with pytest.raises(CheckFailed, match="neither copy whole"):
        check_read_only_stick(half, good, RESPONSE, earlier)


def test_the_log_must_record_one_signing():
    line = "Signed ksr-root-2027-q1-0.xml at 12:00:00 UTC: skr-root-2027-q1-0.xml, 100 bytes"
    assert "signed once" in signed_once(line, "ksr-root-2027-q1-0.xml")
    with pytest.raises(CheckFailed):
        signed_once(line + "\n" + line, "ksr-root-2027-q1-0.xml")
    with pytest.raises(CheckFailed):
        signed_once(line + "\nSECOND SIGNING of ksr-root-2027-q1-0.xml", "ksr-root-2027-q1-0.xml")


def test_the_watchers_report_gives_the_files_open_at_the_pull():
    assert open_at_pull("open:") == ""  # nothing open, nothing mounted: the guest's output stripped
    assert open_at_pull("open: \n/dev/sda /run/ceremony/media/sda vfat ro 0 0") == ""
    assert open_at_pull("open: /run/ceremony/media/sda/x.log \n/dev/sda ...") == "/run/ceremony/media/sda/x.log"
    with pytest.raises(ScenarioFailed):
        open_at_pull("")


class LyingStickSeen:
    """What the harness's checks use of image.lying_stick.LyingStick: the image, the shadow copy
    holding what the stick acknowledged, and the writes it dropped (no nbdkit here)."""

    def __init__(self, image, shadow, dropped):
        self.image, self.shadow, self.socket, self._dropped = image, shadow, image.with_suffix(".sock"), dropped

    def dropped_writes(self):
        return self._dropped


WAITING = "Waiting for a stick (or type 'cancel'):\n"


def lying_screen(*said: str) -> str:
    """What the console shows once the lying stick is plugged in (the fake VM plays it then)."""
    return ("  1. stick sda \"LYING\" (vfat, 33.6 MB)\n"
            "Stick number (or 'cancel'):\n" + "\n".join(said) +
            "\nInsert another stick, or Enter to try this one again (or 'cancel'):\n")


CAUGHT = (f"Writing to stick sda \"LYING\" (vfat, 33.6 MB) failed: {RESPONSE} is not on the stick when read "
          "back: the stick acknowledged the write but did not keep it.", "Written but NOT verified (do not rely on these copies):", f"  {RESPONSE}")


def test_a_lying_stick_caught_by_the_read_back_passes(fake_vm, tmp_path):
    vm = fake_vm(WAITING, after_plug=lying_screen(*CAUGHT))
    vm.shell = NoShell()
    lying = LyingStickSeen(tmp_path / "lying.img", None, [("pwrite", 0, 512)])
    told = lying_stick_caught(Console(vm, timeout=2), "lying", lying)
    assert told == CAUGHT[0]
    assert vm.qmp_calls[0][1]["file"] == {"driver": "nbd", "server": {"type": "unix", "path": str(lying.socket)}}


def test_a_lying_stick_said_verified_fails_the_scenario(fake_vm, tmp_path):
    vm = fake_vm(WAITING, after_plug=lying_screen(*CAUGHT[:1], "Written and verified by reading back:", f"  {RESPONSE} (1 bytes)",
                              *CAUGHT[1:]))
    vm.shell = NoShell()
    with pytest.raises(ScenarioFailed, match="said 'Written and verified' for a stick that kept nothing"):
        lying_stick_caught(Console(vm, timeout=2), "lying", LyingStickSeen(tmp_path / "l.img", None, [("pwrite", 0, 1)]))


def test_a_lying_stick_never_written_fails_the_scenario(fake_vm, tmp_path):
    vm = fake_vm(WAITING, after_plug=lying_screen(*CAUGHT))
    vm.shell = NoShell()
    with pytest.raises(ScenarioFailed, match="nothing was written to the stick"):
        lying_stick_caught(Console(vm, timeout=2), "lying", LyingStickSeen(tmp_path / "l.img", None, []))


def test_the_lying_stick_holds_nothing_while_its_acknowledged_writes_carried_the_response(tmp_path):
    import hashlib

    good = sticks.make_stick(tmp_path / "good.img", "GOOD", {RESPONSE: b"<SKR/>"})
    image = sticks.make_stick(tmp_path / "lying.img", "LYING", {})
    as_plugged = hashlib.sha256(image.read_bytes()).hexdigest()
    shadow = sticks.make_stick(tmp_path / "shadow.img", "LYING", {RESPONSE: b"<SKR/>", "ceremony.log": b"log"})
    lying = LyingStickSeen(image, shadow, [("pwrite", 0, 4096)])
    assert "carried the verified response whole and ['ceremony.log']" in check_lying_stick(lying, as_plugged, good, RESPONSE)
    lying.shadow = sticks.make_stick(tmp_path / "shadow-other.img", "LYING", {RESPONSE: b"<SKR>other</SKR>"})
    with pytest.raises(CheckFailed, match="do not carry the verified response"):
        check_lying_stick(lying, as_plugged, good, RESPONSE)
    sticks.add_file(image, RESPONSE, b"<SKR/>")
    with pytest.raises(CheckFailed, match="its image changed"):
        check_lying_stick(lying, as_plugged, good, RESPONSE)


def test_the_log_must_record_the_lying_sticks_write_as_not_verified():
    # As the console logs it (console/app.py: the report's first line in the headline, the rest as
    # rows), wrapped as the log wraps: continued rows behind ceremonylog.CONTINUED.
    log = CeremonyLog(lambda: datetime(2026, 11, 30, 23, 28, 22, tzinfo=UTC))
    log.note('Writing skr-demo-2027-q1-0.xml, ceremony-1.log to stick sda "LYING" (vfat, 33.6 MB) ... failed after '
             '1.08 s: Writing to stick sda "LYING" (vfat, 33.6 MB) failed: skr-demo-2027-q1-0.xml is not on the '
             'stick when read back: the stick acknowledged the write but did not keep it.',
             ["Written but NOT verified (do not rely on these copies):"])
    attempt = log.render()
    assert f"\n{CONTINUED}" in attempt
    assert "NOT verified" in check_lying_attempt_logged(attempt)
    with pytest.raises(CheckFailed, match="lying stick"):
        check_lying_attempt_logged(attempt.replace("NOT verified", "verified"))
