"""Where a boot's time goes, stage by stage, from QEMU's start to the ceremony console's first screen
(`make boot-test` prints these; `make bench` shows the last run's figures from image/out/).

The host knows two instants on its own clock (seconds since QEMU started): when the first screen
appeared on the serial port, and when the guest answered `cat /proc/uptime`, which places the
kernel's start on the host's clock (TCG's virtual clock follows the host's). Everything between
comes from the guest's own monotonic clock (seconds since the kernel started):

    firmware           QEMU's start to the kernel's: firmware, boot menu, loading kernel and initrd
    kernel             to the kernel running the initramfs's /init (dmesg "Run /init as init process")
    initramfs          to the initramfs handing over to /sbin/init (dmesg line of our init-bottom
                       script; without it, to systemd's main())
    toram copy         part of the initramfs: the last ISO 9660 mount (the boot medium found) to the
                       loop device set up on the copy in RAM (dmesg "loop0: detected capacity change")
    systemd start      /sbin/init exec'd to systemd's main() (needs the init-bottom line)
    systemd to basic.target
    to console process basic.target to the console's process started (its unit is Type=idle)
    console start      the console's process to its first screen (Python imports, first draw)
    first screen       QEMU's start to the first screen: the sum of the above
"""
from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

STAGES = ("firmware", "kernel", "initramfs", "toram copy", "systemd start", "systemd to basic.target",
          "to console process", "console start", "first screen")
# Written by live-build/config/includes.chroot/etc/initramfs-tools/scripts/init-bottom/ceremony-boot-time
INITRAMFS_DONE = "ceremony: leaving the initramfs"
_DMESG_LINE = re.compile(r"^\[\s*(\d+\.\d+)\]\s?(.*)$")
_DMESG_MARKS = "Run /init as init process|ISO 9660 Extensions|loop[0-9]+: detected capacity change|" + INITRAMFS_DONE


def guest_command(console_unit: str) -> str:
    """One shell command for the guest: systemd's three timestamps (microseconds of CLOCK_MONOTONIC),
    one a line, then the dmesg lines the stages start and end at."""
    return (f"systemctl show -p UserspaceTimestampMonotonic --value; "
            f"systemctl show -p ActiveEnterTimestampMonotonic --value basic.target; "
            f"systemctl show -p ExecMainStartTimestampMonotonic --value {console_unit}; "
            f"dmesg | grep -E '{_DMESG_MARKS}' || true")


def _dmesg_times(lines: list[str], pattern: str) -> list[float]:
    regex = re.compile(pattern)
    times = []
    for line in lines:
        match = _DMESG_LINE.match(line)
        if match and regex.search(match.group(2)):
            times.append(float(match.group(1)))
    return times


def stages(guest_output: str, kernel_started: float, first_screen: float) -> dict[str, float | None]:
    """The stages in seconds (None where the guest did not show the marks a stage needs).
    `guest_output` is what guest_command() printed; `kernel_started` and `first_screen` are on
    the host's clock, seconds since QEMU started. Raises ValueError on output of another shape."""
    lines = guest_output.splitlines()
    if len(lines) < 3:
        raise ValueError(f"expected systemd's three timestamps, got {guest_output[:200]!r}")
    try:
        userspace, basic, console = (int(value) / 1e6 for value in lines[:3])
    except ValueError:
        raise ValueError(f"systemd's timestamps are not numbers: {lines[:3]!r}") from None
    dmesg = lines[3:]
    init = _dmesg_times(dmesg, r"^Run /init as init process")
    handover = _dmesg_times(dmesg, re.escape(INITRAMFS_DONE))
    loop = _dmesg_times(dmesg, r"^loop\d+: detected capacity change")
    toram = None
    if loop:
        medium = [t for t in _dmesg_times(dmesg, r"^ISO 9660 Extensions") if t <= loop[0]]
        toram = loop[0] - medium[-1] if medium else None
    initramfs_end = handover[0] if handover else userspace
    result = {
        "firmware": kernel_started,
        "kernel": init[0] if init else None,
        "initramfs": initramfs_end - init[0] if init else None,
        "toram copy": toram,
        "systemd start": userspace - handover[0] if handover else None,
        "systemd to basic.target": basic - userspace if basic and userspace else None,
        "to console process": console - basic if console and basic else None,
        "console start": first_screen - kernel_started - console if console else None,
        "first screen": first_screen,
    }
    return {name: (round(value, 1) if value is not None else None) for name, value in result.items()}


def summary(measured: dict[str, float | None]) -> str:
    """One line: each stage that was measured, in order."""
    return ", ".join(f"{name} {measured[name]:.1f}s" for name in STAGES if measured.get(name) is not None)


def median(boots: list[dict[str, float | None]]) -> dict[str, float | None]:
    """Each stage's median over the boots that measured it."""
    result = {}
    for name in STAGES:
        values = [boot[name] for boot in boots if boot.get(name) is not None]
        result[name] = round(statistics.median(values), 1) if values else None
    return result


def save(path: Path, label: str, boots: list[dict[str, float | None]], load: str, when: str) -> None:
    """Keep one firmware's boots (and the machine's load average) in the JSON file at `path`,
    beside the other firmwares' figures of earlier runs."""
    record = json.loads(path.read_text()) if path.exists() else {}
    record[label] = {"when": when, "load": load, "boots": boots, "median": median(boots)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")


def load(path: Path) -> dict:
    """What save() kept; {} when no boot test has run."""
    return json.loads(path.read_text()) if path.exists() else {}
