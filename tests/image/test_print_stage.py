"""The host side of `make qemu-test`'s print stage, without booting: PostScript as a printer's port
would carry it (made here with poppler's pdftops from the appliance's PDF) checked against the log."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from appliance.printing.document import build_log_pdf
from image import print_stage
from image.host_checks import CheckFailed

LOG = Path(__file__).resolve().parents[1] / "printing" / "fixtures" / "ceremony-20261130T143706Z.log"
pytestmark = pytest.mark.skipif(not all(shutil.which(t) for t in ("pdftops", "ps2pdf", "pdftotext", "gs")),
                                reason="needs poppler-utils and ghostscript (make setup installs them as root)")


def port_bytes(tmp_path: Path, log: bytes) -> Path:
    pdf = tmp_path / "job.pdf"
    pdf.write_bytes(build_log_pdf(log).pdf)
    port = tmp_path / "parallel-port.out"
    subprocess.run(["pdftops", str(pdf), str(port)], check=True)
    return port


def test_the_printed_log_passes(tmp_path):
    log = LOG.read_bytes()
    said = print_stage.check_printed(port_bytes(tmp_path, log), log, "2026-11-30T14:37:06Z", tmp_path)
    assert "4 pages rendered" in said


def test_another_log_on_paper_fails_and_keeps_a_page(tmp_path):
    log = LOG.read_bytes()
    port = port_bytes(tmp_path, log.replace(b"KSK-demo", b"KSK-evil"))
    with pytest.raises(CheckFailed, match="page 1, line"):
        print_stage.check_printed(port, log, "2026-11-30T14:37:06Z", tmp_path)
    assert (tmp_path / "print-page-001.png").read_bytes().startswith(b"\x89PNG")


def test_a_silent_port_fails(tmp_path):
    with pytest.raises(CheckFailed, match="nothing came out of the parallel port"):
        print_stage.wait_for_bytes(tmp_path / "never-written", timeout=1.5)
