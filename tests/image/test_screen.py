"""The default entry's screen harness (image/screen.py) without booting: keys, screenshots, OCR's
input, the title bar's measure, the words read, and a wait that keeps its screenshots."""
import re
import shutil
import zlib

import pytest

from appliance.console.step_verbal import hash_screen
from appliance.digest import Fingerprint
from image import screen
from image.qemu import VmTimeout
from image.scenario import Console, ScenarioFailed

REQUEST = b"<KSR>the request's bytes as they went onto the stick</KSR>"


def test_keys_for_what_the_harness_types():
    assert [screen.qcodes(c) for c in "2026-11-30 15:04:05\r"][:6] == [["2"], ["0"], ["2"], ["6"], ["minus"], ["1"]]
    assert screen.qcodes(":") == ["shift", "semicolon"]
    assert screen.qcodes("Y") == ["shift", "y"]
    assert screen.qcodes(" ") == ["spc"] and screen.qcodes("\r") == ["ret"]
    with pytest.raises(ValueError):
        screen.qcodes("é")


def _ppm(width, height, pixel_at) -> bytes:
    return b"P6\n%d %d\n255\n" % (width, height) + b"".join(
        bytes(pixel_at(x, y)) for y in range(height) for x in range(width))


def test_screenshot_to_dark_text_on_white_and_png():
    # a blue title row, then grey text on black
    data = _ppm(8, 3, lambda x, y: (0, 0, 0xAA) if y == 0 else (0xAA, 0xAA, 0xAA) if x == 1 else (0, 0, 0))
    width, height, rgb = screen.read_ppm(data)
    assert (width, height) == (8, 3)
    pgm = screen.ink_pgm(width, height, rgb)
    assert pgm.startswith(b"P5 8 3 255\n")
    body = pgm.split(b"\n", 1)[1]
    assert body[:8] == b"\xff" * 8  # the blue background is paper
    assert body[8:16] == b"\xff\x00" + b"\xff" * 6  # the grey text is ink
    image = screen.png(width, height, rgb)
    assert image.startswith(b"\x89PNG\r\n\x1a\n")
    raw = zlib.decompress(image[image.index(b"IDAT") + 4:image.index(b"IEND") - 8])
    assert raw == b"".join(b"\0" + rgb[y * 24:(y + 1) * 24] for y in range(3))
    with pytest.raises(ValueError):
        screen.read_ppm(b"P6\n8 3\n255\n" + rgb[:10])


def test_title_bar_height_measures_the_font():
    rgb = screen.read_ppm(_ppm(10, 40, lambda x, y: screen.TITLE_BLUE if y < 32 else (0, 0, 0)))[2]
    assert screen.title_bar_rows(10, rgb) == 32
    grey = screen.read_ppm(_ppm(10, 40, lambda x, y: (0xAA, 0xAA, 0xAA) if y < 16 else (0, 0, 0)))[2]
    assert screen.title_bar_rows(10, grey) == 0  # reverse video, not the blue title


def test_words_read_from_the_verbal_check_screen():
    fingerprint = Fingerprint.of(REQUEST)
    text = "\n".join(hash_screen(fingerprint, "the request", "ksr.xml"))
    read = screen.hash_words(text)
    assert [read[n] for n in range(1, 33)] == [w.lower() for w in fingerprint.words]


class FakeVm:
    """QMP screendump writes the next of `screens` (PPM bytes); send-key is recorded."""

    def __init__(self, screens):
        self.screens, self.keys = list(screens), []

        class Running:
            @staticmethod
            def poll():
                return None

        self.process = Running()

    def qmp(self, command, **arguments):
        if command == "screendump":
            with open(arguments["filename"], "wb") as out:
                out.write(self.screens.pop(0) if len(self.screens) > 1 else self.screens[0])
        elif command == "send-key":
            self.keys.append([key["data"] for key in arguments["keys"]])


@pytest.fixture
def ocr_of_first_pixel(monkeypatch):
    """OCR stood in for: the 'text' of a screen is named by its first pixel's grey level."""
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.setattr(screen, "ocr", lambda pgm: {0: "Set the clock", 255: "booting"}[pgm.split(b"\n", 1)[1][0]])


