"""The DVD's size against its goal: well below COEN's 238 MB (README "The DVD image"). Reads the
ISO `make image` left in image/out/; build and boot times are printed by `make image` and
`make boot-test` themselves (minutes each, too slow for `make bench`)."""
from __future__ import annotations

import subprocess
from pathlib import Path

ISO = Path(__file__).resolve().parent.parent / "image" / "out" / "ceremony.iso"
COEN_FIRST_RELEASE_MB = 238
# The ISO before printing came in (CUPS, cups-filters, ghostscript, reportlab; docs/printing.md): main at
# 897cc1a, 140,509,184 bytes, measured with `make image`.
BEFORE_PRINTING_MB = 140.5


def main() -> None:
    if not ISO.exists():
        print(f"  {ISO} does not exist: run `make image` first")
        return
    size = ISO.stat().st_size / 1e6
    print(f"  ISO: {size:.1f} MB, {size / COEN_FIRST_RELEASE_MB:.0%} of COEN's first release ({COEN_FIRST_RELEASE_MB} MB)")
    print(f"  before printing: {BEFORE_PRINTING_MB:.1f} MB; printing added {size - BEFORE_PRINTING_MB:+.1f} MB")
    listing = subprocess.run(["xorriso", "-indev", str(ISO), "-find", "/live", "-type", "f", "-exec", "lsdl"],
                             capture_output=True, text=True).stdout
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) >= 9 and fields[4].isdigit():
            print(f"    {fields[-1].strip(chr(39))}: {int(fields[4]) / 1e6:.1f} MB")
