"""`make boot-test`: boot the ceremony DVD under QEMU (TCG) with SeaBIOS, with OVMF (UEFI) and with
OVMF under Secure Boot, choose the boot menu's "serial console" entry over the serial port, wait for
the ceremony console's first screen ("Set the clock") on ttyS0, then check the running system through
the administrator's shell on ttyS1: booted the way the firmware says (Secure Boot on or off, kernel
locked down or not), no swap, nothing listening, no interface up but lo, root file system in RAM (the
virtual DVD is ejected and the system keeps working), blacklisted modules not loadable, and what the
ceremony needs from a kernel that may be locked down: signed modules load (an unsigned one only
without Secure Boot), a stick's file system mounts, the clock can be set.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from image import boot_stages
from image.build import DEFAULT_ISO, OUT_DIR
from image.firmware import FIRMWARES
from image.qemu import VirtualMachine, VmError

# What the first screen of `ceremony run` says (appliance/console).
CONSOLE_FIRST_SCREEN = r"Set\s+the\s+clock"
# The serial console entry's hotkey, then Enter (isolinux needs it; GRUB has booted by then). Plain
# keys: an arrow key's escape sequence, split by a slow guest, reads as a lone Escape.
CHOOSE_SERIAL_ENTRY = "s\r"
MENU_MARKER = r"Serial console"  # isolinux and GRUB name the entry alike
CONSOLE_UNIT = "ceremony@ttyS0.service"  # the serial entry's console
# Each firmware's stage times of the last run (make bench prints them beside the ISO's size).
STAGE_TIMES = OUT_DIR / "boot-stages.json"
BLACKLISTED_MODULES = ("cfg80211", "mac80211", "bluetooth", "btusb", "soundcore", "snd",
                       "snd_hda_intel", "videodev", "uvcvideo", "firewire_core", "thunderbolt")


@dataclass(frozen=True)
class Check:
    name: str
    command: str
    expected: str  # the command's whole output when the check passes


CHECKS = (
    Check("no swap", "tail -n +2 /proc/swaps", ""),
    Check("no listening sockets (ss -lntu)", "ss -H -lntu", ""),
    Check("cupsd not started at boot, only its Unix socket waits (docs/printing.md)",
          "systemctl is-active cups.service cups.socket | paste -sd ' '", "inactive active"),
    Check("no interface up but lo", "ip -o link show up | cut -d: -f2 | tr -d ' '", "lo"),
    Check("root file system is an overlay", "findmnt -n -o FSTYPE /", "overlay"),
    Check("its writable layer is in RAM",
          "findmnt -n -o FSTYPE --target \"$(findmnt -n -o OPTIONS / | tr , '\\n' "
          "| sed -n 's/^upperdir=//p')\"", "tmpfs"),
    Check("no disk or DVD file system mounted (toram)",
          "findmnt -rn -o SOURCE,TARGET,FSTYPE | grep '^/dev/' | grep -v '^/dev/loop' || true", ""),
    Check("blacklisted modules not loadable",
          "for m in " + " ".join(BLACKLISTED_MODULES) + "; do modprobe $m 2>/dev/null && echo loaded:$m; done; "
          "lsmod | awk 'NR > 1 {print $1}' | grep -x -E '" + "|".join(BLACKLISTED_MODULES) + "' || true",
          ""),
)
# What the boot does not spend its time on (docs/dvd.md, "Where the boot's time goes"): no
# live-config reconfiguring the system; systemd's first-boot-after-an-update units skipped by the
# build's stamps (ConditionNeedsUpdate=); only the squashfs copied to RAM; drivers nobody uses
# left unloaded. /etc/hosts, which live-config used to write, comes with the image.
UNUSED_MODULES = ("kvm", "kvm_intel", "kvm_amd", "parport", "parport_pc", "ppdev", "lp", "pcspkr",
                  "psmouse", "serio_raw", "iTCO_wdt", "efi_pstore", "bochs", "vga16fb")
_UPDATE_UNITS = ("ldconfig", "systemd-journal-catalog-update", "systemd-sysusers", "systemd-update-done")
# Early units with nothing to do on an amnesic live system (docs/dvd.md, "Where the boot's time goes").
_MASKED_EARLY_UNITS = ("systemd-random-seed", "systemd-journal-flush", "systemd-udev-load-credentials",
                       "kmod-static-nodes", "systemd-modules-load")
BOOT_COSTS = (
    Check("no live-config", "dpkg-query -W live-config > /dev/null 2>&1 && echo installed || echo absent", "absent"),
    Check("first-boot units skipped (.updated stamps)",
          "for u in " + " ".join(_UPDATE_UNITS) + "; do systemctl show -p ConditionResult --value $u.service; done "
          "| sort -u", "no"),
    Check("early units with nothing to do masked",
          "for u in " + " ".join(_MASKED_EARLY_UNITS) + "; do systemctl show -p LoadState --value $u.service; done "
          "| sort -u", "masked"),
    Check("the initramfs's programs still held (no stall at systemd's start under TCG)",
          "n=$(ls /proc/$(pgrep -o -x tail)/fd 2>/dev/null | wc -l); [ \"$n\" -gt 300 ] && echo held || echo \"$n files\"",
          "held"),
    Check("only the squashfs copied to RAM", "find /run/live/medium -type f", "/run/live/medium/filesystem.squashfs"),
    Check("unused drivers not loaded (printing's load with cupsd)",
          "lsmod | awk 'NR > 1 {print $1}' | grep -x -E '" + "|".join(UNUSED_MODULES) + "' || true", ""),
    Check("/etc/hosts names the machine", "getent hosts ceremony | tr -s ' '", "127.0.0.1 localhost ceremony"),
)
# What a locked-down kernel (Secure Boot) could refuse and the ceremony needs, checked under every
# firmware: loading Debian's signed modules (vfat, not loaded at boot), mounting a stick's file
# system the way the appliance does, and clock_settime (the console's first step sets the clock).
LOCKDOWN_SENSITIVE = (
    Check("signed modules load and a vfat stick mounts",
          "truncate -s 8M /tmp/stick.img && mkfs.vfat /tmp/stick.img > /dev/null && mkdir -p /tmp/stick "
          "&& mount -t vfat -o loop,ro,nodev,nosuid,noexec /tmp/stick.img /tmp/stick "
          "&& umount /tmp/stick && rm /tmp/stick.img && grep -c '^vfat ' /proc/modules",
          "1"),
    Check("the clock can be set (clock_settime)", "date -u -s \"@$(date +%s)\" > /dev/null && echo set", "set"),
)

# Which firmware booted the system, and whether Secure Boot is on, seen three ways: the firmware's
# SecureBoot variable (its last byte; the first four are attributes), the kernel's own message, and
# the kernel's lockdown (Debian's kernel locks itself down when, and only when, Secure Boot is on).
_SECURE_BOOT_VARIABLE = "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
BOOTED_BY = Check("booted by", "test -d /sys/firmware/efi && echo uefi || echo bios", "")
SECURE_BOOT_VARIABLE = Check(
    "firmware's SecureBoot variable",
    f"if [ -e {_SECURE_BOOT_VARIABLE} ]; then tail -c 1 {_SECURE_BOOT_VARIABLE} | od -An -tu1 | tr -d ' '; "
    "else echo absent; fi", "")
KERNEL_SAYS = Check("kernel's Secure Boot message", "dmesg | sed -n 's/.*secureboot: //p'", "")
LOCKDOWN = Check("kernel lockdown", "sed -n 's/.*\\[\\(.*\\)\\].*/\\1/p' /sys/kernel/security/lockdown", "")
# The kernel's half of the chain: under Secure Boot a module without Debian's signature must not
# load. exfat (kept for sticks, not loaded at boot) with its appended signature cut off: the
# signature, a 12-byte trailer whose last 4 bytes are its length (big-endian), and a fixed marker.
_STRIP_SIGNATURE = (
    "import glob, lzma; "
    "p = glob.glob('/usr/lib/modules/*/kernel/fs/exfat/exfat.ko*')[0]; "
    "d = (lzma.open(p) if p.endswith('.xz') else open(p, 'rb')).read(); "
    "m = b'~Module signature appended~\\n'; assert d.endswith(m), p; "
    "n = int.from_bytes(d[-len(m) - 4:-len(m)], 'big'); "
    "open('/tmp/unsigned.ko', 'wb').write(d[:-len(m) - 12 - n])")
UNSIGNED_MODULE = Check(
    "a module without its signature",
    f"python3 -c \"{_STRIP_SIGNATURE}\" && if insmod /tmp/unsigned.ko 2>/dev/null; "
    "then rmmod exfat; echo loaded; else echo refused; fi; rm -f /tmp/unsigned.ko", "")


def firmware_checks(firmware: str) -> tuple[Check, ...]:
    """The checks that the system booted the way `firmware` boots it: each expects what that
    firmware alone gives, so a DVD whose Secure Boot path silently fell back (or a VM started
    without it) fails here."""
    if firmware == "bios":
        return (_expect(BOOTED_BY, "bios"), _expect(LOCKDOWN, "none"), _expect(UNSIGNED_MODULE, "loaded"))
    secure = FIRMWARES[firmware].secure_boot
    return (_expect(BOOTED_BY, "uefi"),
            _expect(SECURE_BOOT_VARIABLE, "1" if secure else "0"),
            _expect(KERNEL_SAYS, "Secure boot enabled" if secure else "Secure boot disabled"),
            _expect(LOCKDOWN, "integrity" if secure else "none"),
            _expect(UNSIGNED_MODULE, "refused" if secure else "loaded"))


def _expect(check: Check, expected: str) -> Check:
    return Check(f"{check.name}: {expected}", check.command, expected)


# With the DVD ejected (or the stick pulled) the system must still read files it has not read before.
AFTER_EJECT = Check("still works with the boot medium gone",
                    "echo 3 > /proc/sys/vm/drop_caches; python3 -c 'import appliance.cli, pkcs11' "
                    "&& find /usr -type f -exec cat {} + > /dev/null && echo ok", "ok")


def boot(iso: Path, firmware: str, medium: str, kvm: bool, timeout: float, workdir: Path,
         checks: bool = True) -> tuple[list[str], dict[str, float | None]]:
    """Boot once; returns the failed checks (empty when all passed, and when `checks` is false: a
    boot that only measures) and the stage times (image/boot_stages.py). Raises VmError if it never
    reaches the ceremony console or the administrator's shell."""
    failures = []
    label = f"{firmware}/{medium}"
    with VirtualMachine(iso, workdir, firmware=firmware, kvm=kvm, medium=medium) as vm:
        vm.console.expect(MENU_MARKER, timeout, f"{firmware} boot menu")
        vm.console.type(CHOOSE_SERIAL_ENTRY, delay=0.2)
        vm.console.expect(CONSOLE_FIRST_SCREEN, timeout, "ceremony console's first screen")
        first_screen = vm.seconds_since_start()
        print(f"boot-test [{label}]: ceremony console after {first_screen:.0f}s", flush=True)
        vm.shell.wait_ready(timeout=120)
        measured = _stage_times(vm, first_screen)
        print(f"boot-test [{label}]: stages: {boot_stages.summary(measured)}", flush=True)
        if not checks:
            return [], measured
        for check in firmware_checks(firmware) + CHECKS + BOOT_COSTS + LOCKDOWN_SENSITIVE:
            failures += _run_check(vm, label, check)
        if medium == "dvd":
            vm.qmp("eject", id="cdrom", force=True)
        else:
            vm.qmp("device_del", id="bootstick")  # the stick is pulled
        failures += _run_check(vm, label, AFTER_EJECT, timeout=600)
    return failures, measured


