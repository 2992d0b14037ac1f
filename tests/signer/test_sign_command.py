"""`ceremony sign` and `ceremony keys` against SoftHSM: golden legacy responses, a real request, refusals."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path

import pytest

from appliance import cli
from appliance.digest import Fingerprint
from appliance.formats import parse_response
from appliance.formats.trust_anchor import parse_trust_anchors
from tests.dnspython_judge import validate_bundle
from tests.softhsm import SHARED, fresh_ksk_config, make_token

pytestmark = pytest.mark.softhsm

DATA = SHARED / "ceremony-data"
KSRS = DATA / "dnssec-keytools"
LEGACY = DATA / "dnssec-keytools-legacy"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "legacy-2010"


@pytest.fixture
def legacy_token(tmp_path, monkeypatch):
    """A token prepared as the fixture's comments say: TEST KSKs as KSK1/KSK2, found via SOFTHSM2_CONF."""
    token = make_token(tmp_path / "hsm")
    monkeypatch.setenv("SOFTHSM2_CONF", str(token.conf))
    return token


def ceremony(capsys, *args) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def legacy_config(tmp_path, *edits: tuple[str, str], pin: str = "123456") -> Path:
    """The shipped fixture configuration, copied with `edits` (old, new) applied."""
    folder = tmp_path / "config"
    folder.mkdir()
    text = (FIXTURE / "ceremony.toml").read_text()
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    (folder / "ceremony.toml").write_text(text)
    (folder / "test-pin.txt").write_text(pin + "\n")
    return folder / "ceremony.toml"


# --- golden: ICANN's legacy responses, byte for byte --------------------------------------------

GOLDEN = [  # response, request, previous response, schema, policy, --now
    ("2009-q4-2", "2009-q4-2", None, "normal", "root-2009", "2009-11-01"),
    ("2010-q1-0", "2010-q1-0", "2009-q4-2", "normal", None, "2009-12-20"),
    ("2010-q2-0", "2010-q2-0", "2010-q1-0", "legacy-roll", None, "2010-03-25"),
    ("2010-q2-0-revoke", "2010-q2-0", "2010-q1-0", "legacy-revoke", None, "2010-03-25"),
]


