"""The ceremony's steps as the harness drives them on the appliance's serial console: what it waits
to see (the console's own words, appliance/console/step_*.py) and what it types.

Every wait names what it waits for, so a failure reads as the step that did not happen ("stick
not detected", "hash mismatch", "request refused") rather than as a bare timeout. The VM is
anything with `console.expect/type/text` and `qmp` (image.qemu.VirtualMachine; a fake in the
harness's own tests).
"""
from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from image import hotplug
from image.host_checks import fingerprint_lines
from image.qemu import VmTimeout

# The boot menus' hotkey for "Serial console" (live-build/config/bootloaders) selects it, Enter
# boots it: plain keys, where an arrow key's escape sequence can be split by a slow guest and
# read as a lone Escape (seen under load: the menu stayed).
CHOOSE_SERIAL_ENTRY = "s\r"
MEDIA_ROOT = "/run/ceremony/media"  # where the appliance mounts sticks (appliance/media/udev.py)


class ScenarioFailed(Exception):
    """A step of the ceremony did not happen as it must; the message says which and why."""


def phrase(text: str) -> str:
    """A regular expression for `text` whatever spacing the terminal rendering left between words."""
    return r"\s+".join(re.escape(word) for word in text.split())


@dataclass
class HashOnScreen:
    hex: str
    words: list[str]


def read_hash_screen(text: str) -> HashOnScreen:
    """The hex groups (`1:ABCD` ... `16:EF01`) and words (`1. ADROITNESS` ... `32. ...`) of the
    console's hash screen (appliance/console/step_verbal.hash_screen)."""
    groups: dict[int, str] = {}
    for number, group in re.findall(r"\b(\d{1,2}):([0-9A-F]{4})\b", text):
        groups.setdefault(int(number), group)
    words: dict[int, str] = {}
    for number, word in re.findall(r"\b(\d{1,2})\. ([A-Z][A-Z-]+)\b", text):
        words.setdefault(int(number), word)
    if sorted(groups) != list(range(1, 17)) or sorted(words) != list(range(1, 33)):
        raise ScenarioFailed(f"hash screen unreadable: found hex groups {sorted(groups)} and words "
                             f"{sorted(words)}; the screen showed:\n{text[-1500:]}")
    return HashOnScreen("".join(groups[n] for n in range(1, 17)).lower(),
                        [words[n].lower() for n in range(1, 33)])


def run_in_guest(shell, command: str, timeout: float, reason: str) -> tuple[int, str]:
    """`command`'s exit status and output (stdout and stderr) through the administrator's shell,
    framed by markers that only the printf output assembles and base64-encoded, so neither the
    echoed, sideways-scrolled command line nor a prompt that arrives late is taken for output."""
    framed = (f"o=$( {{ {command} ; }} 2>&1 ); s=$?; "
              "printf '%s%s%s%d\\n' '<''<out>''>' \"$(printf %s \"$o\" | base64 -w0)\" '<''<end>''>' $s")
    shell.run(framed, timeout=timeout, reason=reason)
    found = re.findall(r"<<out>>([A-Za-z0-9+/=]*)<<end>>(\d+)", shell.port.text())
    if not found:
        raise ScenarioFailed(f"{reason}: the guest's shell gave no framed output")
    encoded, status = found[-1]
    return int(status), base64.b64decode(encoded).decode("utf-8", "replace").strip()


