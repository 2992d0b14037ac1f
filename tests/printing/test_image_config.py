"""The DVD's printing configuration as written: nothing that could listen on a network, browse for
printers or keep a job; reportlab from Debian, not a wheel. (The boot test and `make qemu-test` check
the running image; tests/printing/test_cups_print.py runs this cupsd.conf.)"""

from __future__ import annotations

import re
from pathlib import Path

from image import wheels

LIVE_BUILD = Path(__file__).resolve().parents[2] / "live-build" / "config"


def directives(text: str) -> list[tuple[str, str]]:
    return [tuple((line.split(None, 1) + [""])[:2]) for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_cupsd_listens_on_its_socket_only_and_keeps_nothing():
    conf = dict(directives((LIVE_BUILD / "includes.chroot/etc/cups/cupsd.conf").read_text()))
    listens = [v for k, v in directives((LIVE_BUILD / "includes.chroot/etc/cups/cupsd.conf").read_text())
               if k in ("Listen", "Port", "SSLListen", "SSLPort")]
    assert listens == ["/run/cups/cups.sock"]
    assert conf["Browsing"] == "No" and conf["BrowseLocalProtocols"] == "none"
    assert conf["WebInterface"] == "No" and conf["DefaultShared"] == "No"
    assert conf["PreserveJobFiles"] == "No" and conf["ErrorPolicy"] == "abort-job"
    assert int(conf["PreserveJobHistory"]) <= 300


def test_only_the_usb_and_parallel_backends_remain():
    hook = (LIVE_BUILD / "hooks/normal/0560-configure-printing.hook.chroot").read_text()
    assert re.search(r"usb\|parallel\) ;;\s+\*\) rm -f", hook)
    assert "systemctl enable cups.socket" in hook
    preseed = (LIVE_BUILD / "preseed/printing.cfg.chroot").read_text()
    assert "cups cupsys/backend multiselect usb\n" in preseed


def test_packages_come_from_debian():
    packages = " ".join((LIVE_BUILD / "package-lists" / name).read_text()
                        for name in ("printing.list.chroot", "ceremony.list.chroot")).split()
    assert {"cups", "cups-filters", "cups-ipp-utils", "ghostscript", "python3-reportlab"} <= set(packages)
    assert wheels.DEBIAN_PROVIDED["reportlab"] == "python3-reportlab"
    assert not any(r.startswith("reportlab") for r in wheels.runtime_requirements())