@pytest.mark.parametrize("response, request_name, previous, schema, policy, now", GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden_legacy_responses(legacy_token, tmp_path, capsys, response, request_name, previous, schema, policy, now):
    output = tmp_path / "skr.xml"
    args = ["sign", KSRS / f"ksr-root-{request_name}.xml", "--output", output, "--config", FIXTURE / "ceremony.toml",
            "--schema", schema, "--now", now, "--yes"]
    if previous:
        args += ["--previous-skr", LEGACY / f"skr-root-{previous}.xml"]
    if policy:
        args += ["--policy", policy]
    code, out, err = ceremony(capsys, *args)
    assert code == 0, out + err
    ours = parse_response(output.read_bytes())
    theirs = parse_response((LEGACY / f"skr-root-{response}.xml").read_bytes())
    assert len(ours.bundles) == len(theirs.bundles)
    for mine, real in zip(ours.bundles, theirs.bundles):
        assert mine.id == real.id
        assert [s.signature_data for s in mine.signatures] == [s.signature_data for s in real.signatures]
        assert [s.key_tag for s in mine.signatures] == [s.key_tag for s in real.signatures]
    assert output.read_bytes() == (LEGACY / f"skr-root-{response}.xml").read_bytes()
    # Laid out for reading aloud as everywhere else (console, hash, verify-*, log).
    assert Fingerprint.of(output.read_bytes()).render("Fingerprint of the response file") in out


# --- a real request, signed with a fresh KSK ----------------------------------------------------


def dnspython_validates(response) -> None:
    for bundle in response.bundles:
        validate_bundle(bundle)


def test_real_request_signed_with_a_fresh_ksk(tmp_path, capsys):
    token = make_token(tmp_path / "hsm", with_test_ksks=False)
    config = fresh_ksk_config(tmp_path, token)
    output = tmp_path / "skr-root-2017-q2-0.xml"
    request = KSRS / "ksr-root-2017-q2-0.xml"
    code, out, err = ceremony(capsys, "sign", request, "--output", output, "--config", config, "--now", "2017-03-25", "--yes")
    assert code == 0, out + err
    assert "Signed 9 bundles (9 signatures, each verified)" in out
    code, out, err = ceremony(capsys, "verify-skr", output, "--ksr", request)
    assert code == 0, out + err
    response = parse_response(output.read_bytes())
    assert [len(b.signatures) for b in response.bundles] == [1] * 9
    dnspython_validates(response)


def test_real_request_refused_when_the_previous_ksk_is_not_in_the_hsm(tmp_path, capsys):
    token = make_token(tmp_path / "hsm", with_test_ksks=False)
    config = fresh_ksk_config(tmp_path, token)
    output = tmp_path / "out" / "skr.xml"
    output.parent.mkdir()
    code, out, err = ceremony(capsys, "sign", KSRS / "ksr-root-2017-q2-0.xml", "--output", output, "--config", config,
                              "--previous-skr", KSRS / "skr-root-2017-q1-0.xml", "--now", "2017-03-25", "--yes")
    assert code == 1
    assert "FAIL  KSR-CHAIN-KEYS" in out and "validating last SKR with HSM: KSK Kjqmt7v (tag 19036)" in out
    assert "KSR-CHAIN-KEYS" in err and "nothing signed" in err
    assert "PASS  KSR-CHAIN-OVERLAP" in out  # the request itself chains correctly
    assert list(output.parent.iterdir()) == []


# --- refusals: non-zero exit, a message naming the cause, no output file -------------------------


def refused(capsys, tmp_path, config, *extra, request="2010-q1-0", stdin=None, monkeypatch=None):
    output = tmp_path / "out" / "skr.xml"
    output.parent.mkdir(exist_ok=True)
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    result = ceremony(capsys, "sign", KSRS / f"ksr-root-{request}.xml", "--output", output, "--config", config, *extra)
    assert list(output.parent.iterdir()) == [], "no output file, no temporary file"
    return result


def test_refused_when_a_request_check_fails(legacy_token, tmp_path, capsys):
    code, out, err = refused(capsys, tmp_path, FIXTURE / "ceremony.toml", "--now", "2011-01-01", "--yes")
    assert code == 1
    assert "FAIL  KSR-POLICY-SIG-HORIZON" in out and "REQUEST REFUSED" in err and "KSR-POLICY-SIG-HORIZON" in err


def test_refused_when_the_operator_does_not_type_yes(legacy_token, tmp_path, capsys, monkeypatch):
    code, out, err = refused(capsys, tmp_path, FIXTURE / "ceremony.toml", "--now", "2009-12-20",
                             stdin="no\n", monkeypatch=monkeypatch)
    assert code == 1 and "signing not confirmed (answer 'no'" in err and 'Type "yes"' in out


def test_typed_yes_signs(legacy_token, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))
    output = tmp_path / "skr.xml"
    code, out, err = ceremony(capsys, "sign", KSRS / "ksr-root-2010-q1-0.xml", "--output", output,
                              "--config", FIXTURE / "ceremony.toml", "--now", "2009-12-20")
    assert code == 0 and output.read_bytes() == (LEGACY / "skr-root-2010-q1-0.xml").read_bytes()


def test_refused_with_a_wrong_pin(legacy_token, tmp_path, capsys):
    code, out, err = refused(capsys, tmp_path, legacy_config(tmp_path, pin="999999"), "--now", "2009-12-20", "--yes")
    assert code == 3 and "wrong PIN for token 'ceremony-test'" in err


def test_refused_when_a_key_is_missing(legacy_token, tmp_path, capsys):
    config = legacy_config(tmp_path, ('label = "KSK1"', 'label = "KSK9"'))
    code, out, err = refused(capsys, tmp_path, config, "--now", "2009-12-20", "--yes")
    assert code == 3 and "no private key labelled 'KSK9'" in err


def test_refused_when_the_key_does_not_match_its_definition(legacy_token, tmp_path, capsys):
    config = legacy_config(tmp_path, ("key_tag = 5017 ", "key_tag = 5018 "))
    code, out, err = refused(capsys, tmp_path, config, "--now", "2009-12-20", "--yes")
    assert code == 1
    assert "FAIL  KSK-MISMATCH" in out and "key tag 5017, the definition says 5018" in out and "KSK-MISMATCH" in err


def test_refused_when_the_schema_names_an_unknown_key(tmp_path, capsys):
    token = make_token(tmp_path / "hsm", with_test_ksks=False)
    config = fresh_ksk_config(tmp_path, token)
    code, out, err = refused(capsys, tmp_path, config, "--schema", "rollover", "--now", "2017-03-25", "--yes",
                             request="2017-q2-0")
    assert code == 2 and "schema 'rollover' names KSK(s) next" in err


