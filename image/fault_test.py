"""`make fault-test`: failing output sticks in the booted DVD, with the real console, in one boot.

After the clock and the HSM (as `make qemu-test`), the request is imported and signed, and the
operators write the response and the log to 'other' sticks, one after another:
  1. a stick whose every write fails with EIO (QEMU's blkdebug between image and guest);
  2. a stick that is full (a small FAT with less free room than the response needs);
  3. a stick whose reads fail once it was written (blkdebug): no read-back possible;
  4. a stick pulled (device_del) once the write is complete, before anything is read back: a
     watcher in the guest stops the console's process (SIGSTOP) the moment the stick leaves its
     read-write mount, the harness pulls, then resumes it (SIGCONT);
  5. a stick pulled while a written file is open for its read-back: QEMU's throttle filter slows
     the stick's reads once it is chosen, so the read-back takes seconds; the watcher tells when;
  6. a stick holding an earlier copy of the response whose cluster chain is broken: 'replace'
     makes the kernel free that chain, meet the bad entry and set the file system read-only;
  7. a stick that acknowledges every write and keeps none (nbdkit serving its image with writes
     dropped, image/lying_stick.py): the read-back must catch it, never "Written and verified";
  8. a good stick: written and verified;
then, as the next request's stick, one whose FATs and root directory are random bytes, and
'cancel'. Each failure must be said on the screen ("Writing to ... failed", what is NOT written
or NOT verified) and the console must ask for another stick; then the ceremony shuts down with
the final log on the good stick. On the host: what is on each stick (fsck.vfat, mtools), the
response checked with `ceremony verify-skr` and dnspython, the log naming every failed attempt
and one signing only.

Left out (see docs/failures.md): the HSM's link dropping (image/fault_hsm_test.py).
"""
from __future__ import annotations

import random
import re
import hashlib
import subprocess
import sys
import time
from pathlib import Path

from appliance.ceremonylog import flowing
from image import hotplug, sticks
from image.lying_stick import LyingStick
from image.hsm_bridge import HsmBridge
from image.host_checks import CheckFailed, check_log, ksk_rrset, verify_with_cli, verify_with_dnspython
from image.qemu import VirtualMachine
from image.qemu_test import HOST_MODULE, Stages, StageFailed, one_boot_main, prepare
from image.scenario import MEDIA_ROOT, Console, ScenarioFailed, phrase, run_in_guest

FULL_STICK_MB = 2  # FAT12; filled until less than FULL_ROOM bytes are free
FULL_ROOM = 4096
FUZZ_SEED = 15  # the damaged stick is the same bytes at every run
# The stick pulled during its read-back reads this many bytes a second once it is chosen: QEMU's
# leaky bucket lets a read through once the bytes read before it have drained, so the read-back
# of the log waits (response size / rate) seconds behind that of the response, with the write
# slowed by seconds only (its largest read, the FAT, waits well under the kernel's 30 s SCSI timeout).
SLOW_READ_RATE = 4096
PULL_SIGNAL = "/run/fault-test-pull"  # in the guest: what the watcher saw when the pull is due
CONSOLE_PID = "$(systemctl show -p MainPID --value ceremony@ttyS0.service)"

# Guest shell fragments. A write ends by unmounting the stick, which flushes everything, and
# mounting it again for the read-back: that unmount is the write's end (the switch to read-write
# and back is a remount, which findmnt's `--poll=umount` does not report). findmnt sleeps in
# poll(2) on /proc/self/mountinfo and wakes at the unmount itself: a loop that forks to look
# again was too slow under load (the console had read back before it was stopped).
_MOUNT_POINT = f"$(grep ' {MEDIA_ROOT}/' /proc/self/mountinfo | cut -d' ' -f5)"
_OPEN_ON_STICK = f"ls -l /proc/$pid/fd 2>/dev/null | grep -o '{MEDIA_ROOT}/[^/ ]*/[^. ][^ ]*' | sort -u"


