"""Measuring that a ceremony left nothing behind and sent nothing out.

In the guest, once the ceremony has shut down (HSM logged out, final log written) and waits only
for the last Enter that switches the machine off (through the administrator's shell): every file on
every RAM-backed file system (tmpfs, ramfs, devtmpfs: the root overlay's writable layer, /run,
/tmp, /dev/shm, the volatile journal) and the kernel's and journal's messages (decompressed by
journalctl) are searched for texts only this session knew: the request's and the response's
SHA-256, their file names, the log's name. The read-only squashfs was built before the session
and cannot hold them. The texts travel base64-encoded, so the administrator shell's own
transcript (kept in RAM, /var/log/ceremony-admin) does not contain them and match itself.
Not searched: the memory of the ceremony's own process, which still runs, and RAM the kernel
has freed; the power-off that follows (`ceremony run --poweroff`, which the test waits for) ends
both, on a laptop without a battery.

On the host: everything the guest's network card sent is captured by QEMU (filter-dump) into a
pcap file; it must hold no packet. The internal disk's image must hash the same after as before.
"""
from __future__ import annotations

import base64
import hashlib
import json
import struct
from pathlib import Path

# Runs in the guest: prints one line per place holding a session text, then "scanned N files".
_GUEST_SCAN = r"""
import base64, mmap, os, subprocess, sys
marks = [m.encode() for m in __import__("json").loads(base64.b64decode(sys.argv[1]))]
hits, files = [], 0
def look(where, data):
    for n, mark in enumerate(marks):
        if data.find(mark) >= 0:
            hits.append(f"{where} holds session text {n + 1}")
tops = [l.split()[1] for l in open("/proc/self/mounts") if l.split()[2] in ("tmpfs", "ramfs", "devtmpfs")]
for top in tops:
    dev = os.lstat(top).st_dev
    for root, dirs, names in os.walk(top):
        dirs[:] = [d for d in dirs if os.lstat(os.path.join(root, d)).st_dev == dev]
        for name in names:
            path = os.path.join(root, name)
            try:
                if os.path.islink(path) or not os.path.isfile(path) or os.path.getsize(path) == 0:
                    continue
                with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
                    files += 1
                    look(path, data)
            except OSError:
                continue
for name, command in (("kernel log", ["dmesg"]), ("journal", ["journalctl", "-b", "-o", "export"])):
    look(name, subprocess.run(command, capture_output=True).stdout)
print("\n".join(sorted(set(hits))))
print(f"scanned {files} files")
"""


def guest_scan_command(session_texts: list[str]) -> str:
    """A shell command for the guest; its output lists the places holding any of the texts."""
    script = base64.b64encode(_GUEST_SCAN.encode()).decode()
    texts = base64.b64encode(json.dumps(session_texts).encode()).decode()
    return f"python3 -c \"$(echo {script} | base64 -d)\" {texts}"


def network_args(pcap: Path) -> tuple[str, ...]:
    """A network card the appliance must leave down, cut off from the host (restrict=on), with
    every frame it sends captured to `pcap`."""
    return ("-netdev", "user,id=net0,restrict=on",
            "-device", "virtio-net-pci,netdev=net0",
            "-object", f"filter-dump,id=net0-dump,netdev=net0,queue=tx,file={pcap}")


def pcap_packets(pcap: Path) -> int:
    """How many packets a pcap file holds (a missing file: QEMU never wrote one, also none)."""
    if not pcap.exists():
        return 0
    data = pcap.read_bytes()
    position, count = 24, 0  # after the global header
    while position + 16 <= len(data):
        (captured,) = struct.unpack_from("<I", data, position + 8)
        position += 16 + captured
        count += 1
    return count


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
