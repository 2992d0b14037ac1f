"""FolderMedia: sticks as subfolders; events, listing, capped reads, verified writes, pulled sticks."""

import errno
import hashlib
import os
import shutil

import pytest

from appliance import safefile
from appliance.errors import EXIT_MEDIA, MediaError
from appliance.media import (
    ADDED,
    REMOVED,
    FolderMedia,
    MediaWriteError,
    files,
)

WAIT = 5.0  # an upper bound for an event to arrive, not a timing goal


@pytest.fixture
def root(tmp_path):
    media_root = tmp_path / "media"
    media_root.mkdir()
    return media_root


@pytest.fixture
def stick_dir(root):
    path = root / "KSR"
    path.mkdir()
    (path / "ksr-root-2026-q1-0.xml").write_bytes(b"<KSR/>")
    return path


@pytest.fixture
def media(root, stick_dir):
    with FolderMedia(root, interval=0.02) as source:
        yield source


def only_stick(media):
    [stick] = media.sticks()
    return stick


def no_partial_files(path):
    return not [p for p in os.listdir(path) if p.endswith(safefile.TEMP_SUFFIX)]


# --- sticks and events -----------------------------------------------------------------------


def test_sticks_present_at_start_are_listed_and_announced(media, stick_dir):
    stick = only_stick(media)
    assert (stick.name, stick.label, stick.fs_type, stick.path) == ("KSR", "KSR", "folder", stick_dir)
    assert stick.device is None
    event = media.poll()
    assert (event.kind, event.stick) == (ADDED, stick)
    assert media.poll() is None


def test_a_new_folder_is_a_stick_added_and_its_removal_a_stick_removed(root):
    seen = []
    with FolderMedia(root, interval=0.02, on_event=seen.append) as media:
        assert media.sticks() == [] and media.poll() is None
        (root / "OUT").mkdir()
        added = media.poll(timeout=WAIT)
        assert added.kind == ADDED and added.stick.name == "OUT"
        assert [s.name for s in media.sticks()] == ["OUT"]
        (root / "OUT").rmdir()
        removed = media.poll(timeout=WAIT)
        assert (removed.kind, removed.stick) == (REMOVED, added.stick)
        assert media.sticks() == []
    assert seen == [added, removed]


def test_hidden_folders_files_and_symlinks_are_not_sticks(root, tmp_path):
    (root / ".hidden").mkdir()
    (root / "file.xml").write_bytes(b"x")
    (root / "link").symlink_to(tmp_path)
    with FolderMedia(root) as media:
        assert media.sticks() == []


def test_events_drains_the_queue_without_blocking(root):
    (root / "A").mkdir()
    (root / "B").mkdir()
    with FolderMedia(root) as media:
        assert [(e.kind, e.stick.name) for e in media.events()] == [(ADDED, "A"), (ADDED, "B")]
        assert list(media.events()) == []


def test_a_missing_media_folder_is_a_media_error(tmp_path):
    with pytest.raises(MediaError, match="does not exist") as raised:
        FolderMedia(tmp_path / "nowhere").start()
    assert raised.value.exit_code == EXIT_MEDIA


def test_no_events_after_stop(root):
    media = FolderMedia(root, interval=0.02)
    media.start()
    media.stop()
    (root / "LATE").mkdir()
    assert media.poll(timeout=0.2) is None


# --- listing and reading ---------------------------------------------------------------------


def test_list_files_matches_any_case_and_skips_hidden_dirs_and_links(media, stick_dir):
    (stick_dir / "OTHER.XML").write_bytes(b"<KSR/>")
    (stick_dir / "notes.txt").write_bytes(b"")
    (stick_dir / ".hidden.xml").write_bytes(b"")
    (stick_dir / "dir.xml").mkdir()
    (stick_dir / "link.xml").symlink_to(stick_dir / "notes.txt")
    stick = only_stick(media)
    assert media.list_files(stick) == ["OTHER.XML", "ksr-root-2026-q1-0.xml"]
    assert media.list_files(stick, ".txt") == ["notes.txt"]
    assert media.list_files(stick, "") == ["OTHER.XML", "ksr-root-2026-q1-0.xml", "notes.txt"]


def test_read_file_returns_the_bytes_up_to_the_cap(media, stick_dir):
    (stick_dir / "big.xml").write_bytes(b"x" * 100)
    stick = only_stick(media)
    assert media.read_file(stick, "ksr-root-2026-q1-0.xml") == b"<KSR/>"
    assert media.read_file(stick, "big.xml", max_size=100) == b"x" * 100
    with pytest.raises(MediaError, match="larger than the 99 bytes allowed"):
        media.read_file(stick, "big.xml", max_size=99)


