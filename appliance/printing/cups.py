"""Printing through the local CUPS scheduler, over its Unix socket only, with CUPS's own tools.

`lpstat`/`lpoptions` list the queues and their make and model, `lpinfo` finds USB and parallel
printers plugged in since (only those two backends run: nothing looks at a network), `lpadmin`
gives such a printer a queue with a generic driver, `lp` submits the copies, and `ipptool` asks
the scheduler for the job's final state (Get-Job-Attributes, RFC 8011 section 4.3.4). Once a job
has ended its history and files are purged (`cancel -a -x`), so nothing of the printed log stays
in the spool.

Every call has a time limit and every failure is a `PrintingError` naming what failed: a printer
that is missing, jammed or switched off never blocks a caller or ends a ceremony. What a printer
says about itself (its device id, its state message) is shown escaped.

The scheduler is the one `CUPS_SERVER` names (a socket path), else CUPS's default socket.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from appliance.errors import MediaError
from appliance.text import shown

DEFAULT_SOCKET = "/run/cups/cups.sock"
COMMAND_TIMEOUT = 20  # seconds for one CUPS command (lpinfo runs the usb and parallel backends)
JOB_TIMEOUT = 180  # seconds to wait for a job's end before reporting it as still queued
POLL_INTERVAL = 1.0
MAX_COPIES = 20
ENDED = ("completed", "aborted", "canceled")
# Generic drivers by the command sets a printer's IEEE 1284 device id names (CMD: or COMMAND SET:).
GENERIC_DRIVERS = (
    (("POSTSCRIPT", "PS", "BR-SCRIPT"), "drv:///sample.drv/generic.ppd"),  # Generic PostScript
    (("PCLXL", "PCL6", "PCL 6"), "lsb/usr/cupsfilters/pxlmono.ppd"),  # PCL 6 / PCL XL through ghostscript
    (("PCL", "PCL5", "PCL5E"), "drv:///sample.drv/generpcl.ppd"),  # Generic PCL laser
)
_REQUEST_ID = re.compile(r"request id is (\S+-(\d+)) ")
# What the usb and parallel backends report for a printer (RFC 3986 characters only; the usb
# backend percent-encodes the make and model), and nothing else: a line of lpinfo's listing is
# made of what a printer says about itself, so a device line forged there must not become a queue
# writing anywhere else (parallel:/dev/sdb would be a stick).
_PRINTER_URI = re.compile(r"usb://[A-Za-z0-9._~%!$&'()*+,;=:@/?-]+|parallel:/dev/lp[0-9]+")


class PrintingError(MediaError):
    """CUPS or a printer failed; printing is an output device, so exit code 4 (media)."""


@dataclass(frozen=True)
class Printer:
    name: str  # the CUPS queue
    make_and_model: str
    device_uri: str
    state: str  # idle, printing, stopped
    accepting: bool

    def describe(self) -> str:
        return f"{shown(self.name)}: {shown(self.make_and_model)} ({shown(self.device_uri)}), {self.state}"


@dataclass(frozen=True)
class JobOutcome:
    job: str  # CUPS's request id, e.g. "laser-12"
    copies: int
    state: str  # completed, aborted, canceled, or the state it was still in at the time limit
    reason: str  # CUPS's job-printer-state-message and job-state-reasons

    @property
    def done(self) -> bool:
        return self.state == "completed"

    def describe(self) -> str:
        # The job id is the queue's name and a number, as lp said it.
        job = f"Print job {shown(self.job)} ({copies_of(self.copies)})"
        if self.done:
            return f"{job}: done"
        return f"{job}: {shown(self.state.upper())}: {shown(self.reason)}"


def copies_of(copies: int) -> str:
    """'1 copy', '2 copies'."""
    return f"{copies} {'copy' if copies == 1 else 'copies'}"


def socket_path() -> str:
    server = os.environ.get("CUPS_SERVER", "")
    return server if server.startswith("/") else DEFAULT_SOCKET


def _run(args: list[str], timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(args, capture_output=True, text=True, errors="backslashreplace",
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise PrintingError(f"CUPS is not installed ({args[0]} not found)") from None
    except OSError as exc:
        raise PrintingError(f"{args[0]} could not be run: {exc.strerror or exc}") from None
    except subprocess.TimeoutExpired:
        raise PrintingError(f"{args[0]} did not answer within {timeout:.0f} s") from None


def _failed(what: str, result: subprocess.CompletedProcess) -> PrintingError:
    said = (result.stderr or result.stdout).strip().splitlines()
    return PrintingError(f"{what}: {shown(said[-1] if said else f'exit status {result.returncode}')}")


def list_printers() -> list[Printer]:
    """Every queue the scheduler has, with its make and model. Raises PrintingError when the
    scheduler cannot be asked (not running, not installed)."""
    result = _run(["lpstat", "-e"])
    if result.returncode != 0:
        if "No destinations" in result.stderr:
            return []
        raise _failed("cannot list the printers", result)
    names = result.stdout.split()
    if not names and _run(["lpstat", "-r"]).stdout.strip() != "scheduler is running":
        raise PrintingError(f"the CUPS scheduler is not running (socket {shown(socket_path())})")
    return [_printer(name) for name in names]


def _printer(name: str) -> Printer:
    result = _run(["lpoptions", "-p", name])
    if result.returncode != 0:
        raise _failed(f"cannot read the printer {shown(name)}", result)
    try:
        items = shlex.split(result.stdout)
    except ValueError:  # a value's own quote, which lpoptions leaves unescaped, never closed
        raise PrintingError(f"cannot read the printer {shown(name)}: its options do not parse") from None
    options = {}
    for item in items:
        key, _, value = item.partition("=")
        options[key] = value
    state = {"3": "idle", "4": "printing", "5": "stopped"}.get(options.get("printer-state", ""), "unknown")
    return Printer(name, options.get("printer-make-and-model", "unknown make and model"),
                   options.get("device-uri", ""), state,
                   options.get("printer-is-accepting-jobs", "false") == "true")


def plugged_devices() -> list[dict[str, str]]:
    """USB and parallel printers the backends see now: each a dict of lpinfo's fields (uri,
    make-and-model, device-id, ...). Only those two backends run. Needs root."""
    result = _run(["lpinfo", "--include-schemes", "usb,parallel", "-l", "-v"])
    if result.returncode != 0:
        raise _failed("cannot look for plugged-in printers", result)
    devices: list[dict[str, str]] = []
    for line in result.stdout.splitlines():
        key, _, value = line.strip().partition(" = ")
        if line.startswith("Device: "):
            devices.append({"uri": line[len("Device: uri = "):].strip()})
        elif devices and value:
            devices[-1][key] = value
    return [d for d in devices if _PRINTER_URI.fullmatch(d["uri"])]


def generic_driver(device_id: str) -> str | None:
    """The generic driver for a printer's IEEE 1284 device id (its command sets), or None."""
    fields = dict(part.partition(":")[::2] for part in device_id.split(";") if ":" in part)
    commands = fields.get("CMD") or fields.get("COMMAND SET") or ""
    offered = {c.strip().upper() for c in commands.split(",")}
    for names, driver in GENERIC_DRIVERS:
        if offered & set(names):
            return driver
    return None


