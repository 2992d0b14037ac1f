"""Issue 10 acceptance: sticks built from arbitrary names (any bytes), file types (regular, FIFO,
symbolic link, hard link, directory, device node when root) and contents (any encoding, up to
2 MiB), through the stick survey, the import of what it found, and a write onto the same stick.

Asserted for every stick: no exception escapes (a write may fail with MediaError, nothing else
may), nothing outside the stick is opened (inotify on the folder the links and DOCTYPEs point to)
or changed, nothing is waiting on a FIFO once HANG_LIMIT has passed (a liveness check, not a
timing goal: a slow run fails only if still not done 30 s later), and every name shown is escaped.
"""

from __future__ import annotations

import os
import stat
import tempfile
import threading
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance.console.step_request import LISTED_NAME_LIMIT, survey
from appliance.errors import MediaError
from appliance.media import FolderMedia, MediaWriteError
from appliance.policy import check_request_bytes, load_policy
from appliance.text import shown
from tests.outside import FifoGuard, OpenWatch, no_reader

HANG_LIMIT = 2.0  # seconds: the acceptance's "nothing blocks for more than 2 s"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hostile-stick"
REQUEST = (FIXTURES / "demo-ksr.xml").read_bytes()
PREVIOUS = (FIXTURES / "demo-skr-previous.xml").read_bytes()
SECRET = b"<!ENTITY secret 'outside the stick'>\n"
NOW = datetime(2026, 12, 1, tzinfo=UTC)

ENCODINGS = [("utf-8", None), ("utf-8-sig", "UTF-8"), ("utf-16", "UTF-16"), ("utf-16-le", "UTF-16"),
             ("utf-16-be", "UTF-16"), ("utf-32", "UTF-32"), ("cp037", "IBM037"), ("latin-1", "ISO-8859-1")]
TYPES = ["regular", "fifo", "symlink", "hardlink", "directory"] + (["device"] if os.geteuid() == 0 else [])
LINK_TARGETS = ["outside/secret", "outside/pipe", "outside", "nowhere"]

names = st.tuples(
    st.binary(min_size=1, max_size=60).filter(lambda b: b"/" not in b and b"\0" not in b),
    st.sampled_from([b".xml", b".XML", b".Xml", b"", b".xml\n", b".toml", b".txt", b".ksr.txt"]),
).map(lambda parts: parts[0] + parts[1]).filter(lambda b: b not in (b".", b"..") and len(b) <= 255)


@st.composite
def xml_contents(draw) -> bytes:
    """The real request or response, re-encoded, maybe behind a DOCTYPE naming a file outside."""
    text = draw(st.sampled_from([REQUEST, PREVIOUS])).decode("utf-8")
    codec, declared = draw(st.sampled_from(ENCODINGS))
    doctype = draw(st.sampled_from(["", '<!DOCTYPE KSR SYSTEM "{outside}/pipe">\n',
                                    '<!DOCTYPE KSR SYSTEM "file://{outside}/secret">\n',
                                    '<!DOCTYPE KSR [<!ENTITY % p SYSTEM "{outside}/pipe"> %p;]>\n']))
    head = f'<?xml version="1.0" encoding="{declared}"?>\n' if declared else ""
    return (head + doctype + text).encode(codec)


@st.composite
def big_contents(draw) -> bytes:
    """Up to 2 MiB: a drawn chunk repeated (hypothesis cannot draw megabytes directly)."""
    chunk = draw(st.binary(min_size=1, max_size=64))
    size = draw(st.integers(min_value=0, max_value=2 * 1024 * 1024))
    return (chunk * (size // len(chunk) + 1))[:size]


contents = st.one_of(st.binary(max_size=256), xml_contents(), big_contents())
entries = st.lists(st.tuples(names, st.sampled_from(TYPES), contents, st.sampled_from(LINK_TARGETS)),
                   min_size=1, max_size=8, unique_by=lambda entry: entry[0].lower())


def build(top: Path, stick: Path, planned) -> list[Path]:
    """The stick's entries; returns the FIFOs made (on the stick and outside)."""
    outside = top / "outside"
    fifos = [outside / "pipe"]
    for raw_name, kind, data, target in planned:
        path = os.path.join(os.fsencode(stick), raw_name)
        if kind == "regular":
            data = data.replace(b"{outside}", os.fsencode(outside))
            with open(path, "wb") as stream:
                stream.write(data)
        elif kind == "fifo":
            os.mkfifo(path)
            fifos.append(Path(os.fsdecode(path)))
        elif kind == "symlink":
            os.symlink(top / target, path)
        elif kind == "hardlink":
            os.link(outside / "secret", path)
        elif kind == "directory":
            os.mkdir(path)
        else:
            os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 5))  # what /dev/zero is
    return fifos


