"""`ceremony sign` on the real Knot DNS and BIND 9 root requests, with their TEST KSKs in SoftHSM:
every RRSIG byte for byte, the whole file but for the trailer (generation time and program)."""

from __future__ import annotations

import base64
import shutil
from dataclasses import replace

import pytest

from appliance import cli, dnssec
from appliance.formats.detect import read_request, read_response
from tests.offline_ksk.refdata import FIXTURE, OFFLINE_KSK, ROOT_KSKS, read
from tests.softhsm import make_token

pytestmark = pytest.mark.softhsm


@pytest.fixture
def token(tmp_path, monkeypatch):
    """The token as the example configurations' comments say: both root TEST KSKs imported."""
    token = make_token(tmp_path / "hsm", with_test_ksks=False)
    for pem, label, key_id, _ in ROOT_KSKS.values():
        token.import_pem(pem, label, key_id)
    monkeypatch.setenv("SOFTHSM2_CONF", str(token.conf))
    return token


def sign(tmp_path, capsys, ksr: str, config: str, *extra: str) -> tuple[int, str, bytes | None]:
    output = tmp_path / "out.skr.txt"
    code = cli.main(["sign", str(OFFLINE_KSK / ksr), "--output", str(output), "--config", str(FIXTURE / config),
                     "--now", "2026-10-25", "--yes", *extra])
    out, err = capsys.readouterr()
    return code, out + err, output.read_bytes() if output.exists() else None


@pytest.mark.parametrize("dialect", ["knot", "bind"])
def test_sign_reproduces_the_native_response(tmp_path, capsys, token, dialect):
    code, report, data = sign(tmp_path, capsys, f"{dialect}/root.ksr.txt", f"{dialect}-root.toml")
    assert code == 0, report
    assert "no proof of possession in these formats" in report
    expected = read(f"{dialect}/root.skr.txt")
    ours, theirs = data.split(b"\n"), expected.split(b"\n")
    assert ours[:-2] == theirs[:-2]  # every bundle, record and RRSIG
    assert ours[-1] == theirs[-1] == b""
    assert ours[-2].startswith(b";; SignedKeyResponse 1.0 generated at ") and ours[-2].endswith(b" by ceremony 0.1.0")
    signatures = [s.signature_data for b in read_response(data).bundles for s in b.signatures]
    assert len(signatures) == 20
    assert signatures == [s.signature_data for b in read_response(expected).bundles for s in b.signatures]


@pytest.mark.parametrize(("ksr", "config", "expected"), [
    ("knot/root.ksr.txt", "bind-root.toml", "cross/root.knot-ksr.signed-by-bind.skr.txt"),
])
def test_sign_answers_in_the_requesters_dialect_by_default(tmp_path, capsys, token, ksr, config, expected):
    """BIND's timing rules on Knot's request: a Knot-dialect answer (Unix-seconds headers, wrapped)
    with the same RRSIGs BIND made for that request (cross/, 24 bundles with the repeated times)."""
    code, report, data = sign(tmp_path, capsys, ksr, config)
    assert code == 0, report
    ours, theirs = read_response(data), read_response(read(expected))
    assert ours.dialect == "knot" and theirs.dialect == "bind"
    assert [b.inception for b in ours.bundles] == [b.inception for b in theirs.bundles]
    assert [s.signature_data for b in ours.bundles for s in b.signatures] == \
        [s.signature_data for b in theirs.bundles for s in b.signatures]


def test_sign_writes_the_other_dialect_on_request(tmp_path, capsys, token):
    """response_format = "bind" on the same request and rules: BIND's own cross file, byte for byte."""
    config = tmp_path / "bind-root.toml"
    shutil.copy(FIXTURE / "test-pin.txt", tmp_path)
    config.write_text((FIXTURE / "bind-root.toml").read_text().replace(
        'response_format = "request"', 'response_format = "bind"'))
    output = tmp_path / "out.skr.txt"
    code = cli.main(["sign", str(OFFLINE_KSK / "knot/root.ksr.txt"), "--output", str(output), "--config", str(config),
                     "--now", "2026-10-25", "--yes"])
    report = "".join(capsys.readouterr())
    assert code == 0, report
    ours = output.read_bytes().split(b"\n")
    assert ours[:-2] == read("cross/root.knot-ksr.signed-by-bind.skr.txt").split(b"\n")[:-2]


def test_a_request_with_a_ksk_tag_is_refused_before_signing(tmp_path, capsys, token):
    """KSR-KEY-TAGS: a "ZSK" whose tag is the configured KSK's; nothing signed, no output."""
    text = read("knot/root.ksr.txt").decode()
    request_key = read_request(read("knot/root.ksr.txt")).bundles[0].keys[0]
    public = bytearray(request_key.public_key)
    for high in range(256):  # another 2048-bit modulus (last two bytes changed) whose ZSK tag is 10889
        public[-2] = high
        tag = dnssec.key_tag(replace(request_key, public_key=bytes(public)))
        public[-1] = (public[-1] + 10889 - tag) % 256
        if dnssec.key_tag(replace(request_key, public_key=bytes(public))) == 10889:
            break
    assert dnssec.key_tag(replace(request_key, public_key=bytes(public))) == 10889
    zsk_form = f". 172800 DNSKEY 256 3 8 {base64.b64encode(bytes(public)).decode()}"
    request = tmp_path / "clash.ksr.txt"
    request.write_text(text.replace(";; KeySigningRequest 1.0 1801267200", zsk_form + "\n;; KeySigningRequest 1.0 1801267200", 1))
    output = tmp_path / "out.txt"
    code = cli.main(["sign", str(request), "--output", str(output), "--config", str(FIXTURE / "knot-root.toml"),
                     "--now", "2026-10-25", "--yes"])
    report = "".join(capsys.readouterr())
    assert code == 1
    assert not output.exists()
    assert "FAIL  KSR-KEY-TAGS" in report


def test_a_schema_does_not_apply_to_a_text_request(tmp_path, capsys, token):
    code, report, data = sign(tmp_path, capsys, "knot/root.ksr.txt", "knot-root.toml", "--schema", "normal")
    assert code == 2 and data is None
    assert "--schema applies to ICANN XML requests" in report
