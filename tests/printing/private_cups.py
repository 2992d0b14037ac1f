"""A private CUPS scheduler for tests: the DVD's cupsd.conf, its own spool and state in a temporary
directory, listening only on a Unix socket there, and printers whose device is a file.

Needs root (cupsd runs its filters as lp). `CUPS_SERVER` names the socket, so the appliance's
own code (`appliance.printing.cups`) and CUPS's tools reach this scheduler and no other.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

# The DVD's own cupsd.conf, with this scheduler's socket: what the tests print through is what the
# appliance runs (socket only, no browsing, no job files kept, failed jobs aborted).
IMAGE_CUPSD_CONF = Path(__file__).resolve().parents[2] / "live-build/config/includes.chroot/etc/cups/cupsd.conf"
IMAGE_SOCKET = "/run/cups/cups.sock"
CUPS_FILES_CONF = """\
ServerRoot {root}/etc
RequestRoot {root}/spool
CacheDir {root}/cache
StateDir {root}/state
TempDir {root}/tmp
ServerBin /usr/lib/cups
DataDir /usr/share/cups
AccessLog {root}/log/access_log
ErrorLog {root}/log/error_log
PageLog {root}/log/page_log
FileDevice Yes
User lp
Group lp
SystemGroup root
"""


def missing_tools() -> list[str]:
    return [t for t in ("cupsd", "lpadmin", "lp", "ipptool", "gs", "ps2pdf", "pdftotext") if not shutil.which(t)]


class PrivateCups:
    def __init__(self, root: Path):
        self.root = root
        self.socket = root / "cups.sock"
        self.output = root / "out"  # where file-device printers write
        self._process: subprocess.Popen | None = None

    def start(self) -> "PrivateCups":
        for sub in ("etc", "spool", "cache", "state", "log", "tmp", "out"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        lp = pwd.getpwnam("lp")
        self.root.chmod(0o755)
        for sub in ("tmp", "out"):
            os.chown(self.root / sub, lp.pw_uid, lp.pw_gid)
        conf = IMAGE_CUPSD_CONF.read_text()
        assert f"Listen {IMAGE_SOCKET}\n" in conf
        (self.root / "etc" / "cupsd.conf").write_text(conf.replace(IMAGE_SOCKET, str(self.socket)))
        (self.root / "etc" / "cups-files.conf").write_text(CUPS_FILES_CONF.format(root=self.root))
        self._process = subprocess.Popen(
            ["cupsd", "-f", "-c", str(self.root / "etc" / "cupsd.conf"),
             "-s", str(self.root / "etc" / "cups-files.conf")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while subprocess.run(["lpstat", "-r"], env=self.env(), capture_output=True, text=True).stdout.strip() \
                != "scheduler is running":
            if time.monotonic() > deadline or self._process.poll() is not None:
                raise RuntimeError(f"private cupsd did not start: {self.error_log()}")
            time.sleep(0.2)
        return self

    def env(self) -> dict[str, str]:
        return {**os.environ, "CUPS_SERVER": str(self.socket)}

    def add_file_printer(self, name: str, target: Path, driver: str = "drv:///sample.drv/generic.ppd") -> None:
        subprocess.run(["lpadmin", "-p", name, "-E", "-v", f"file://{target}", "-m", driver],
                       env=self.env(), check=True, capture_output=True)

    def spooled(self) -> list[str]:
        """Files left in the spool (job control and document files)."""
        return sorted(p.name for p in (self.root / "spool").iterdir() if p.is_file())

    def error_log(self) -> str:
        log = self.root / "log" / "error_log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else "(no error log)"

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=20)
