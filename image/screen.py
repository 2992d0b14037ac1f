"""The VM's screen as the room sees it: tty1 on the DVD's default boot entry, read by OCR and typed
on through the VM's keyboard.

`Screen` offers what the harness's serial port offers (`expect`, `type`, `text`, `mark`), so
image.scenario.Console drives the ceremony on tty1 unchanged: each look is a QMP `screendump` of
the whole framebuffer, read by tesseract (Debian's tesseract-ocr); each key is a QMP `send-key`
(a PS/2 key press, as on the laptop's keyboard). Every screen a wait matched is kept as a PNG,
numbered in order, next to the VM's logs (kept when the test fails).

Before OCR the screenshot becomes dark text on white: the console's light text on black (and on
the blue title bar) is what tesseract reads best that way; the reverse-video status line turns
white on black and is not needed.
"""
from __future__ import annotations

import re
import shutil
import struct
import subprocess
import time
import zlib
from pathlib import Path

from image import hotplug
from image.host_checks import fingerprint_lines
from image.qemu import VmTimeout
from image.scenario import Console, ScenarioFailed, phrase

# QMP's key names (qcodes) for what the harness types; upper case and ':' are shifted.
_QCODES = {" ": "spc", "\r": "ret", "\n": "ret", "-": "minus", ".": "dot", ",": "comma", "/": "slash",
           "'": "apostrophe", ";": "semicolon", "=": "equal"}
_SHIFTED = {":": "semicolon", "_": "minus", "?": "slash", "(": "9", ")": "0"}
# What OCR reads for the console's plain ASCII: typographic quotes for ', and now and then an
# underscore for a space before a word.
_OCR_NORMAL = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "_": " "})
# Light pixels (text, > 0x60 in the green channel) become black, everything else white. Green:
# the title's blue background and the black background both have none.
_INK = bytes(0 if value > 0x60 else 255 for value in range(256))


def qcodes(char: str) -> list[str]:
    """The keys pressed together for one character, e.g. ':' -> ['shift', 'semicolon']."""
    if char in _QCODES:
        return [_QCODES[char]]
    if char in _SHIFTED:
        return ["shift", _SHIFTED[char]]
    if char.isascii() and (char.isdigit() or char.islower()):
        return [char]
    if char.isascii() and char.isupper():
        return ["shift", char.lower()]
    raise ValueError(f"no key for {char!r}")


def read_ppm(data: bytes) -> tuple[int, int, bytes]:
    """(width, height, RGB bytes) of a binary PPM with maxval 255, as QEMU's screendump writes it."""
    header = re.match(rb"P6\s+(\d+)\s+(\d+)\s+255\s", data)
    if not header:
        raise ValueError("not a P6 PPM with maxval 255")
    width, height = int(header.group(1)), int(header.group(2))
    pixels = data[header.end():header.end() + width * height * 3]
    if len(pixels) != width * height * 3:
        raise ValueError("PPM shorter than its header says")
    return width, height, pixels


def ink_pgm(width: int, height: int, rgb: bytes) -> bytes:
    """The screenshot as a binary PGM of dark text on white, for OCR."""
    return b"P5 %d %d 255\n" % (width, height) + rgb[1::3].translate(_INK)


