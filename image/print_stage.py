"""`make qemu-test`'s print stage: the guest prints the ceremony log on QEMU's parallel port, whose
bytes land in a host file; the host renders them (ghostscript) and reads them back (pdftotext), and
they must be the log on the stick, page for page, every footer with its page number and hash.

QEMU's parallel port carries no IEEE 1284 device id, so the appliance cannot choose a driver for it
by itself: the administrator's shell gives it a queue with the generic PostScript driver, as
docs/printing.md tells an administrator to do for such a printer.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

from image.host_checks import CheckFailed
from image.paper_checks import PaperMismatch, check_pages, postscript_pages, rendered_page_count
from image.scenario import ScenarioFailed, run_in_guest

QUEUE = "lpt"
# lpadmin starts cupsd (socket activation), which loads the port's drivers (cups.service.d/parallel-port.conf);
# the queue is there once lp has claimed the port.
ADD_QUEUE = (f"lpadmin -p {QUEUE} -E -v parallel:/dev/lp0 -m drv:///sample.drv/generic.ppd && "
             f"for i in $(seq 30); do [ -e /sys/class/printer/lp0 ] && break; sleep 1; done; "
             f"[ -e /sys/class/printer/lp0 ] && lpstat -p {QUEUE}")


def qemu_args(port_file: Path) -> tuple[str, ...]:
    """An ISA parallel port whose output goes to `port_file` on the host."""
    return ("-chardev", f"file,id=lpt,path={port_file}", "-device", "isa-parallel,chardev=lpt")


def add_queue(shell, timeout: float) -> str:
    status, output = run_in_guest(shell, ADD_QUEUE, timeout=timeout, reason="adding the parallel port's queue")
    if status != 0:
        raise ScenarioFailed(f"the guest could not add a queue for its parallel port (exit {status}): {output}")
    return output


def wait_for_bytes(port_file: Path, settle: float = 3.0, timeout: float = 60.0) -> int:
    """The port's file once it has stopped growing (QEMU writes as the guest sends)."""
    deadline = time.monotonic() + timeout
    size, steady_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = port_file.stat().st_size if port_file.exists() else 0
        if now != size:
            size, steady_since = now, time.monotonic()
        elif size > 0 and time.monotonic() - steady_since >= settle:
            return size
        time.sleep(0.5)
    raise CheckFailed(f"nothing came out of the parallel port ({max(size, 0)} bytes in {timeout:.0f}s)")


def check_printed(port_file: Path, log: bytes, started: str, workdir: Path) -> str:
    """The PostScript from the port against the log; on a mismatch one rendered page is kept in
    `workdir` (print-page-001.png) beside the port's bytes."""
    size = wait_for_bytes(port_file)
    out = workdir / "printed"
    out.mkdir(exist_ok=True)
    rendered = rendered_page_count(port_file, out)
    try:
        pages = postscript_pages(port_file, out)
        if rendered != len(pages):
            raise PaperMismatch(f"ghostscript rendered {rendered} pages, the text has {len(pages)}")
        check_pages(pages, log, "a4", started)
    except PaperMismatch as mismatch:
        kept = workdir / "print-page-001.png"
        if (out / "rendered" / "page-001.png").exists():
            shutil.copy(out / "rendered" / "page-001.png", kept)
        raise CheckFailed(f"the printed log is not the log on the stick: {mismatch} "
                          f"(port output {port_file}, first page {kept})") from None
    return (f"{size} bytes of PostScript from the parallel port, {rendered} pages rendered; their text is "
            f"the log on the stick line for line, every footer with its page number and the log's hash")
