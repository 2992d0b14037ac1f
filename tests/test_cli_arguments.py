"""Every subcommand with wrong arguments, missing and wrong-type files, and a closed standard input:
one line naming the mistake, a documented exit code, never a traceback, nothing changed on the token.

Run as processes (the real `ceremony` command), each in its own session so it has no terminal: a
PIN prompt then reads the closed (or given) standard input, as a script's would.
"""

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.commands.demo import KSK_LABEL, PIN, prepare_demo

pytestmark = pytest.mark.softhsm

CEREMONY = str(Path(sys.executable).with_name("ceremony"))
DOCUMENTED = {1, 2, 3, 4}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return prepare_demo(tmp_path_factory.mktemp("cli") / "demo")


def token_state(demo) -> dict[str, str]:
    """SoftHSM's object files by name and hash: every key, public or private. (token.object, the
    token's own record, counts logins, so it changes with any PIN typed.)"""
    tokens = demo.directory / "softhsm-tokens"
    return {str(p.relative_to(tokens)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(tokens.rglob("*.object")) if p.name != "token.object"}


# (arguments, standard input, exit code, what the one line must say). {cfg}, {ksr}, {skr}, {media},
# {new} (a path that does not exist yet, in an existing directory) are filled in from the demo.
CASES = [
    ([], "", 2, "the following arguments are required: COMMAND"),
    (["bogus"], "", 2, "invalid choice: 'bogus'"),
    (["hash"], "", 2, "one of the arguments"),
    (["hash", "/nonexist"], "", 2, "cannot read /nonexist: No such file"),
    (["hash", "/etc"], "", 2, "cannot read /etc: Is a directory"),
    (["hash", "/dev/zero"], "", 2, "cannot read /dev/zero: not a regular file"),  # would never end
    (["hash", "{fifo}"], "", 2, "fifo: not a regular file"),  # would block
    (["hash", "--hex", "zz"], "", 2, "not a hex digest"),
    (["hash", "--hex", "abcd"], "", 2, "64 hex digits"),
    (["verify-ksr", "/nonexist"], "", 2, "cannot read request /nonexist"),
    (["verify-ksr", "/etc"], "", 2, "cannot read request /etc: Is a directory"),
    (["verify-ksr", "{fifo}"], "", 2, "cannot read request"),
    (["verify-ksr", "{ksr}", "--policy", "nosuch"], "", 2, "cannot read policy nosuch"),
    (["verify-ksr", "{ksr}", "--policy", "/dev/zero"], "", 2, "cannot read policy /dev/zero: not a regular file"),
    (["verify-ksr", "{ksr}", "--now", "garbage"], "", 2, "--now: "),
    (["verify-ksr", "{ksr}", "--previous-skr", "/nonexist"], "", 2, "cannot read previous response /nonexist"),
    (["verify-ksr", "/etc/passwd"], "", 1, None),  # a refusal: the report says KSR-XML
    (["verify-skr", "/nonexist"], "", 2, "cannot read response /nonexist"),
    (["verify-skr", "{skr}", "--trust-anchor", "/nonexist"], "", 2, "cannot read trust anchor file /nonexist"),
    (["verify-skr", "{skr}", "--trust-anchor", "/etc/passwd"], "", 2, "trust anchor file /etc/passwd"),
    (["verify-skr", "{skr}", "--trust-anchor", "{fifo}"], "", 2, "not a regular file"),
    (["verify-skr", "{skr}", "--ksr", "/nonexist"], "", 2, "cannot read request /nonexist"),
    (["verify-skr", "{skr}", "--now", "garbage"], "", 2, "--now: "),
    (["sign", "{ksr}", "--output", "{new}", "--config", "{cfg}", "--yes"], "", 2, "no PIN: standard input is closed"),
    (["sign", "{ksr}", "--output", "{new}", "--config", "{cfg}"], "", 2, "no PIN: standard input is closed"),
    (["sign", "{ksr}", "--output", "/nonexist/skr.xml", "--config", "{cfg}"], "", 2, "output directory /nonexist"),
    (["sign", "{ksr}", "--output", "{ksr}", "--config", "{cfg}"], "", 2, "already exists"),
    (["sign", "/nonexist", "--output", "{new}", "--config", "{cfg}"], "", 2, "cannot read request /nonexist"),
    (["sign", "{ksr}", "--output", "{new}", "--config", "/nonexist.toml"], "", 2, "/nonexist.toml: No such file"),
    (["sign", "{ksr}", "--output", "{new}", "--config", "/etc/passwd"], "", 2, "not valid TOML"),
    (["sign", "{ksr}", "--output", "{new}", "--config", "{fifo}"], "", 2, "not a regular file"),
    (["sign", "{ksr}", "--output", "{new}", "--config", "{cfg}", "--schema", "nosuch", "--yes"], PIN, 2,
     "unknown schema 'nosuch'"),
    (["sign", "{ksr}", "--output", "{new}", "--config", "{cfg}", "--policy", "nosuch"], "", 2,
     "cannot read policy nosuch"),
    (["sign", "{ksr}", "--output", "{new}", "--config", "{cfg}", "--now", "garbage"], "", 2, "--now: "),
    (["sign", "{ksr}", "--output", "{new}", "--config", "{cfg}", "--json"], "", 2, "--json needs --yes"),
    (["keys", "list", "--config", "{cfg}"], "", 2, "no PIN: standard input is closed"),
    (["keys", "list", "--config", "/nonexist.toml"], "", 2, "/nonexist.toml: No such file"),
    (["keys", "list", "--config", "/etc/passwd"], "", 2, "not valid TOML"),
    (["keys", "list", "--config", "/dev/zero"], "", 2, "cannot read configuration /dev/zero: not a regular file"),
    (["keys", "list", "--config", "/etc"], "", 2, "cannot read configuration /etc: Is a directory"),
    (["keys", "list", "--config", "{cfg}", "--domain", "bad..x"], "", 2, "argument --domain: not a domain name"),
    (["keys", "generate", "--config", "{cfg}", "--label", ""], PIN, 2, "argument --label: a key label must be"),
    (["keys", "generate", "--config", "{cfg}", "--label", "X", "--domain", "bad..x"], PIN, 2,
     "argument --domain: not a domain name: 'bad..x'"),
    (["keys", "generate", "--config", "{cfg}", "--label", "X", "--algorithm", "DSA"], PIN, 2,
     "argument --algorithm: invalid choice"),
    (["keys", "generate", "--config", "{cfg}", "--label", "X"], "", 2, "no PIN: standard input is closed"),
    (["keys", "export", KSK_LABEL, "--config", "{cfg}", "--domain", "bad domain..x"], PIN, 2,
     "argument --domain: not a domain name"),
    (["keys", "export", KSK_LABEL, "--config", "{cfg}", "--ttl", "-5"], PIN, 2, "argument --ttl: -5 is outside"),
    (["keys", "export", KSK_LABEL, "--config", "{cfg}", "--ttl", "x"], PIN, 2, "argument --ttl: not a whole number"),
    (["keys", "export", "", "--config", "{cfg}"], PIN, 2, "a key label must be"),
    (["keys", "export", KSK_LABEL, "--config", "{cfg}", "--xml", "/nonexist/a.xml", "--valid-from", "2020-01-01"],
     PIN, 2, "--xml /nonexist/a.xml: the directory /nonexist does not exist"),
    (["keys", "export", KSK_LABEL, "--config", "{cfg}", "--xml", "{new}", "--valid-from", "garbage"], PIN, 2,
     "--valid-from: "),
    (["keys", "export", KSK_LABEL, "--config", "{cfg}", "--xml", "{ksr}"], PIN, 2, "already exists"),
    (["keys", "export", "NO-SUCH-KEY", "--config", "{cfg}"], PIN, 3, "NO-SUCH-KEY"),
    (["run", "--media", "/etc/passwd"], "", 2, "--media /etc/passwd: is not a directory"),
    (["run", "--media", "/nonexist"], "", 2, "--media /nonexist: does not exist"),
    (["run", "--media", "{media}", "--config", "/nonexist.toml"], "", 2, "/nonexist.toml: No such file"),
    (["run", "--media", "{media}", "--config", "{cfg}", "--policy", "nosuch"], "", 2, "cannot read policy nosuch"),
    (["run", "--media", "{media}", "--config", "{cfg}", "--schema", "nosuch"], "", 2, "unknown schema 'nosuch'"),
    (["run", "--media", "{media}", "--config", "{cfg}"], "", 2, "ceremony run needs a terminal"),
    (["demo", "--unattended", "--dir", "/etc/passwd"], "", 2, "--dir /etc/passwd: not a directory"),
    (["demo", "--unattended", "--dir", "/etc"], "", 2, "--dir /etc: not empty and not made by `ceremony demo`"),
]


@pytest.mark.parametrize("arguments, typed, code, message", CASES, ids=[" ".join(c[0]) or "(none)" for c in CASES])
def test_a_wrong_argument_is_one_line_and_a_documented_code(demo, tmp_path, arguments, typed, code, message):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    fill = {"cfg": str(demo.config), "ksr": str(demo.stick / demo.request), "skr": str(demo.stick / demo.previous),
            "media": str(demo.media), "new": str(tmp_path / "new.xml"), "fifo": str(fifo)}
    argv = [a.format(**fill) for a in arguments]
    before = token_state(demo)
    assert len(before) >= 2  # the demo KSK's private and public objects
    result = subprocess.run([CEREMONY, *argv], input=typed + "\n" if typed else "", capture_output=True, text=True,
                            timeout=60, start_new_session=True, check=False)
    everything = result.stdout + result.stderr
    assert "Traceback" not in everything, everything
    assert result.returncode == code and code in DOCUMENTED, everything
    if message is not None:
        errors = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("User PIN for token")]
        assert len(errors) == 1, result.stderr
        assert re.search(re.escape(message), errors[0]), errors[0]
    assert not (tmp_path / "new.xml").exists()
    assert token_state(demo) == before  # no key made, nothing changed on the token