def _stage_times(vm: VirtualMachine, first_screen: float) -> dict[str, float | None]:
    """The guest's uptime places its kernel's start on the host's clock; then its own timestamps."""
    status, uptime = vm.shell.run("cat /proc/uptime", reason="the guest's uptime")
    kernel_started = vm.seconds_since_start() - float(uptime.split()[0])
    status, output = vm.shell.run(boot_stages.guest_command(CONSOLE_UNIT), reason="the guest's boot timestamps")
    try:
        return boot_stages.stages(output, kernel_started, first_screen)
    except ValueError as error:
        raise VmError(f"boot stages: {error}") from None


def _run_check(vm: VirtualMachine, label: str, check: Check, timeout: float = 60) -> list[str]:
    status, output = vm.shell.run(check.command, timeout=timeout, reason=check.name)
    passed = status == 0 and output == check.expected
    print(f"boot-test [{label}]: {'PASS' if passed else 'FAIL'} {check.name}"
          + ("" if passed else f": exit {status}, output {output!r}, expected {check.expected!r}"),
          flush=True)
    return [] if passed else [f"{label}: {check.name}"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iso", type=Path, default=DEFAULT_ISO)
    parser.add_argument("--firmware", action="append", choices=tuple(FIRMWARES),
                        help="boot with this firmware (default: all three, in this order)")
    parser.add_argument("--medium", choices=("dvd", "usb"), default="dvd",
                        help="boot from a DVD drive (default) or a USB stick")
    parser.add_argument("--kvm", action="store_true", help="use KVM instead of TCG")
    parser.add_argument("--timeout", type=float, default=600, help="seconds allowed for each wait")
    parser.add_argument("--boots", type=int, default=1,
                        help="boots per firmware: the first runs the checks, the others only measure the "
                             "stage times; each stage's median is printed (default 1)")
    args = parser.parse_args()
    if not args.iso.exists():
        print(f"boot-test: {args.iso} does not exist: run `make image` first", file=sys.stderr)
        return 2
    failures = []
    for firmware in args.firmware or list(FIRMWARES):
        label = f"{firmware}/{args.medium}"
        measured = []
        for number in range(args.boots):
            workdir = Path(tempfile.mkdtemp(prefix=f"boot-test-{firmware}-{args.medium}-"))
            started = time.monotonic()
            try:
                failed, stages = boot(args.iso, firmware, args.medium, args.kvm, args.timeout, workdir,
                                      checks=number == 0)
                measured.append(stages)
            except VmError as error:
                failed = [f"{label}: {error}"]
                print(f"boot-test [{label}]: FAIL {error}", flush=True)
            if failed:
                print(f"boot-test [{label}]: serial logs kept in {workdir}", flush=True)
            else:
                shutil.rmtree(workdir)
            failures += failed
            print(f"boot-test [{label}]: {time.monotonic() - started:.0f}s in all", flush=True)
        if measured:
            load = " ".join(f"{value:.2f}" for value in os.getloadavg())
            boot_stages.save(STAGE_TIMES, label, measured, load, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
            print(f"boot-test [{label}]: median of {len(measured)} boot(s): "
                  f"{boot_stages.summary(boot_stages.median(measured))} (load average {load})", flush=True)
    if failures:
        print("boot-test: FAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    print("boot-test: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