def survey_import_and_write(media, stick, outcome: list) -> None:
    found = survey(media, stick)
    lines = found.lines(stick)
    policy = load_policy(None)
    for _, data in found.requests[:2]:
        previous = found.responses[0][1] if found.responses else None
        check_request_bytes(data, policy, previous, NOW)
    # The log written onto the stick under each name the stick already holds (FIFO, link, ...).
    written = []
    for name in [n for n, _ in found.unusable + found.requests + found.responses][:3] + ["ceremony.log"]:
        try:
            report = media.write_files(stick, {name: b"the ceremony log\n"}, overwrite=True)
            written.append(name)
        except MediaWriteError as exc:  # refused (a directory there): said, never raised further
            report = exc.report
        except MediaError as exc:  # a name that is not plain
            lines.append(str(exc))
            continue
        lines += report.describe().splitlines()
    outcome.append((found, lines, written))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(planned=entries)
def test_any_stick_is_surveyed_imported_and_written_safely(planned):
    with tempfile.TemporaryDirectory(prefix="hostile-stick-") as folder, ExitStack() as stack:
        top = Path(folder)
        outside = top / "outside"
        outside.mkdir()
        (outside / "secret").write_bytes(SECRET)
        os.mkfifo(outside / "pipe")
        stick = top / "media" / "STICK"
        stick.mkdir(parents=True)
        fifos = build(top, stick, planned)
        watch = stack.enter_context(OpenWatch(outside, top))
        media = stack.enter_context(FolderMedia(top / "media"))
        [the_stick] = media.sticks()
        outcome: list = []
        errors: list = []

        def work():
            try:
                survey_import_and_write(media, the_stick, outcome)
            except BaseException as exc:  # noqa: BLE001 - judged below
                errors.append(exc)

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        worker.join(HANG_LIMIT)
        blocked = [fifo for fifo in fifos if not no_reader(fifo)]  # also frees a blocked reader
        worker.join(30)
        assert not blocked, f"blocked opening FIFO(s) {blocked}"
        assert not worker.is_alive(), "the survey did not end"
        assert not errors, f"{type(errors[0]).__name__}: {errors[0]}"
        opened = [path for path in watch.opened() if path.parent == outside or path == outside]
        assert opened == [], f"opened outside the stick: {opened}"
        assert (outside / "secret").read_bytes() == SECRET
        assert stat.S_ISFIFO((outside / "pipe").lstat().st_mode)

        found, lines, written = outcome[0]
        for line in lines:
            assert line.isprintable(), f"unescaped character in {line!r}"
        for name, _ in found.requests + found.responses + found.unusable:
            assert any(shown(name, LISTED_NAME_LIMIT) in line for line in lines)
        for name in written:
            assert (stick / name).read_bytes() == b"the ceremony log\n"


def test_whatever_sits_at_the_final_name_is_replaced_never_written_through(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(SECRET)
    stick = tmp_path / "media" / "STICK"
    stick.mkdir(parents=True)
    os.mkfifo(stick / "fifo.log")
    os.link(outside / "secret", stick / "hardlink.log")
    os.symlink(outside / "secret", stick / "symlink.log")
    os.symlink(outside / "missing", stick / "dangling.log")
    names = ["fifo.log", "hardlink.log", "symlink.log", "dangling.log"]
    with FolderMedia(tmp_path / "media") as media, FifoGuard(stick / "fifo.log") as guard:
        [the_stick] = media.sticks()
        report = media.write_files(the_stick, {name: b"the ceremony log\n" for name in names}, overwrite=True)
    assert not guard.fired
    assert report.complete
    for name in names:
        assert stat.S_ISREG((stick / name).lstat().st_mode) and (stick / name).read_bytes() == b"the ceremony log\n"
    assert (outside / "secret").read_bytes() == SECRET and not (outside / "missing").exists()
