"""Issue 10 points 4, 5 (files) and 7 on the command line: every file the operator names is opened
without following a link or waiting on a FIFO, read up to a cap, and every fault that would only
show once the HSM had signed is found before the PIN is asked.

Cases 08, 13 and 17 of ../shared/cases/hostile-stick (inputs copied into tests/fixtures/hostile-stick).
"""

from __future__ import annotations

import getpass
import os
import resource
import subprocess
import sys
import threading
import tracemalloc
from pathlib import Path

import pytest

from appliance.cli import main
from appliance.commands.demo import prepare_demo
from appliance.console.step_hsm import STICK_CONFIG, _from_stick
from appliance.errors import MediaError
from appliance.media import FolderMedia
from appliance.policy import load_policy
from tests.outside import FifoGuard

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "hostile-stick"
KSR_2017_Q2 = Path(__file__).resolve().parents[1].parent / "shared" / "ceremony-data" / "dnssec-keytools" / "ksr-root-2017-q2-0.xml"


def ceremony(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def in_thread(function, *args):
    """function(*args) run where a block cannot hang the test: (finished, result or exception)."""
    outcome = []

    def call():
        try:
            outcome.append(function(*args))
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(30)  # liveness only; the FifoGuard frees a blocked open meanwhile
    return (not worker.is_alive(), outcome[0] if outcome else None)


# --- point 4: what a name on the command line may be -----------------------------------------


def ceremony_confined(*argv) -> subprocess.CompletedProcess:
    """`ceremony ARGV` in a child limited to 1 GiB of address space and 60 s: code that reads
    /dev/zero whole then fails with MemoryError instead of taking the shared machine down."""
    def confine():
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    return subprocess.run([sys.executable, "-m", "appliance.cli", *map(str, argv)], capture_output=True,
                          text=True, timeout=60, preexec_fn=confine, cwd=Path(__file__).resolve().parents[1])


@pytest.mark.parametrize("command", ["verify-ksr", "verify-skr", "hash"])
def test_a_device_is_refused_without_reading_it(command):
    done = ceremony_confined(command, "/dev/zero")
    assert done.returncode == 2, done.stderr
    assert "/dev/zero: a character device, not a regular file" in done.stderr


@pytest.mark.parametrize("command", ["verify-ksr", "verify-skr", "hash"])
def test_a_fifo_is_refused_without_waiting_for_a_writer(capsys, tmp_path, command):
    fifo = tmp_path / "request.xml"
    os.mkfifo(fifo)
    with FifoGuard(fifo) as guard:
        code = main([command, str(fifo)])
    assert not guard.fired, f"{command} blocked opening a FIFO"
    assert code == 2
    assert "a FIFO, not a regular file" in capsys.readouterr().err


def test_a_symbolic_link_is_never_followed(capsys, tmp_path):
    (tmp_path / "link.xml").symlink_to(KSR_2017_Q2)
    code, _, err = ceremony(capsys, "verify-ksr", tmp_path / "link.xml")
    assert code == 2
    assert "a symbolic link (never followed)" in err


def test_a_large_file_is_refused_after_reading_at_most_the_cap(capsys, tmp_path):
    sparse = tmp_path / "huge.xml"
    with open(sparse, "wb") as stream:
        stream.truncate(64 << 20)  # sparse; (a 1 TiB one read whole would take the machine down)
    tracemalloc.start()
    try:
        code, _, err = ceremony(capsys, "verify-ksr", sparse)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == 2
    assert "larger than the 1048576 bytes allowed" in err
    assert peak < 8 << 20, f"{peak} bytes allocated to refuse a 64 MiB file"


@pytest.mark.parametrize("kind", ["FIFO", "symbolic link", "directory"])
def test_a_policy_or_configuration_that_is_not_a_regular_file_is_refused(capsys, tmp_path, kind):
    policy = tmp_path / "policy.toml"
    if kind == "FIFO":
        os.mkfifo(policy)
    elif kind == "symbolic link":
        policy.symlink_to(Path(__file__).resolve().parents[1] / "appliance" / "policies" / "root.toml")
    else:
        policy.mkdir()
    with FifoGuard(policy) if kind == "FIFO" else FifoGuard() as guard:
        code = main(["verify-ksr", str(KSR_2017_Q2), "--policy", str(policy)])
    assert not guard.fired
    assert code == 2
    assert "cannot read policy" in capsys.readouterr().err


def test_08_a_fifo_named_ceremony_toml_on_a_stick_is_refused_at_once(tmp_path):
    stick = tmp_path / "media" / "CONFIG"
    stick.mkdir(parents=True)
    os.mkfifo(stick / STICK_CONFIG)
    with FolderMedia(tmp_path / "media") as media, FifoGuard(stick / STICK_CONFIG) as guard:
        finished, outcome = in_thread(_from_stick, media, media.sticks()[0])
    assert finished and not guard.fired, "reading ceremony.toml blocked on a FIFO"
    assert isinstance(outcome, MediaError)
    assert "a FIFO, not a regular file" in str(outcome)


# --- point 5: policy names ---------------------------------------------------------------------


@pytest.fixture
def folder_with_a_policy_named_root(tmp_path, monkeypatch):
    """Case 13: the current folder holds a file "root" (a policy that widens every knob) and a
    one-bundle request valid for ten years, which only that policy accepts."""
    (tmp_path / "root").write_bytes((FIXTURES / "13-policy-named-root").read_bytes())
    (tmp_path / "ksr-long.xml").write_bytes((FIXTURES / "13-ksr-long.xml").read_bytes())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_13_the_default_policy_is_the_shipped_one_whatever_the_current_folder_holds(
        capsys, folder_with_a_policy_named_root):
    for spec in (None, "root"):
        assert load_policy(spec).source == "root (shipped)"
    code, out, _ = ceremony(capsys, "verify-ksr", "ksr-long.xml", "--now", "2026-12-01")
    assert code == 1
    assert "Policy: root (shipped)" in out and "FAIL  KSR-BUNDLE-COUNT" in out


def test_13_the_policy_resolves_from_the_root_folder_too(capsys, monkeypatch):
    monkeypatch.chdir("/")  # /root is a folder there
    assert load_policy(None).source == "root (shipped)"


def test_13_a_policy_file_only_by_an_explicit_path_and_every_widened_knob_is_a_note(
        capsys, folder_with_a_policy_named_root):
    code, out, _ = ceremony(capsys, "verify-ksr", "ksr-long.xml", "--policy", "./root", "--now", "2026-12-01")
    assert "Policy: ./root" in out
    notes = [line for line in out.splitlines() if line.startswith("NOTE")]
    for knob in ("domains", "bundles.count", "bundles.keys_per_bundle", "bundles.cycle_min/cycle_max",
                 "keys.algorithms", "keys.rsa_sizes", "keys.rsa_exponents", "signatures.validity_min/validity_max",
                 "signatures.overlap_min/overlap_max", "signatures.horizon"):
        assert any(knob in note for note in notes), f"no NOTE for {knob}"
    assert code == 0


def test_13_an_unknown_bare_name_is_not_looked_up_as_a_file(capsys, folder_with_a_policy_named_root):
    (folder_with_a_policy_named_root / "strict").write_bytes(b"")
    code, _, err = ceremony(capsys, "verify-ksr", "ksr-long.xml", "--policy", "strict")
    assert code == 2
    assert "no shipped policy is named strict" in err and "./strict.toml" in err


# --- point 7: the domain as it will be signed ---------------------------------------------------

DOMAIN_CASES = ["17-i-domain-space-dot.xml", "17-j-domain-dot-newline.xml", "17-k-domain-double-dot.xml",
                "17-l-domain-dot-tab.xml"]


@pytest.mark.parametrize("name", DOMAIN_CASES)
def test_17_a_domain_that_is_not_a_plain_domain_name_is_refused(capsys, name):
    code, out, _ = ceremony(capsys, "verify-ksr", FIXTURES / name)
    assert code == 1
    assert "FAIL  KSR-XML" in out and "attribute domain" in out


@pytest.mark.softhsm
@pytest.mark.parametrize("domain", [" .", ".&#10;", "&#9;.", "..", ". "])
def test_17_sign_refuses_such_a_domain_before_the_pin_is_asked(capsys, tmp_path, monkeypatch, domain):
    demo = prepare_demo(tmp_path / "demo")
    request = tmp_path / "ksr.xml"
    request.write_bytes((demo.stick / demo.request).read_bytes().replace(b'domain="."', f'domain="{domain}"'.encode(), 1))
    asked = []
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": asked.append(prompt) or "123456")
    code, _, _ = ceremony(capsys, "sign", request, "--config", demo.config, "--output", tmp_path / "skr.xml", "--yes")
    assert code == 1
    assert asked == [], "the PIN was asked for a request that can never be written"
    assert not (tmp_path / "skr.xml").exists()


@pytest.mark.softhsm
@pytest.mark.parametrize("output", ["x" * 252 + ".xml", "existing.xml", "no-such-folder/skr.xml"])
def test_an_output_that_cannot_be_written_is_refused_before_the_pin_is_asked(capsys, tmp_path, monkeypatch, output):
    demo = prepare_demo(tmp_path / "demo")
    (tmp_path / "existing.xml").symlink_to(tmp_path / "nowhere")  # even a dangling link is "there"
    asked = []
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": asked.append(prompt) or "123456")
    code, _, err = ceremony(capsys, "sign", demo.stick / demo.request, "--config", demo.config,
                            "--output", tmp_path / output, "--yes")
    assert code == 2
    assert asked == []
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("command", ["verify-ksr", "hash"])
def test_a_file_name_of_any_bytes_is_shown_escaped(capsys, tmp_path, command):
    name = os.path.join(os.fsencode(tmp_path), b"\xff\nSHA-256:\x1b[2J.xml")
    with open(name, "wb") as stream:
        stream.write((FIXTURES / "demo-ksr.xml").read_bytes())
    code, out, _ = ceremony(capsys, command, os.fsdecode(name))
    assert code in (0, 1)
    first = out.splitlines()[0]
    assert "\\xff\\nSHA-256:\\x1b[2J.xml" in first
    assert "\x1b" not in out
    assert not [line for line in out.splitlines()[1:] if "SHA-256:" in line]  # the forged label stays on the name's line