def png(width: int, height: int, rgb: bytes) -> bytes:
    """An RGB PNG of the screenshot, to keep (a PPM of 1920x1080 is 6 MB)."""
    stride = width * 3
    raw = b"".join(b"\0" + rgb[y * stride:(y + 1) * stride] for y in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def ocr(pgm: bytes) -> str:
    """tesseract's reading of a PGM, row by row (page segmentation 6: one uniform block of text)."""
    result = subprocess.run(["tesseract", "stdin", "stdout", "--psm", "6", "-c", "preserve_interword_spaces=1"],
                            input=pgm, capture_output=True, timeout=120)
    if result.returncode != 0:
        raise VmTimeout(f"tesseract failed: {result.stderr.decode(errors='replace')[-300:]}")
    return result.stdout.decode("utf-8", "replace").translate(_OCR_NORMAL)


class Screen:
    """tty1 of a running VirtualMachine (anything with `qmp`), through screendumps and key presses."""

    name = "the screen (tty1)"

    def __init__(self, vm, shots: Path, poll_seconds: float = 2.0):
        if shutil.which("tesseract") is None:
            raise VmTimeout("tesseract is not installed (Debian: tesseract-ocr; `make image-setup`)")
        self.vm, self.shots, self.poll_seconds = vm, shots, poll_seconds
        self.shots.mkdir(parents=True, exist_ok=True)
        self.size: tuple[int, int] | None = None
        self._text = ""
        self._rgb = b""
        self._count = 0

    def look(self) -> str:
        """A fresh screendump, read; returns (and remembers) the text."""
        dump = self.shots / "last.ppm"
        self.vm.qmp("screendump", filename=str(dump))
        width, height, self._rgb = read_ppm(dump.read_bytes())
        self.size = (width, height)
        self._text = ocr(ink_pgm(width, height, self._rgb))
        return self._text

    def keep(self, label: str) -> Path:
        """The last screenshot as NN-label.png."""
        self._count += 1
        path = self.shots / f"{self._count:02d}-{re.sub(r'[^a-z0-9]+', '-', label.lower()).strip('-')[:50]}.png"
        path.write_bytes(png(*self.size, self._rgb))
        return path

    def expect(self, pattern: str, timeout: float, reason: str) -> re.Match:
        """Look until `pattern` is on the screen; keeps that screenshot."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.look())
            if match:
                self.keep(re.sub(r"\\s\+|\\", " ", pattern))  # named by what it showed
                return match
            if time.monotonic() > deadline or self.vm.process.poll() is not None:
                shot = self.keep(f"timeout {reason}")
                raise VmTimeout(f"{reason}: waited {timeout:.0f}s for /{pattern}/ on {self.name}; it showed "
                                f"last (screenshot {shot}):\n{self._text.strip()[-600:]}")
            time.sleep(self.poll_seconds)

    def text(self) -> str:
        """The last screen read."""
        return self._text

    def mark(self) -> int:
        return 0  # every look is the whole screen afresh

    def type(self, text: str, delay: float = 0.05) -> None:
        for char in text:
            self.vm.qmp("send-key", keys=[{"type": "qcode", "data": key} for key in qcodes(char)])
            time.sleep(delay)

    def close(self) -> None:
        (self.shots / "last.ppm").unlink(missing_ok=True)


# The DVD's default entry as the room sees it: QEMU's standard VGA offers OVMF a 1920x1080 panel
# (its EDID), so the firmware framebuffer, and the console on it, run at that size.
PANEL_ARGS = ("-vga", "none", "-device", "VGA,xres=1920,yres=1080,edid=on")
TITLE_BLUE = (0x00, 0x00, 0xAA)  # the Linux console's blue: the title bar's background
FONT_HEIGHT = 32  # Terminus 16x32, which the console chooses on a panel this size (appliance/console/vt_font.py)


def title_bar_rows(width: int, rgb: bytes) -> int:
    """How many pixel rows from the top of the screen are the title bar's blue (at column 4): the
    console font's height when the title is one row of text."""
    rows = 0
    while (rows + 1) * width * 3 <= len(rgb):
        offset = (rows * width + 4) * 3
        if tuple(rgb[offset:offset + 3]) != TITLE_BLUE:
            break
        rows += 1
    return rows


def hash_words(text: str) -> dict[int, str]:
    """The numbered words (`1. ADROITNESS` ... `32. ...`) a screen shows, by number.

    The console lays them out four to a row in order, so the 32 entries read in order are the words
    1 to 32; the numbers themselves are only a fallback, because tesseract reads Terminus's dotted
    zero as "@" or "8" ("1@." for 10, "38." for 30)."""
    entries = re.findall(r"(?<![\w:])([0-9@]{1,2})\. ?([A-Z][A-Z-]+)\b", text)
    if len(entries) == 32:
        return {number: word.lower() for number, (_, word) in enumerate(entries, start=1)}
    words: dict[int, str] = {}
    for number, word in entries:
        if number.isdigit():
            words.setdefault(int(number), word.lower())
    return words


class ScreenConsole(Console):
    """The ceremony on tty1 of the default entry, driven through `Screen` (the VM's `console` is
    replaced by it): the steps up to the verbal check, whose words must be the request's."""

    def boot(self) -> None:
        # No key: the boot menus' 5 s timeout chooses the default entry, as on the ceremony day.
        self.see(phrase("Set the clock"), "boot timeout: the default entry's first screen never appeared on tty1")

    def pull(self, stick_id: str) -> None:
        hotplug.pull(self.vm, stick_id)
        self.see(phrase("Sticks: none"), f"the status line showing {stick_id} pulled")

    def lists(self, listing: str, name: str) -> bool:
        """As read by OCR, a file name is not reliable (tesseract reads "q1-0" as "q1i-@"): the entry
        numbered 1 under "Requests (KSR)" is enough here. The serial run compares the exact name;
        on this screen the words of the verbal check are what count, and they are compared whole."""
        return re.search(r"^\s*1\.\s+\S", listing, re.M) is not None

    def shows_number(self, text: str, number: int) -> bool:
        """As read by OCR, Terminus's dotted zero comes out as "0", "@", "8" or "O" (key tag 47510
        was read "47518"): each 0 of `number` may be any of them. The serial run compares exactly."""
        digits = "".join("[0@8O]" if digit == "0" else digit for digit in str(number))
        return re.search(rf"(?<![\w@]){digits}(?![\w@])", text) is not None

    def verbal_check_words(self, request: bytes) -> list[str]:
        """The 32 words on the hash screen, as read from the screenshot, must be the request's."""
        self.answer("")
        self.see(phrase("Do they match?"), "the verbal check's hash screen")
        _, expected = fingerprint_lines(request)
        expected = [word.lower() for word in expected]
        read = hash_words(self.vm.console.text())
        shown = [read.get(n, "?") for n in range(1, 33)]
        if shown != expected:
            wrong = [f"{n}. {shown[n - 1]} (not {expected[n - 1]})" for n in range(1, 33) if shown[n - 1] != expected[n - 1]]
            raise ScenarioFailed("hash mismatch on the screen: " + "; ".join(wrong))
        return shown

