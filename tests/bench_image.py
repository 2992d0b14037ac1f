"""The DVD's size against its goal: well below COEN's 238 MB (README "The DVD image"), and where the
last `make boot-test` spent each firmware's boot, stage by stage (image/boot_stages.py). Reads what
`make image` and `make boot-test` left in image/out/: they take minutes, too slow for `make bench`."""
from __future__ import annotations

import subprocess
from pathlib import Path

from image import boot_stages
from image.boot_test import STAGE_TIMES

ISO = Path(__file__).resolve().parent.parent / "image" / "out" / "ceremony.iso"
COEN_FIRST_RELEASE_MB = 238
# The DVD before CUPS came in (CUPS, cups-filters, ghostscript; docs/printing.md "The DVD's size"):
# `make image` of main at 4683286 (reportlab already in): 169,869,312 and 116,731,904 bytes.
BEFORE_PRINTING_MB = {"ISO": 169.9, "/live/filesystem.squashfs": 116.7}


def main() -> None:
    if not ISO.exists():
        print(f"  {ISO} does not exist: run `make image` first")
        return
    size = ISO.stat().st_size / 1e6
    print(f"  ISO: {size:.1f} MB, {size / COEN_FIRST_RELEASE_MB:.0%} of COEN's first release ({COEN_FIRST_RELEASE_MB} MB)")
    print(f"    before CUPS: {BEFORE_PRINTING_MB['ISO']:.1f} MB; printing added {size - BEFORE_PRINTING_MB['ISO']:+.1f} MB")
    listing = subprocess.run(["xorriso", "-indev", str(ISO), "-find", "/live", "-type", "f", "-exec", "lsdl"],
                             capture_output=True, text=True).stdout
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) >= 9 and fields[4].isdigit():
            name, megabytes = fields[-1].strip(chr(39)), int(fields[4]) / 1e6
            before = BEFORE_PRINTING_MB.get(name)
            print(f"    {name}: {megabytes:.1f} MB" + (f" (before CUPS {before:.1f} MB, {megabytes - before:+.1f} MB)"
                                                       if before is not None else ""))
    _boot_stages()


def _boot_stages() -> None:
    kept = boot_stages.load(STAGE_TIMES)
    if not kept:
        print(f"  {STAGE_TIMES} does not exist: run `make boot-test` for the boot's stage times")
        return
    for label, record in sorted(kept.items()):
        print(f"  boot to the first screen, {label}, median of {len(record['boots'])} "
              f"({record['when']}, load average {record['load']}): {boot_stages.summary(record['median'])}")