def queue_name(make_and_model: str, taken: set[str]) -> str:
    """A queue name from the make and model: letters, digits and '_' only (CUPS allows more)."""
    base = re.sub(r"[^A-Za-z0-9]+", "_", make_and_model).strip("_")[:60] or "printer"
    name, number = base, 2
    while name in taken:
        name, number = f"{base}_{number}", number + 1
    return name


def add_plugged_printers() -> list[str]:
    """Gives every plugged-in USB or parallel printer without a queue one, with a generic driver.

    Returns one line per printer found (added, or why not). Needs root (lpinfo, lpadmin).
    """
    existing = list_printers()
    used = {p.device_uri for p in existing}
    taken = {p.name for p in existing}
    said = []
    for device in plugged_devices():
        if device["uri"] in used:
            continue
        model = device.get("make-and-model") or device.get("info") or "printer"
        driver = generic_driver(device.get("device-id", ""))
        if driver is None:
            said.append(f"{shown(model)}: no generic driver for its languages "
                        f"({shown(device.get('device-id', 'no device id'))})")
            continue
        name = queue_name(model, taken)
        result = _run(["lpadmin", "-p", name, "-E", "-v", device["uri"], "-m", driver,
                       "-o", "printer-is-shared=false", "-o", "printer-error-policy=abort-job"])
        if result.returncode != 0:
            said.append(f"{shown(model)}: {_failed('could not be added', result)}")
            continue
        taken.add(name)
        said.append(f"{shown(model)}: added as {name} ({driver})")
    return said


