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
