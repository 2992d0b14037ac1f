"""Issue 10 point 4 and 5 (files), through the real console: what already sits on a request stick
(a FIFO, a hard link, glob characters, a name too long to answer, a file too large, a name that is
not UTF-8) can neither block nor redirect a write, nor make the stick unusable.

Cases 03, 05, 06, 09, 10 and 14 of ../shared/cases/hostile-stick, rebuilt on the demo stick.
"""

import os
import stat

import pytest

from appliance import safefile
from appliance.console.step_sign import response_name
from tests.console.harness import files_on, flat, run_script, written_log
from tests.console.scripts import ACCEPT_AND_CONFIRM, IMPORT_WITH_PREVIOUS, LOG_IN, SET_CLOCK, SHUT_DOWN
from tests.console.test_ceremony import WRITE_AND_GO_ON, verify
from tests.outside import FifoGuard

pytestmark = pytest.mark.softhsm

SIGN_AND_WRITE = SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS + ACCEPT_AND_CONFIRM + WRITE_AND_GO_ON + SHUT_DOWN
# Import, check, then stop at the verbal check: enough to show the request was usable.
IMPORT_ONLY = [("request.accepted", ""), ("verbal.confirm", "no"), ("verbal.aborted", "")] + SHUT_DOWN


def old_temporary_names(name: str) -> list[str]:
    """The temporary names the appliance used to write under (media/files.py, atomicfile.py)."""
    return [f".{name}.partial", f".{name}"]


def test_03_a_fifo_at_the_temporary_name_blocks_nothing(demo, sticks):
    request_bytes = (demo.stick / demo.request).read_bytes()
    fifos = []
    for name in (demo.response, "ceremony.log"):
        for temporary in old_temporary_names(name):
            os.mkfifo(demo.stick / temporary)
            fifos.append(demo.stick / temporary)
    with FifoGuard(*fifos) as guard:
        run = run_script(sticks, SIGN_AND_WRITE, config=demo.config)
    assert not guard.fired, "the console blocked opening a FIFO on the stick"
    assert run.code == 0
    verify(demo.stick, demo, request_bytes)
    assert all(stat.S_ISFIFO(fifo.lstat().st_mode) for fifo in fifos)  # left as they were
    assert f"{demo.response} on stick KSR-STICK (folder)" in flat(written_log(demo.stick, run))


@pytest.mark.parametrize("target", ["request on the stick", "file outside the media folder"])
def test_06_a_hard_link_at_the_temporary_name_overwrites_nothing(demo, sticks, tmp_path, target):
    request_bytes = (demo.stick / demo.request).read_bytes()
    victim = demo.stick / demo.request if target == "request on the stick" else tmp_path / "victim.txt"
    if not victim.exists():
        victim.write_bytes(b"a file outside the stick\n")
    before = victim.read_bytes()
    for temporary in old_temporary_names(demo.response):
        os.link(victim, demo.stick / temporary)
    run = run_script(sticks, SIGN_AND_WRITE, config=demo.config)
    assert run.code == 0
    assert victim.read_bytes() == before
    assert (demo.stick / demo.response).stat().st_ino != victim.stat().st_ino
    verify(demo.stick, demo, request_bytes)


def test_09_glob_characters_in_the_name_still_protect_an_older_response(demo, sticks):
    request_bytes = (demo.stick / demo.request).read_bytes()
    (demo.stick / demo.request).rename(demo.stick / "ksr-[q1].xml")
    (demo.stick / "skr-[q1].xml").write_bytes(b"an older response")
    (demo.stick / "skr-q.xml").write_bytes(b"another file the pattern would match")
    run = run_script(sticks, SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS + ACCEPT_AND_CONFIRM
                     + [("sign.where", ""), ("sign.stick.exists", "replace"), ("sign.done", "")] + SHUT_DOWN,
                     config=demo.config)
    text = flat(written_log(demo.stick, run))
    assert "skr-[q1].xml is already on stick KSR-STICK (folder). It is not replaced unless you say so." in text
    assert (demo.stick / "skr-q.xml").read_bytes() == b"another file the pattern would match"
    demo_copy = type(demo)(**{**demo.__dict__, "request": "ksr-[q1].xml"})
    verify(demo.stick, demo_copy, request_bytes)


