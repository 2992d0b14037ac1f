"""`ceremony demo --unattended`: the README's first command, run as a user would, end to end."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.softhsm

CEREMONY = str(Path(sys.executable).with_name("ceremony"))


def test_demo_unattended_signs_and_verifies(tmp_path):
    result = subprocess.run([CEREMONY, "demo", "--unattended", "--dir", str(tmp_path / "demo")],
                            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Requests signed: 1." in out
    assert "RESPONSE ACCEPTED: all 4 checks passed" in out  # the real verify-skr, with the trust anchor
    stick = tmp_path / "demo" / "media" / "KSR-STICK"
    responses = [p.name for p in stick.glob("skr-demo-*.xml") if "previous" not in p.name]
    assert len(responses) == 1 and f"Response: {stick / responses[0]}" in out
    assert len(list(stick.glob("ceremony-*.log"))) == 1


def test_demo_without_a_terminal_falls_back_to_unattended(tmp_path):
    result = subprocess.run([CEREMONY, "demo", "--dir", str(tmp_path / "demo")], capture_output=True, text=True,
                            timeout=120, stdin=subprocess.DEVNULL, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ceremony demo: no terminal, so running unattended (--unattended)")


def test_run_refuses_without_a_terminal(tmp_path):
    result = subprocess.run([CEREMONY, "run", "--media", str(tmp_path)], capture_output=True, text=True,
                            timeout=60, stdin=subprocess.DEVNULL, check=False)
    assert result.returncode == 2
    assert "ceremony run needs a terminal (for scripts: ceremony demo --unattended)" in result.stderr


def test_demo_twice_in_the_same_directory_is_the_same_as_once(tmp_path):
    directory = tmp_path / "demo"
    for _ in range(2):
        result = subprocess.run([CEREMONY, "demo", "--unattended", "--dir", str(directory)], capture_output=True,
                                text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
    # One token, so the configuration still finds exactly one: every later command works.
    listed = subprocess.run([CEREMONY, "keys", "list", "--config", str(directory / "ceremony.toml")],
                            input="123456\n", capture_output=True, text=True, timeout=60, start_new_session=True,
                            check=False)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert listed.stdout.count("KSK-demo") == 2  # its private and public halves, once
    stick = directory / "media" / "KSR-STICK"
    assert len(list(stick.glob("ceremony-*.log"))) == 1


def test_demo_refuses_a_directory_it_did_not_make(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = subprocess.run([CEREMONY, "demo", "--unattended", "--dir", str(tmp_path)], capture_output=True,
                            text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)
    assert result.returncode == 2 and "not empty and not made by `ceremony demo`" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