@pytest.mark.parametrize("name", ["../KSR/ksr-root-2026-q1-0.xml", "a/b.xml", ".hidden", "", ".."])
def test_read_file_refuses_anything_but_a_plain_name(media, name):
    with pytest.raises(MediaError, match="not a plain file name"):
        media.read_file(only_stick(media), name)


def test_read_file_refuses_symlinks_and_missing_files(media, stick_dir, tmp_path):
    (tmp_path / "secret").write_bytes(b"secret")
    (stick_dir / "link.xml").symlink_to(tmp_path / "secret")
    stick = only_stick(media)
    with pytest.raises(MediaError, match="link.xml"):
        media.read_file(stick, "link.xml")
    with pytest.raises(MediaError, match="cannot read none.xml"):
        media.read_file(stick, "none.xml")


def test_reading_a_removed_stick_says_it_is_gone(media, stick_dir):
    stick = only_stick(media)
    shutil.rmtree(stick_dir)
    with pytest.raises(MediaError, match="no longer present"):
        media.read_file(stick, "ksr-root-2026-q1-0.xml")
    with pytest.raises(MediaError, match="no longer present"):
        media.list_files(stick)


# --- writing ---------------------------------------------------------------------------------

OUTPUT = {"skr-root-2026-q1-0.xml": b"<KSR-response/>", "ceremony-log.txt": b"log\n" * 1000}


def test_write_files_writes_reads_back_and_reports_each_hash(media, stick_dir):
    stick = only_stick(media)
    report = media.write_files(stick, OUTPUT)
    assert report.complete and report.stick == stick
    assert [(f.name, f.size, f.sha256) for f in report.verified] == [
        (name, len(data), hashlib.sha256(data).hexdigest()) for name, data in OUTPUT.items()
    ]
    for name, data in OUTPUT.items():
        assert (stick_dir / name).read_bytes() == data
    assert no_partial_files(stick_dir)
    assert "Written and verified" in report.describe()
    media.release(stick)
    assert media.read_file(stick, "ceremony-log.txt") == OUTPUT["ceremony-log.txt"]


def test_existing_files_are_not_overwritten_unless_asked(media, stick_dir):
    (stick_dir / "SKR-ROOT-2026-Q1-0.XML").write_bytes(b"old")
    stick = only_stick(media)
    with pytest.raises(MediaWriteError, match="already on the stick") as raised:
        media.write_files(stick, OUTPUT)
    report = raised.value.report
    assert report.verified == () and report.unverified == ()
    assert report.not_written == tuple(OUTPUT)
    assert not (stick_dir / "ceremony-log.txt").exists()
    assert media.write_files(stick, OUTPUT, overwrite=True).complete


def test_a_bad_output_name_is_refused_before_anything_is_written(media, stick_dir):
    with pytest.raises(MediaError, match="not a plain file name"):
        media.write_files(only_stick(media), {"log.txt": b"x", "../escape.txt": b"x"})
    assert not (stick_dir / "log.txt").exists()


def test_a_stick_removed_before_the_write_writes_nothing_and_says_so(media, stick_dir):
    stick = only_stick(media)
    shutil.rmtree(stick_dir)
    with pytest.raises(MediaWriteError) as raised:
        media.write_files(stick, OUTPUT)
    report = raised.value.report
    assert raised.value.exit_code == EXIT_MEDIA
    assert report.reason == "the stick was removed"
    assert (report.verified, report.unverified, report.not_written) == ((), (), tuple(OUTPUT))
    message = str(raised.value)
    assert "failed: the stick was removed." in message
    assert "NOT written:\n  skr-root-2026-q1-0.xml\n  ceremony-log.txt" in message


def test_a_stick_removed_during_the_write_reports_what_was_and_was_not_written(root, stick_dir):
    def pull_before_the_log(step, stick, name):
        if (step, name) == ("write", "ceremony-log.txt"):
            shutil.rmtree(stick.path)

    with FolderMedia(root, fault_hook=pull_before_the_log) as media:
        with pytest.raises(MediaWriteError) as raised:
            media.write_files(only_stick(media), OUTPUT)
    report = raised.value.report
    assert report.reason == "the stick was removed"
    assert report.verified == ()
    assert report.unverified == ("skr-root-2026-q1-0.xml",)
    assert report.not_written == ("ceremony-log.txt",)
    assert "Written but NOT verified" in str(raised.value)