def test_10_a_response_name_too_long_for_the_stick_is_shortened_so_it_can_be_written(demo, sticks):
    request_bytes = (demo.stick / demo.request).read_bytes()
    long_name = "request-" + "q" * 240 + ".xml"  # 252 bytes: "skr-" in front would be 256
    (demo.stick / demo.request).rename(demo.stick / long_name)
    answer = response_name(long_name)
    assert len(answer.encode()) == safefile.NAME_MAX and answer.startswith("skr-request-qqq") and answer.endswith(".xml")
    run = run_script(sticks, SIGN_AND_WRITE, config=demo.config)
    assert run.code == 0
    assert answer in files_on(demo.stick)
    demo_copy = type(demo)(**{**demo.__dict__, "request": "ksr" + answer[3:]})
    verify(demo.stick, demo_copy, request_bytes)


def test_14_one_unusable_file_leaves_the_rest_of_the_stick_usable(demo, sticks, tmp_path):
    (demo.stick / "big-zone-export.xml").write_bytes(b"<zone>" + b" " * (2 * 1024 * 1024) + b"</zone>")
    os.mkfifo(demo.stick / "pipe.xml")
    (tmp_path / "outside.xml").write_bytes((demo.stick / demo.request).read_bytes())
    (demo.stick / "link.xml").symlink_to(tmp_path / "outside.xml")
    (demo.stick / "folder.xml").mkdir()
    with FifoGuard(demo.stick / "pipe.xml") as guard:
        run = run_script(sticks, SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS + IMPORT_ONLY, config=demo.config)
    assert not guard.fired
    text = flat(written_log(demo.stick, run))
    assert "Not used: big-zone-export.xml, because" in text and "larger than the 1048576 bytes allowed" in text
    assert "Not used: pipe.xml, because" in text and "a FIFO, not a regular file" in text
    assert "Not used: link.xml, because" in text and "a symbolic link (never followed)" in text
    assert "Not used: folder.xml, because" in text and "a directory, not a regular file" in text
    assert "REQUEST ACCEPTED" in text


def test_05_a_name_that_is_not_utf8_is_listed_escaped_and_the_rest_stays_usable(demo, sticks):
    with open(os.path.join(os.fsencode(demo.stick), b"\xff.xml"), "wb") as odd:
        odd.write(b"<KSR/>")
    run = run_script(sticks, SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS + IMPORT_ONLY, config=demo.config)
    assert run.code == 1  # aborted at the verbal check: "1 refused or aborted"
    text = flat(written_log(demo.stick, run))
    assert "Not used: \\xff.xml, because the name is not UTF-8 text" in text
    assert "REQUEST ACCEPTED" in text
    assert "INTERNAL ERROR" not in run.screen_text()


@pytest.mark.parametrize("request_name, expected", [
    ("ksr-root-2017-q2-0.xml", "skr-root-2017-q2-0.xml"),
    ("request.xml", "skr-request.xml"),
    ("root.KSR.txt", "root.skr.txt"),  # Knot DNS / BIND 9 text form
    ("ksr-\u202e\n:1?.xml", "skr-___1_.xml"),  # invisible, control and FAT-refused characters
    ("ksr-" + "\u00e9" * 130 + ".xml", "skr-" + "\u00e9" * 123 + ".xml"),  # 255 bytes, cut between characters
])
def test_the_response_name_is_always_writable(request_name, expected):
    answer = response_name(request_name)
    assert answer == expected
    assert len(answer.encode()) <= safefile.NAME_MAX


def test_a_response_name_never_starts_or_ends_with_a_space(demo, sticks):
    """The response's name leads rows of ours (the write report's "  NAME (N bytes, ...)", the
    shutdown's list): a request's leading spaces carried into it would read as our indentation."""
    name = "   ksr-root-2027-q1-0 .ksr.xml"
    assert response_name(name) == "___ksr-root-2027-q1-0 .skr.xml"
    assert response_name("ksr-root-2027-q1-0.ksr. ") == "ksr-root-2027-q1-0.skr._"
    (demo.stick / demo.request).rename(demo.stick / name)
    run = run_script(sticks, SIGN_AND_WRITE, config=demo.config)
    assert run.code == 0 and response_name(name) in files_on(demo.stick)
    rows = written_log(demo.stick, run).split("\n")
    assert "      " + response_name(name) in [row.split(" (")[0] for row in rows]  # the write report's row