def submit(printer: str, pdf: Path, copies: int, title: str, paper: str = "a4") -> str:
    """Queues `copies` copies of the PDF on the printer; returns the job's request id."""
    if not 1 <= copies <= MAX_COPIES:
        raise PrintingError(f"copies must be from 1 to {MAX_COPIES}, not {copies}")
    media = {"a4": "A4", "letter": "Letter"}[paper]
    result = _run(["lp", "-d", printer, "-n", str(copies), "-t", title, "-o", f"media={media}",
                   "-o", "sides=one-sided", "--", str(pdf)])
    match = _REQUEST_ID.search(result.stdout)
    if result.returncode != 0 or match is None:
        raise _failed(f"{printer} did not take the job", result)
    return match.group(1)


def job_state(job: str) -> tuple[str, str]:
    """(job-state, reason) as the scheduler reports them now (ipptool Get-Job-Attributes)."""
    job_id = job.rsplit("-", 1)[1]
    uri = "ipp://" + socket_path().replace("/", "%2F") + f"/jobs/{job_id}"
    with resources.as_file(resources.files("appliance").joinpath("data", "get-job-state.test")) as test:
        result = _run(["ipptool", "-t", uri, str(test)])
    values = dict(re.findall(r"^\s+([a-z-]+) \([A-Za-z]+\) = (.*)$", result.stdout, re.MULTILINE))
    if "job-state" not in values:
        raise _failed(f"cannot read the state of job {job}", result)
    reasons = [values.get("job-printer-state-message", ""), values.get("job-state-reasons", "")]
    return values["job-state"], "; ".join(r for r in reasons if r and r != "none")


def wait_for_job(job: str, copies: int, printer: str, timeout: float = JOB_TIMEOUT) -> JobOutcome:
    """Polls the job until it ends, stops, or `timeout` seconds pass.

    A job the printer stopped (offline, out of paper, a device that cannot be opened) is cancelled
    at once and reported with the printer's message, and one not ended at `timeout` (a backend
    retrying a printer that is not connected) is cancelled then: the operators decide whether to
    print again, and nothing waits on a printer that may never come back. An ended job's history
    and files are purged.
    """
    deadline = time.monotonic() + timeout
    while True:
        state, reason = job_state(job)
        if state == "processing-stopped":
            _run(["cancel", "-x", job])
            reason = "; ".join(r for r in (printer_message(printer), reason) if r)
            state = "stopped"
        if state in (*ENDED, "stopped"):
            _run(["cancel", "-a", "-x", printer])  # no history, no files: the spool stays empty
            return JobOutcome(job, copies, state, reason or state)
        if time.monotonic() >= deadline:  # cancelled: nothing goes on printing behind the operators' backs
            _run(["cancel", "-a", "-x", printer])
            return JobOutcome(job, copies, "timed-out",
                              f"still {state} after {timeout:.0f} s, cancelled: {reason or 'no reason given'}")
        time.sleep(POLL_INTERVAL)


def printer_message(printer: str) -> str:
    """What the printer last said about itself (lpstat's indented line), or ""."""
    result = _run(["lpstat", "-p", printer])
    lines = [line.strip() for line in result.stdout.splitlines()[1:] if line.strip()]
    return lines[0] if lines else ""