def test_a_wait_looks_until_the_text_is_there_and_keeps_each_screenshot(tmp_path, ocr_of_first_pixel):
    dark, light = _ppm(4, 2, lambda x, y: (0, 0, 0)), _ppm(4, 2, lambda x, y: (0xAA, 0xAA, 0xAA))
    vm = FakeVm([dark, dark, light])  # light pixel: ink, read as "Set the clock"
    tty1 = screen.Screen(vm, tmp_path / "shots", poll_seconds=0)
    assert tty1.expect(r"Set\s+the\s+clock", timeout=5, reason="first screen").group(0) == "Set the clock"
    assert sorted(p.name for p in (tmp_path / "shots").glob("*.png")) == ["01-set-the-clock.png"]
    tty1.type("ok\r")
    assert vm.keys == [["o"], ["k"], ["ret"]]


def test_a_wait_that_times_out_keeps_the_last_screenshot(tmp_path, ocr_of_first_pixel):
    vm = FakeVm([_ppm(4, 2, lambda x, y: (0, 0, 0))])
    tty1 = screen.Screen(vm, tmp_path / "shots", poll_seconds=0)
    with pytest.raises(VmTimeout, match=r"boot timeout: waited 0s .* it showed last \(screenshot .*timeout-boot"):
        tty1.expect("Set the clock", timeout=0, reason="boot timeout")
    assert len(list((tmp_path / "shots").glob("*timeout-boot-timeout.png"))) == 1


def test_words_that_are_not_the_requests_fail_the_verbal_check(tmp_path, monkeypatch, ocr_of_first_pixel):
    wrong = Fingerprint.of(b"another request")
    text = "\n".join(hash_screen(wrong, "the request", "ksr.xml")) + "\nDo they match? Type 'yes'"
    monkeypatch.setattr(screen, "ocr", lambda pgm: text)
    vm = FakeVm([_ppm(4, 2, lambda x, y: (0, 0, 0))])
    vm.console = screen.Screen(vm, tmp_path / "shots", poll_seconds=0)
    console = screen.ScreenConsole(vm, timeout=5)
    with pytest.raises(ScenarioFailed, match=re.escape(f"1. {wrong.words[0].lower()} (not ")):
        console.verbal_check_words(REQUEST)
    monkeypatch.setattr(screen, "ocr", lambda pgm: "\n".join(hash_screen(Fingerprint.of(REQUEST), "x", "y"))
                        + "\nDo they match?")
    assert console.verbal_check_words(REQUEST) == [w.lower() for w in Fingerprint.of(REQUEST).words]


def test_words_read_in_order_when_ocr_misreads_the_zeros():
    """tesseract reads Terminus's dotted zero as '@' or '8': the words still count, by position."""
    fingerprint = Fingerprint.of(REQUEST)
    text = "\n".join(hash_screen(fingerprint, "the request", "ksr.xml")).replace("10. ", "1@. ").replace("30. ", "38. ")
    read = screen.hash_words(text)
    assert [read[n] for n in range(1, 33)] == [w.lower() for w in fingerprint.words]


def test_key_tag_read_when_ocr_misreads_its_zero():
    """CI's default-entry run read the key table's 47510 as "47518" (the dotted zero again) and
    failed: on the screen a zero may come out as 0, @, 8 or O; the serial run stays exact."""
    read_by_ocr = ("Keys on the token (1):\nLabel  Algorithm  Size KSK tag Revoked tag Private\n"
                   "KSK-demo  RSASHA256  2048    47518        47638 kept\n")
    on_screen = screen.ScreenConsole(vm=None, timeout=5)
    assert on_screen.shows_number(read_by_ocr, 47510)
    assert on_screen.shows_number(read_by_ocr.replace("47518", "4751@"), 47510)
    assert not on_screen.shows_number(read_by_ocr, 47511)
    assert not on_screen.shows_number(read_by_ocr, 4751)  # a whole number, not a part of one
    assert not on_screen.shows_number(read_by_ocr, 7518)
    on_serial = Console(vm=None, timeout=5)
    assert not on_serial.shows_number(read_by_ocr, 47510)
    assert on_serial.shows_number(read_by_ocr.replace("47518", "47510"), 47510)