def test_an_existing_response_is_never_overwritten(legacy_token, tmp_path, capsys):
    output = tmp_path / "skr.xml"
    output.write_bytes(b"earlier")
    code, out, err = ceremony(capsys, "sign", KSRS / "ksr-root-2010-q1-0.xml", "--output", output,
                              "--config", FIXTURE / "ceremony.toml", "--now", "2009-12-20", "--yes")
    assert code == 2 and "already exists" in err and output.read_bytes() == b"earlier"


# --- ceremony keys ------------------------------------------------------------------------------


def test_keys_list_generate_and_export(legacy_token, tmp_path, capsys):
    config = FIXTURE / "ceremony.toml"
    code, out, err = ceremony(capsys, "keys", "list", "--config", config, "--json")
    assert code == 0 and "tests and demos only" in err
    listed = json.loads(out)
    assert listed["hsm"]["token_label"] == "ceremony-test"
    assert [(k["label"], k["class"], k["key_tag"]) for k in listed["keys"]] == [
        ("KSK1", "private", 5017), ("KSK2", "private", 55186), ("KSK1", "public", 5017), ("KSK2", "public", 55186)]
    assert listed["keys"][0]["ds_sha256"].startswith("F40FACFD")

    code, out, err = ceremony(capsys, "keys", "generate", "--label", "KSK3", "--algorithm", "ECDSAP256SHA256",
                              "--config", config)
    assert code == 0 and "Generated KSK3: ECDSA P-256" in out and " IN DNSKEY 257 3 13 " in out
    code, out, err = ceremony(capsys, "keys", "generate", "--label", "KSK3", "--config", config)
    assert code == 3 and "'KSK3' already exists" in err

    xml = tmp_path / "anchors.xml"
    code, out, err = ceremony(capsys, "keys", "export", "KSK1", "--config", config, "--xml", xml)
    assert code == 0
    assert ". IN DS 5017 8 2 F40FACFD24EBF0BA0665356B13A568631BB46D01D7C079D65CECD4286057B2F0" in out
    (anchor,) = parse_trust_anchors(xml.read_bytes())
    assert (anchor.key_tag, anchor.id, anchor.valid_from.year) == (5017, "KSK1", 2009)
    dnskey_line = next(line for line in out.splitlines() if " IN DNSKEY " in line)
    assert anchor.key is not None and dnskey_line.endswith(base64.b64encode(anchor.key.public_key).decode())
    code, out, err = ceremony(capsys, "keys", "export", "KSK3", "--config", config, "--xml", tmp_path / "k3.xml")
    assert code == 2 and "--valid-from is needed" in err


def test_json_output_is_one_object_and_the_report_goes_to_stderr(legacy_token, tmp_path, capsys):
    output = tmp_path / "skr.xml"
    base = ["sign", KSRS / "ksr-root-2010-q1-0.xml", "--output", output, "--config", FIXTURE / "ceremony.toml", "--json"]
    code, out, err = ceremony(capsys, *base)
    assert code == 2 and "--json needs --yes" in err
    code, out, err = ceremony(capsys, *base, "--yes", "--now", "2009-12-20")
    result = json.loads(out)
    assert code == 0 and result["valid"] and result["violations"] == []
    assert result["response"]["sha256"] == hashlib.sha256(output.read_bytes()).hexdigest()
    assert [b["ksk_tags"] for b in result["bundles"]] == [[5017]] * 9 and "PASS  KSK-MISMATCH" in err
    output.unlink()
    code, out, err = ceremony(capsys, *base, "--yes", "--now", "2011-01-01")
    result = json.loads(out)
    assert code == 1 and not result["valid"] and result["response"] is None and not output.exists()
    assert {v["check"] for v in result["violations"]} == {"KSR-POLICY-SIG-HORIZON"}


def test_export_defaults_to_the_key_the_profile_uri_names(legacy_token, tmp_path, capsys):
    profile = tmp_path / "hsm.toml"
    profile.write_text(legacy_token.profile_toml(token="pkcs11:token=ceremony-test;object=KSK2"))
    code, out, err = ceremony(capsys, "keys", "export", "--config", profile)
    assert code == 0 and ". IN DS 55186 8 2 567C45ED" in out
    profile.write_text(legacy_token.profile_toml())
    code, out, err = ceremony(capsys, "keys", "export", "--config", profile)
    assert code == 2 and "name the key to export" in err