def pull_watcher(during: bool) -> str:
    """A guest command, run in the background before the write begins (the stick mounted
    read-only): waits until the stick is unmounted (the write is complete); then either
    stops the console's process at once with SIGSTOP (`during` False: the pause between the write
    and the read-back that the appliance never makes, made here; the harness pulls, then sends
    SIGCONT), or waits until a written file is open in it (`during`: its read-back has begun and,
    the stick's reads being slowed, is still under way). Then it writes what it saw to
    PULL_SIGNAL, the harness's cue to pull. Ends in `& true`: the harness appends '; ...'."""
    then = (f"until [ -n \"$({_OPEN_ON_STICK})\" ]; do sleep 0.05; done; " if during
            else "kill -STOP $pid; ")
    return (f"rm -f {PULL_SIGNAL}; pid={CONSOLE_PID}; where={_MOUNT_POINT}; ( [ -n \"$where\" ] || exit 1; "
            f"findmnt --poll=umount --first-only --mountpoint \"$where\"; {then}"
            f"{{ echo \"open: $({_OPEN_ON_STICK} | tr '\\n' ' ')\"; grep ' {MEDIA_ROOT}/' /proc/mounts; }} "
            f"> {PULL_SIGNAL}.new; mv {PULL_SIGNAL}.new {PULL_SIGNAL} ) >/dev/null 2>&1 & true")


def make_damaged_stick(path: Path, files: dict[str, bytes]) -> Path:
    """A FAT16 stick holding `files` whose FATs and root directory are then overwritten with
    (seeded) random bytes; the boot sector is kept, so udev still sees a vfat file system."""
    sticks.make_stick(path, "DAMAGED", files)
    with open(path, "r+b") as image:
        boot = image.read(512)
        sector = int.from_bytes(boot[11:13], "little")
        reserved, fats = int.from_bytes(boot[14:16], "little"), boot[16]
        root_entries, fat_sectors = int.from_bytes(boot[17:19], "little"), int.from_bytes(boot[22:24], "little")
        start = reserved * sector
        length = fats * fat_sectors * sector + root_entries * 32
        image.seek(start)
        image.write(random.Random(FUZZ_SEED).randbytes(length))
    return path


def make_remount_ro_stick(path: Path, response_name: str) -> tuple[Path, bytes]:
    """A FAT16 stick holding an earlier copy of `response_name` (three clusters) whose cluster
    chain leads out of the FAT: its second cluster's entry names a cluster past the last. Nothing
    reads that chain until the copy is replaced; then the kernel, freeing the old clusters, meets
    the bad entry and (FAT's default `errors=remount-ro`) sets the file system read-only.
    Returns the image and the earlier copy's bytes (mtools cannot read them back once broken)."""
    sticks.make_stick(path, "REMOUNTRO", {})
    with open(path, "r+b") as image:
        boot = image.read(512)
    sector, per_cluster = int.from_bytes(boot[11:13], "little"), boot[13]
    earlier = b"an earlier copy, never verified\n".ljust(3 * sector * per_cluster - 1, b".") + b"\n"
    sticks.add_file(path, response_name, earlier)
    with open(path, "r+b") as image:
        boot = image.read(512)
        reserved, fats = int.from_bytes(boot[14:16], "little"), boot[16]
        root_entries, fat_sectors = int.from_bytes(boot[17:19], "little"), int.from_bytes(boot[22:24], "little")
        total = int.from_bytes(boot[19:21], "little") or int.from_bytes(boot[32:36], "little")
        root = (reserved + fats * fat_sectors) * sector
        data_sectors = total - reserved - fats * fat_sectors - root_entries * 32 // sector
        past_the_last = data_sectors // per_cluster + 2 + 16  # a cluster number the FAT has no entry for
        if past_the_last >= 0xFFF0:
            raise sticks.StickError(f"{path.name}: too many clusters for an out-of-range FAT16 entry")
        image.seek(root)
        directory = image.read(root_entries * 32)
        first = next(int.from_bytes(directory[at + 26:at + 28], "little") for at in range(0, len(directory), 32)
                     if directory[at] not in (0, 0xE5) and directory[at + 11] & 0x1F == 0)  # a file's short entry
        for copy in range(fats):
            image.seek((reserved + copy * fat_sectors) * sector + 2 * (first + 1))
            image.write(past_the_last.to_bytes(2, "little"))
    return path, earlier