class Console:
    """The ceremony on the VM's first serial port."""

    def __init__(self, vm, timeout: float):
        self.vm, self.timeout = vm, timeout

    def see(self, pattern: str, reason: str, timeout: float | None = None) -> re.Match:
        return self.vm.console.expect(pattern, timeout or self.timeout, reason)

    def answer(self, text: str) -> None:
        self.vm.console.type(text + "\r")

    def boot(self) -> None:
        self.see(r"Serial console", "boot timeout: the boot menu never appeared")
        self.vm.console.type(CHOOSE_SERIAL_ENTRY, delay=0.2)
        self.see(phrase("Set the clock"), "boot timeout: the ceremony console's first screen never appeared")
        self._wait_for_shell()

    def _wait_for_shell(self) -> None:
        """The administrator's shell (ttyS1) answers; keys typed before it starts are flushed with
        the terminal, so ask again until it does."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                self.vm.shell.run("true", timeout=15, reason="the administrator's shell on ttyS1")
                return
            except VmTimeout as error:
                if time.monotonic() > deadline or "the VM stopped" in str(error):
                    raise

    def set_clock(self, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        self.see(phrase("UTC date and time:"), "the clock question")
        self.answer(f"{now:%Y-%m-%d %H:%M:%S}")
        self.see(phrase("Set the clock to this time?"), "the clock confirmation")
        self.answer("yes")
        self.see(phrase("Clock set. Press Enter to continue to the HSM:"), "the clock set, kept on screen")
        self.answer("")
        self.see(phrase("Activate the HSM"), "the HSM step after the clock was set")

    def log_in(self, config_stick: Path, pin: str, ksk_tag: int) -> None:
        """The configuration from a test-only stick (the image carries none), then the PIN."""
        seen = self.see(phrase("Waiting for a stick") + "|" + phrase("PIN (typing is not shown)"),
                        "the HSM step asking for its configuration")
        if "PIN" in seen.group(0):
            raise ScenarioFailed("the image carries its own ceremony configuration, so the test's "
                                 "HSM configuration stick (the host's token) cannot be given")
        hotplug.plug(self.vm, "config", config_stick)
        self.see(phrase("Use this configuration? Type 'yes'"),
                 "stick not detected: no question about the configuration after its stick was plugged in")
        self.answer("yes")  # the configuration's hash is on the screen above; the host wrote it
        self.see(phrase("PIN (typing is not shown):"), "no PIN question after the configuration was accepted")
        self.answer(pin)
        self.see(phrase("HSM activated."), "HSM login through the host's token failed")
        screen = self.see(phrase("Press Enter to continue to the request:"), "the HSM's key table")
        shown = self.vm.console.text()[: screen.start()]
        if not self.shows_number(shown[shown.rfind("HSM activated"):], ksk_tag):
            raise ScenarioFailed(f"the HSM's key table does not show the KSK's key tag {ksk_tag}")
        self.pull("config")
        self.answer("")

    def pull(self, stick_id: str) -> None:
        """Pull a stick, and go on only once the appliance has seen it go, as an operator watching
        the status line would: its media layer unmounts a pulled stick, then forgets it."""
        hotplug.pull(self.vm, stick_id)
        self.vm.shell.run(f"while grep -q ' {MEDIA_ROOT}/' /proc/mounts; do sleep 0.2; done; sleep 1",
                          timeout=self.timeout, reason=f"the appliance noticing that {stick_id} was pulled")

    def import_valid_request(self, stick_id: str, stick: Path, request_name: str) -> float:
        """import_request for a request that must pass every check; returns the moment the stick
        went in. Raises ScenarioFailed with the console's reasons when it was refused."""
        plugged_at, verdict = self.import_request(stick_id, stick, request_name)
        if verdict == "refused":
            raise ScenarioFailed("the console refused the valid request:\n" + self.refusal_reasons())
        return plugged_at

    def import_request(self, stick_id: str, stick: Path, request_name: str) -> tuple[float, str]:
        """Plug the stick, choose the request and the previous response; returns (the moment the
        stick went in, "accepted" or "refused")."""
        self.see(phrase("Waiting for a stick"), "the request step asking for the stick")
        plugged_at = time.monotonic()
        hotplug.plug(self.vm, stick_id, stick)
        self.see(phrase("Number of the request to import"),
                 "stick not detected: the console listed no request after the stick was plugged in")
        listing = self.vm.console.text()
        if not self.lists(listing[listing.rfind("Requests (KSR)"):], request_name):
            raise ScenarioFailed(f"the console's list of requests on the stick lacks {request_name}")
        self.answer("1")
        self.see(phrase("Number of the previous response"), "the question for the previous response")
        self.answer("1")
        verdict = self.see(phrase("Press Enter for the verbal check") + "|REFUSED", "the request's checks")
        return plugged_at, "refused" if verdict.group(0) == "REFUSED" else "accepted"

    def lists(self, listing: str, name: str) -> bool:
        """Whether the console's listing shows `name` (the serial line carries the exact text)."""
        return name in listing

    def shows_number(self, text: str, number: int) -> bool:
        """Whether `text` shows `number` as a whole word (the serial line carries the exact digits)."""
        return re.search(rf"\b{number}\b", text) is not None

    def refusal_reasons(self) -> str:
        """The failed checks (`FAIL  ID: why`) on the screen that said REFUSED."""
        text = self.vm.console.text()
        screen = text[text.rfind("Import and check the request"):]
        reasons: list[str] = []
        continued = False
        for line in screen.splitlines():
            if line.startswith("FAIL"):
                reasons.append(line.strip())
                continued = True
            elif continued and line.startswith(" ") and line.strip():  # wrapped to 80 columns
                reasons[-1] += " " + line.strip()
            else:
                continued = False
        return "\n".join(dict.fromkeys(reasons))

    def verbal_check(self, request: bytes) -> HashOnScreen:
        """The hash screen must show what the host computes from the bytes it put on the stick."""
        self.answer("")
        prompt = self.see(phrase("Do they match? Type 'yes'"), "the verbal check's hash screen")
        text = self.vm.console.text()[: prompt.start()]
        shown = read_hash_screen(text[text.rfind("SHA-256 of"):])
        expected_hex, expected_words = fingerprint_lines(request)
        # The console shows the words in capitals; the list has some capitalised (e.g. "Galveston").
        if shown.hex != expected_hex or shown.words != [word.lower() for word in expected_words]:
            raise ScenarioFailed(f"hash mismatch: the console shows {shown.hex} "
                                 f"({' '.join(shown.words[:4])} ...), the host computed {expected_hex} "
                                 f"({' '.join(expected_words[:4])} ...) from the request on the stick")
        return shown

    def sign_and_write(self, confirmation: str = "yes") -> None:
        """Confirm the signing with CONFIRMATION ("yes", or "again" for a second signing), write the
        response and the log to the stick offered, and reach the question for another request."""
        self.answer(confirmation)
        self.see(phrase("Enter: write to"), "signing did not finish (no question where to write)")
        self.answer("")
        self.see(phrase("may be removed now"), "the response and the log were not written and verified")
        self.see(phrase("Press Enter to continue:"), "the end of the signing step")
        self.answer("")
        self.see(phrase("'another' or 'shutdown':"), "the question for another request")

    def after_refusal(self) -> None:
        """A refused request: the reasons stay on screen until Enter, then the question for another."""
        self.see(phrase("Refused. Press Enter to continue:"), "the refusal's reasons kept on screen")
        self.answer("")
        self.see(phrase("'another' or 'shutdown':"), "the question for another request after the refusal")

    def print_copies(self, copies: int) -> str:
        """'print N' at the question for another request: returns the job's outcome line, which
        must say done."""
        self.answer(f"print {copies}")
        outcome = self.see(r"Print job \S+ \(\d+ cop(?:y|ies)\): (done|[A-Z-]+: [^\r\n]*)", "the print job's outcome")
        if outcome.group(1) != "done":
            raise ScenarioFailed(f"printing failed: {outcome.group(0)}")
        self.see(phrase("'another' or 'shutdown':"), "the question for another request after printing")
        return outcome.group(0)

    def another(self) -> None:
        self.answer("another")

    def shut_down(self, log_stick_id: str, log_stick: Path) -> None:
        """The final log goes to a stick the harness plugs in when asked; the console then waits
        for the last Enter (see end())."""
        self.answer("shutdown")
        self.see(phrase("Waiting for a stick"), "the shutdown step asking for the log's stick")
        hotplug.plug(self.vm, log_stick_id, log_stick)
        self.see(phrase("Stick number (or 'cancel'):"), "the question which stick takes the final log")
        self.answer("1")
        self.see(phrase("Type 'end' once the record is written down:"), "the final log was not written")

    def end(self, timeout: float) -> None:
        """The last answer, 'end', at the closing record: the ceremony ends and the appliance switches
        itself off (`ceremony run --poweroff`), which QEMU shows by exiting."""
        self.answer("end")
        deadline = time.monotonic() + timeout
        while self.vm.process.poll() is None:
            if time.monotonic() > deadline:
                raise ScenarioFailed(f"the appliance did not power off within {timeout:.0f}s after the "
                                     "ceremony ended")
            time.sleep(0.5)