def test_a_stick_removed_during_the_read_back_verifies_nothing_after_it(root, stick_dir):
    def pull_before_verifying_the_log(step, stick, name):
        if (step, name) == ("verify", "ceremony-log.txt"):
            shutil.rmtree(stick.path)

    with FolderMedia(root, fault_hook=pull_before_verifying_the_log) as media:
        with pytest.raises(MediaWriteError) as raised:
            media.write_files(only_stick(media), OUTPUT)
    report = raised.value.report
    assert [f.name for f in report.verified] == ["skr-root-2026-q1-0.xml"]
    assert report.unverified == ("ceremony-log.txt",)
    assert report.not_written == ()


def test_a_file_that_reads_back_different_is_not_verified(root, stick_dir):
    def corrupt_the_response(step, stick, name):
        if (step, name) == ("verify", "skr-root-2026-q1-0.xml"):
            (stick.path / name).write_bytes(b"<KSR-response/ >")

    with FolderMedia(root, fault_hook=corrupt_the_response) as media:
        with pytest.raises(MediaWriteError, match="read back") as raised:
            media.write_files(only_stick(media), OUTPUT)
    report = raised.value.report
    assert report.reason.startswith("skr-root-2026-q1-0.xml read back")
    assert report.verified == ()
    assert report.unverified == tuple(OUTPUT)


def test_a_stick_that_kept_nothing_is_told_so_not_as_a_bare_errno(root, stick_dir):
    """The lying stick's kind (acknowledges every write, keeps none): at the read-back the file is
    not there. The reason says what that means, not '[Errno 2] No such file or directory'."""
    def forget_the_response(step, stick, name):
        if (step, name) == ("verify", "skr-root-2026-q1-0.xml"):
            (stick.path / name).unlink()

    with FolderMedia(root, fault_hook=forget_the_response) as media:
        with pytest.raises(MediaWriteError) as raised:
            media.write_files(only_stick(media), OUTPUT)
    report = raised.value.report
    assert report.reason == ("skr-root-2026-q1-0.xml is not on the stick when read back: the stick "
                             "acknowledged the write but did not keep it")
    assert "Errno" not in str(raised.value) and report.verified == ()
    assert report.unverified == tuple(OUTPUT)


def test_a_failed_write_leaves_no_partial_file_under_the_final_name(media, stick_dir, monkeypatch):
    real_fsync = os.fsync

    def full_on_the_log(fd):
        if os.fstat(fd).st_size == len(OUTPUT["ceremony-log.txt"]):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(files.os, "fsync", full_on_the_log)
    with pytest.raises(MediaWriteError, match="No space left") as raised:
        media.write_files(only_stick(media), OUTPUT)
    report = raised.value.report
    assert report.unverified == ("skr-root-2026-q1-0.xml",)
    assert report.not_written == ("ceremony-log.txt",)
    assert not (stick_dir / "ceremony-log.txt").exists()
    assert no_partial_files(stick_dir)
    assert (stick_dir / "skr-root-2026-q1-0.xml").read_bytes() == OUTPUT["skr-root-2026-q1-0.xml"]


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) - 7])
def test_the_read_back_hashes_every_byte_whatever_the_size(tmp_path, size):
    data = os.urandom(size)
    (tmp_path / "file.bin").write_bytes(data)
    with files.opened_directory(tmp_path) as directory:
        assert files.sha256_from_medium(directory, "file.bin", max_size=size) == hashlib.sha256(data).hexdigest()


def test_the_read_back_refuses_a_file_larger_than_what_was_written(tmp_path):
    (tmp_path / "file.bin").write_bytes(b"x" * (2 << 20))
    with files.opened_directory(tmp_path) as directory, pytest.raises(MediaError, match="read back larger than"):
        files.sha256_from_medium(directory, "file.bin", max_size=1000)


def test_the_read_back_never_follows_a_symlink(tmp_path):
    (tmp_path / "elsewhere").write_bytes(b"data")
    (tmp_path / "file.bin").symlink_to(tmp_path / "elsewhere")
    with files.opened_directory(tmp_path) as directory, pytest.raises(OSError) as raised:
        files.sha256_from_medium(directory, "file.bin", max_size=10)
    assert raised.value.errno == errno.ELOOP