def make_full_stick(path: Path) -> Path:
    """A FAT stick with fewer than FULL_ROOM bytes free: any response needs more."""
    sticks.make_stick(path, "FULL", {}, size_mb=FULL_STICK_MB)
    free = sticks.free_bytes(path)
    sticks.add_file(path, "filler.bin", b"\0" * (free - FULL_ROOM // 2))
    if sticks.free_bytes(path) >= FULL_ROOM:
        raise sticks.StickError(f"the full stick still has {sticks.free_bytes(path)} bytes free")
    return path


def choose_the_only_stick(console: Console, stick_id: str) -> None:
    """A write goes only to the stick the operators name, even when one is in: choose it (1)."""
    console.see(phrase("Stick number (or 'cancel'):"), f"{stick_id}: no question which stick to write to")
    console.answer("1")


def write_fails_then_another(console: Console, stick_id: str, image: Path, fault: str | None,
                             *expected: str, replace: bool = False, served_by: Path | None = None) -> str:
    """Plug a stick that must fail (hotplug.FAULTS[fault], full, or `served_by` an NBD server);
    `replace`: it holds the response already, and the operators type 'replace'. The screen must
    say so with one of `expected` and ask for another; pull it. Returns the failure as the screen
    said it."""
    console.see(phrase("Waiting for a stick"), f"the console asking for a stick before {stick_id}")
    hotplug.plug(console.vm, stick_id, image, fault=fault, served_by=served_by)
    choose_the_only_stick(console, stick_id)
    if replace:
        console.see(phrase("Type 'replace' to replace it"), f"{stick_id}: no question whether to replace the copy on it")
        console.answer("replace")
    # Up to the question that follows: the reason and the lists of what was and was not written.
    failure = console.see(r"(?s)Writing\s+to\s+stick\s.*?failed:.*?" + phrase("Insert another stick, or Enter"),
                          f"{stick_id}: no 'Writing to ... failed' and no question for another stick")
    told = failure_said(failure)
    if not any(text in " ".join(failure.group(0).split()) for text in expected):
        raise ScenarioFailed(f"{stick_id}: the failure on screen does not say {' or '.join(map(repr, expected))}: "
                             f"{told!r}")
    console.pull(stick_id)
    return told


def lying_stick_caught(console: Console, stick_id: str, lying: LyingStick) -> str:
    """Plug the stick that acknowledges every write and keeps none: the write succeeds, the
    read-back from the medium must fail it. The screen must list the copies as NOT verified,
    never say "Written and verified" for them, and ask for another stick. Returns the failure."""
    since = len(console.vm.console.text())  # not mark(): the question for a stick is still to be seen
    told = write_fails_then_another(console, stick_id, lying.image, None, "Written but NOT verified",
                                    served_by=lying.socket)
    shown = " ".join(console.vm.console.text()[since:].split())
    for never in ("Written and verified", "may be removed now"):
        if never in shown:
            raise ScenarioFailed(f"{stick_id}: the screen said {never!r} for a stick that kept nothing: {shown[-600:]!r}")
    if not lying.dropped_writes():
        raise ScenarioFailed(f"{stick_id}: the console said the write failed, but nothing was written to the stick")
    return told


def failure_said(failure: re.Match) -> str:
    """The first sentence of a failed write on screen: the rest is the screen's redraws around it."""
    block = " ".join(failure.group(0).split())
    return re.search(r"Writing to stick .*? failed: .*?\.(?=\s)", block + " ").group(0)


def kernel_set_read_only(console: Console) -> str:
    """The guest kernel's FAT messages, which must say it set a file system read-only."""
    _, said = run_in_guest(console.vm.shell, "dmesg | grep 'FAT-fs' | tail -n 4", console.timeout,
                           "the guest kernel's FAT messages")
    if "read-only" not in said:
        raise ScenarioFailed(f"the kernel did not set the stick read-only; its FAT messages:\n{said}")
    return " | ".join(line.split("] ", 1)[-1] for line in said.splitlines())


def pulled_around_the_read_back(console: Console, stick_id: str, image: Path, during: bool) -> tuple[str, str]:
    """Plug a stick, choose it, and pull it once the write is complete: with the console's
    process stopped before anything is read back, or (`during`, the stick's reads slowed) while a
    written file is open for its read-back. The screen must name the failure, list what is NOT
    verified and ask for another stick. Returns (the failure as the screen said it, what the
    guest saw at the pull)."""
    vm = console.vm
    console.see(phrase("Waiting for a stick"), f"the console asking for a stick before {stick_id}")
    hotplug.plug(vm, stick_id, image, slowable=during)
    console.see(phrase("Stick number (or 'cancel'):"), f"{stick_id}: no question which stick to write to")
    if during:
        hotplug.slow_reads(vm, stick_id, SLOW_READ_RATE)
    vm.shell.run(pull_watcher(during), timeout=console.timeout, reason="starting the pull watcher")
    console.answer("1")
    try:
        _, seen = run_in_guest(vm.shell, f"until [ -e {PULL_SIGNAL} ]; do sleep 0.05; done; cat {PULL_SIGNAL}",
                               console.timeout, f"{stick_id}: the write completing (the stick leaving its read-write mount)")
        hotplug.pull(vm, stick_id)
    finally:
        if not during:  # never leave the console stopped, whatever failed
            vm.shell.run(f"kill -CONT {CONSOLE_PID}", timeout=console.timeout, reason="resuming the console")
    opened = open_at_pull(seen)
    if during and not opened:
        raise ScenarioFailed(f"{stick_id}: pulled for 'during the read-back' with no file open: {seen}")
    if not during and opened:
        raise ScenarioFailed(f"{stick_id}: the read-back had begun before the console was stopped ({opened})")
    # Up to, not including, the request for another stick: the next stage waits for that.
    # Up to, not including, the request for another stick: the next stage waits for that. (Not
    # by label: the terminal's redraw skips characters that did not change, labels included.)
    failure = console.see(r"(?s)Writing\s+to\s+stick\s.*?failed:.*?(?=" + phrase("Waiting for a stick") + ")",
                          f"{stick_id}: no 'Writing to ... failed' and no request for another stick after the pull")
    block = " ".join(failure.group(0).split())
    told = failure_said(failure)
    if "NOT verified" not in block or (not during and "Written and verified" in block):
        raise ScenarioFailed(f"{stick_id}: the screen does not list the copies as NOT verified: {block[-600:]!r}")
    vm.shell.run(f"while grep -q ' {MEDIA_ROOT}/' /proc/mounts; do sleep 0.2; done",
                 timeout=console.timeout, reason=f"the appliance noticing that {stick_id} was pulled")
    where = ("a written file open for its read-back: " + opened if during
             else "the console stopped once the write was complete, nothing open for the read-back")
    return told, f"pulled with {where}"


def open_at_pull(seen: str) -> str:
    """The written files the watcher saw open at its cue ('' for none), from its report: an
    `open: FILES` line, then the stick's mounts (run_in_guest strips a bare trailing "open: ")."""
    found = re.search(r"^open:(.*)$", seen, re.MULTILINE)
    if found is None:
        raise ScenarioFailed(f"the pull watcher's report has no 'open:' line: {seen!r}")
    return found.group(1).strip()


def check_pulled_stick(image: Path, good: Path, response: str, what: str) -> str:
    """A stick pulled once its write was complete: fsck-clean (the write ended with an unmount)
    and, since the appliance wrote the same bytes again elsewhere, its response copy the same as
    the verified one; said NOT verified on screen, which is right: it was never read back."""
    sticks.check_clean(image)
    files = sticks.read_stick(image)
    if files.get(response) != sticks.read_stick(good).get(response):
        raise CheckFailed(f"{what}: its response copy is not the verified one although its write was complete")
    return f"{what}: fsck clean, holds {sorted(files)}; its response copy is the verified one (never read back there)"


def check_unverified_stick(image: Path, good: Path, response: str) -> str:
    """The stick that failed the read-back: its copies were written; said NOT verified. Reports
    whether its response is in fact the verified one (the host reads it after QEMU let go)."""
    files = sticks.read_stick(image)
    copy = files.get(response)
    verdict = ("absent" if copy is None else
               "identical to the verified copy" if copy == sticks.read_stick(good).get(response) else "different")
    return f"read-back stick: holds {sorted(files) or 'nothing'}; its response copy is {verdict}"


def damaged_request_stick(console: Console, image: Path) -> str:
    """'another', then a stick whose FAT is garbage: the console must say it holds no request or
    cannot be used, and go on; 'cancel' after the pull gives up the request. Returns what it said."""
    console.answer("another")
    console.see(phrase("Waiting for a stick"), "the request step asking for a stick")
    since = console.vm.console.mark()
    hotplug.plug(console.vm, "damaged", image)
    said = console.see(r"(?s)(cannot\s+list\s+the\s+files|No\s+request\s+\(KSR\)|cannot\s+be\s+used|"
                       r"Nothing\s+was\s+imported).*?"
                       r"(Insert\s+another\s+stick|Waiting\s+for\s+a\s+stick|Insert\s+the\s+stick\s+again)"
                       r"|" + phrase("Number of the request to import"),
                       "the damaged stick: no 'no request', 'cannot be used' or 'Nothing was imported'")
    shown = console.vm.console.text()[since:]
    if "Traceback" in shown or re.search(phrase("Number of the request"), shown):
        raise ScenarioFailed(f"the damaged stick: a traceback, or a request offered from it:\n{shown[-1500:]}")
    console.pull("damaged")
    time.sleep(2)  # the console has seen it go
    console.answer("cancel")  # the step ends at once: its last words are redrawn away by the next screen
    console.see(phrase("'another' or 'shutdown':"), "the request step did not end after 'cancel'")
    return " ".join(said.group(0).split())[:300]


def check_lying_stick(lying: LyingStick, as_plugged: str, good: Path, response: str) -> str:
    """The stick that kept nothing: its image byte for byte as plugged in, so no response on it;
    yet the writes it acknowledged (applied to its shadow copy only) carried the response whole,
    the same bytes as the verified copy: the guest did write it, and was told it was done."""
    if hashlib.sha256(lying.image.read_bytes()).hexdigest() != as_plugged:
        raise CheckFailed("lying stick: its image changed, although nbdkit was to keep no write")
    if response in sticks.read_stick(lying.image):
        raise CheckFailed(f"lying stick: {response} is on it")
    dropped = lying.dropped_writes()
    kept_elsewhere = sticks.read_stick(lying.shadow)
    if kept_elsewhere.get(response) != sticks.read_stick(good).get(response):
        raise CheckFailed(f"lying stick: the writes it acknowledged do not carry the verified response "
                          f"(had it kept them it would hold {sorted(kept_elsewhere)})")
    return (f"lying stick: unchanged, no {response}; it acknowledged and dropped {len(dropped)} writes "
            f"({sum(length for _, _, length in dropped)} bytes), which carried the verified response whole "
            f"and {sorted(set(kept_elsewhere) - {response})}")


def check_lying_attempt_logged(log: str) -> str:
    """The log on the good stick records the write to the lying stick as failed, its copies NOT verified."""
    attempt = re.search(r'to stick \S+ "LYING" \([^)]*\) \.\.\. failed after .{0,400}?NOT verified', flowing(log))
    if attempt is None:
        raise CheckFailed("the log does not record the write to the lying stick as failed and NOT verified")
    found = attempt.group(0)
    return f"log: {found[:140]} ... {found[-60:]}" if len(found) > 200 else f"log: {found}"


def check_failed_stick(image: Path, response: str, what: str) -> str:
    """A stick whose write failed: consistent enough for fsck to read, no response under its name
    unless it is whole (the final name never holds a partial file)."""
    files = sticks.read_stick(image)
    names = sorted(files)
    if response in files:
        raise CheckFailed(f"{what}: {response} is on the stick after a failed write ({len(files[response])} bytes)")
    partial = [name for name in names if name.endswith(".partial")]
    return f"{what}: holds {names or 'nothing'}{'; partial temp files: ' + str(partial) if partial else ''}"


def run(iso: Path, workdir: Path, kvm: bool, timeout: float, stages: Stages) -> None:
    with stages.stage("prepare the host (token, KSK, sticks)"):
        inputs = prepare(workdir)
        response = "skr" + inputs.request_name[3:]
        failing = sticks.make_stick(workdir / "failing-stick.img", "EIO", {})
        full = make_full_stick(workdir / "full-stick.img")
        unreadable = sticks.make_stick(workdir / "unreadable-stick.img", "READBACK", {})
        pulled_before = sticks.make_stick(workdir / "pulled-before-stick.img", "PULLBEFORE", {})  # label: the id, upper case
        pulled_during = sticks.make_stick(workdir / "pulled-during-stick.img", "PULLDURING", {})
        remount_ro, earlier_copy = make_remount_ro_stick(workdir / "remount-ro-stick.img", response)
        lying = LyingStick(sticks.make_stick(workdir / "lying-stick.img", "LYING", {}), workdir / "nbd")
        lying_sha256 = hashlib.sha256(lying.image.read_bytes()).hexdigest()
        good = sticks.make_stick(workdir / "good-stick.img", "GOOD", {})
        damaged = make_damaged_stick(workdir / "damaged-stick.img",
                                     {inputs.request_name: inputs.request, inputs.previous_name: inputs.previous})
        damaged_sha256 = hashlib.sha256(damaged.read_bytes()).hexdigest()
    bridge = HsmBridge(workdir / "vm", HOST_MODULE, inputs.host_hsm_environment)
    vm = VirtualMachine(iso, workdir / "vm", kvm=kvm, network_card=False,
                        extra_args=(*hotplug.XHCI_ARGS, *bridge.qemu_args()))
    console = Console(vm, timeout)
    told: dict[str, str] = {}
    try:
        with stages.stage("boot, clock, HSM"):
            vm.start()
            bridge.start()
            console.boot()
            console.set_clock()
            console.log_in(inputs.config_stick, inputs.pin, inputs.ksk_tag)
        with stages.stage("import, verbal check, sign"):
            console.import_valid_request("ksr", inputs.request_stick, inputs.request_name)
            console.verbal_check(inputs.request)
            console.answer("yes")
            console.see(phrase("Enter: write to"), "signing did not finish (no question where to write)")
            # One stick in at a time: the harness knows a stick is gone once nothing is mounted.
            console.pull("ksr")
            console.answer("other")
        with stages.stage("a stick that returns EIO on every write"):
            told["EIO"] = write_fails_then_another(console, "eio", failing, "write", "Input/output error")
        with stages.stage("a full stick"):
            told["full"] = write_fails_then_another(console, "full", full, None, "No space left on device")
        with stages.stage("a stick that fails the read-back (reads fail once written)"):
            told["read-back"] = write_fails_then_another(
                console, "unreadable", unreadable, "read-after-write",
                "Written but NOT verified", "Input/output error")  # FAT may read its table while writing
        with stages.stage("a stick pulled after the write, before the read-back"):
            told["pulled before the read-back"], told["pull 1"] = pulled_around_the_read_back(
                console, "pullbefore", pulled_before, during=False)
        with stages.stage("a stick pulled during the read-back"):
            told["pulled during the read-back"], told["pull 2"] = pulled_around_the_read_back(
                console, "pullduring", pulled_during, during=True)
        with stages.stage("a stick the kernel sets read-only after an error"):
            told["remount-ro"] = write_fails_then_another(
                console, "remountro", remount_ro, None, "Read-only file system", "Input/output error", replace=True)
            told["kernel"] = kernel_set_read_only(console)
        with stages.stage("a stick that acknowledges every write and keeps none"):
            lying.start()
            told["lying"] = lying_stick_caught(console, "lying", lying)
        with stages.stage("a good stick: written and verified"):
            console.see(phrase("Waiting for a stick"), "the console asking for a stick after the failing ones")
            hotplug.plug(vm, "good", good)
            choose_the_only_stick(console, "good")
            console.see(phrase("may be removed now"), "the response and the log were not written to the good stick")
            console.see(phrase("Press Enter to continue:"), "the end of the signing step")
            console.answer("")
            console.see(phrase("'another' or 'shutdown':"), "the question for another request")
            console.pull("good")
        with stages.stage("a request stick with a damaged FAT"):
            told["damaged"] = damaged_request_stick(console, damaged)
        with stages.stage("shut down, final log to the good stick"):
            console.shut_down("good-again", good)
            console.pull("good-again")
            console.end(timeout=120)
    finally:
        bridge.stop()
        vm.stop()
        lying.stop()
    with stages.stage("host: what is on each stick"):
        for name, said in told.items():
            print(f"fault-test:   screen, {name}: {said}")
        print("fault-test:   " + check_failed_stick(failing, response, "EIO stick"))
        print("fault-test:   " + check_failed_stick(full, response, "full stick"))
        print("fault-test:   " + check_unverified_stick(unreadable, good, response))
        print("fault-test:   " + check_pulled_stick(pulled_before, good, response, "stick pulled before the read-back"))
        print("fault-test:   " + check_pulled_stick(pulled_during, good, response, "stick pulled during the read-back"))
        print("fault-test:   " + check_read_only_stick(remount_ro, good, response, earlier_copy))
        print("fault-test:   " + check_lying_stick(lying, lying_sha256, good, response))
        sticks.check_clean(good)
        files = sticks.read_stick(good)
        logs = [name for name in files if name.endswith(".log")]
        if response not in files or len(logs) != 1:
            raise CheckFailed(f"the good stick holds {sorted(files)}, not the response and one log")
        out = workdir / "from-good-stick"
        out.mkdir()
        for name, data in files.items():
            (out / name).write_bytes(data)
        (out / inputs.request_name).write_bytes(inputs.request)
        print("fault-test:   " + verify_with_cli(out / response, out / inputs.request_name, inputs.trust_anchor))
        print("fault-test:   " + verify_with_dnspython(files[response], ksk_rrset(inputs.ksk_line)))
        log = files[logs[0]].decode("utf-8", "replace")
        print("fault-test:   " + check_log(log, {
            "the EIO attempt": "Input/output error",
            "the full stick's attempt": "No space left on device",
            "a stick removed during a write": "the stick was removed",
            "the read-only file system": "Read-only file system",
            "what was NOT written": "NOT written",
            "what was NOT verified": "NOT verified",
            "the verified write": f"{response} on stick",
        }))
        print("fault-test:   " + check_lying_attempt_logged(log))
        print("fault-test:   " + signed_once(log, inputs.request_name))
        if hashlib.sha256(damaged.read_bytes()).hexdigest() != damaged_sha256:
            raise CheckFailed("the damaged request stick was changed (it is mounted read-only)")
        print("fault-test:   damaged stick: byte for byte as plugged in")
        sticks.check_clean(inputs.request_stick)
        if response in sticks.read_stick(inputs.request_stick):
            raise CheckFailed("the response went to the request's stick although 'other' was typed")
    if bridge.failure:
        raise StageFailed("HSM bridge", bridge.failure)


def signed_once(log: str, request_name: str) -> str:
    """Eight write attempts, one signing: the log must say the request was signed once."""
    signings = len(re.findall(rf"Signed {re.escape(request_name)} at ", log))
    if signings != 1 or "SECOND SIGNING" in log:
        raise CheckFailed(f"the log records {signings} signing(s) of {request_name}, or a second signing")
    return f"log: {request_name} signed once, no second signing"


def check_read_only_stick(image: Path, good: Path, response: str, earlier: bytes) -> str:
    """The stick the kernel set read-only: what fsck says, and that the response's name holds a
    whole file, the earlier copy or the new response, never a part of one."""
    checked = subprocess.run(["fsck.vfat", "-n", str(image)], capture_output=True, text=True)
    findings = [line.strip() for line in checked.stdout.splitlines()[1:3]]
    state = "fsck clean" if checked.returncode == 0 else "fsck: " + " ".join(findings)
    names = sticks.list_stick(image)
    try:
        copy = sticks.read_file(image, response) if response in names else None
    except sticks.StickError:
        copy = b"unreadable"  # mtools meets the broken chain: the earlier copy, as plugged in
    verdict = ("absent" if copy is None else "the earlier copy, its chain still broken" if copy == b"unreadable"
               else "the earlier copy" if copy == earlier
               else "the verified response" if copy == sticks.read_file(good, response) else None)
    if verdict is None:
        raise CheckFailed(f"read-only stick: {response} holds {len(copy)} bytes, neither copy whole")
    return f"read-only stick: {state}; holds {names}; its {response} is {verdict}"


def main() -> int:
    return one_boot_main(__doc__.splitlines()[0], "fault-test", run, "vm/ttyS0.log: the console, vm/ttyS1.log: the shell")


if __name__ == "__main__":
    sys.exit(main())
