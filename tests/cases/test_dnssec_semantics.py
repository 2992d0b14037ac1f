"""The dnssec-semantics cases (copied from ../shared/cases/dnssec-semantics): each folder's inputs
through the real commands, and the kind of fault each shows judged on both sides (request and response).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from appliance import cli
from appliance.errors import FormatError
from appliance.formats import parse_request, parse_response
from appliance.formats.trust_anchor import parse_trust_anchors
from appliance.policy import Policy, validate_request, validate_response
from tests.softhsm import make_token

CASES = Path(__file__).parent / "dnssec-semantics"
NOW = "2029-12-01"


def case(name: str) -> Path:
    [folder] = [p for p in CASES.iterdir() if p.name.startswith(name)]
    return folder


def ceremony(capsys, *args) -> tuple[int, str]:
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out + err


def failures(out: str, check: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(f"FAIL  {check}")]


# -- 01: a signing key whose Zone flag is clear ---------------------------------------------------


def test_01_response_signed_by_a_key_without_the_zone_flag_fails_every_bundle(capsys):
    folder = case("01")
    code, out = ceremony(capsys, "verify-skr", folder / "skr-nozone.xml", "--ksr", folder / "ksr.xml")
    assert code == 1
    fails = failures(out, "SKR-VERIFY")
    assert len([f for f in fails if "Zone flag clear" in f]) == 9
    assert len([f for f in fails if "no valid signature by a KSK that is not revoked" in f]) == 9


def test_01_a_key_without_the_zone_flag_is_no_trust_anchor(capsys):
    folder = case("01")
    code, out = ceremony(capsys, "verify-skr", folder / "skr-nozone.xml", "--trust-anchor", folder / "anchor-nozone.txt")
    assert code == 2 and "the Zone flag (256) is clear" in out


def test_01_as_previous_response_it_fails_skr_verify():
    folder = case("01")
    request = parse_request((folder / "ksr.xml").read_bytes())
    previous = parse_response((folder / "skr-nozone.xml").read_bytes())
    verdict = validate_request(request, Policy(), previous)
    assert any("Zone flag clear" in v.message for v in verdict.failed("SKR-VERIFY"))


# -- 02 and 16: Signer's Name, Labels, Original TTL ----------------------------------------------


@pytest.mark.parametrize("name,file,anchor,expected", [
    ("02", "skr-signer-example.xml", "anchor.txt", "Signer's Name 'example.' is not the zone '.'"),
    ("16", "skr-odd-rrsig-fields.xml", "ksk-software.dnskey", "Signer's Name 'com.' is not the zone '.'"),
])
def test_02_16_rrsig_fields_validators_reject_fail_verify_skr(capsys, name, file, anchor, expected):
    folder = case(name)
    code, out = ceremony(capsys, "verify-skr", folder / file, "--trust-anchor", folder / anchor)
    assert code == 1
    assert len([f for f in failures(out, "SKR-VERIFY") if expected in f]) == 9
    assert len(failures(out, "SKR-TRUST-ANCHOR")) == 9


# The other fields of the same kind, on both sides, are in tests/test_rrsig_rules.py.


# -- 03: a ZSK whose key tag is a KSK's (plain or revoked) ---------------------------------------


@pytest.fixture
def test_ksk_token(tmp_path, monkeypatch):
    token = make_token(tmp_path / "hsm")
    (tmp_path / "hsm" / "pin.txt").write_text(token.pin + "\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(token.conf))
    return tmp_path


def _config(folder: Path, into: Path, *edits: tuple[str, str]) -> Path:
    text = (folder / "ceremony.toml").read_text()
    for old, new in edits:
        assert old in text
        text = text.replace(old, new)
    path = into / "ceremony.toml"
    path.write_text(text)
    return path


@pytest.mark.softhsm
@pytest.mark.parametrize("schema", ["revoke", "normal", "pre-publish"])
def test_03_zsk_with_a_ksk_tag_is_refused_before_signing(capsys, test_ksk_token, schema):
    folder = case("03")
    output = test_ksk_token / "skr.xml"
    code, out = ceremony(capsys, "sign", folder / "ksr-zsk5145.xml", "--output", output,
                         "--config", _config(folder, test_ksk_token), "--schema", schema, "--now", NOW, "--yes")
    assert code == 1 and not output.exists()
    fails = failures(out, "KSR-KEY-TAGS")
    assert fails and all("key tag 5145" in f for f in fails)  # KSK1's revoked tag, in every schema
    assert "Signed" not in out


# -- 04: a trust-anchor file with two DNSKEYs of one tag -----------------------------------------


@pytest.mark.parametrize("file", ["anchors.txt", "anchors-ds-first.txt"])
def test_04_ds_is_matched_against_every_dnskey_with_its_tag(capsys, file):
    folder = case("04")
    anchors = parse_trust_anchors((folder / file).read_bytes())
    assert sorted(a.key_tag for a in anchors) == [56012, 56012]
    code, out = ceremony(capsys, "verify-skr", folder / "skr-signed-by-B.xml", "--trust-anchor", folder / file)
    assert code == 0, out


def test_04_a_ds_matching_no_dnskey_of_its_tag_is_still_refused():
    text = (case("04") / "anchors.txt").read_text()
    ds_line = [line for line in text.splitlines() if line.startswith(". IN DS ")][0]
    digest = ds_line.split()[-1]
    broken = text.replace(digest, digest[:-1] + ("0" if digest[-1] != "0" else "1"))
    with pytest.raises(FormatError, match="matches none of the 2 DNSKEY"):
        parse_trust_anchors(broken.encode())


# -- 05: a "response" in which no KSK signed ------------------------------------------------------


def test_05_response_without_a_ksk_fails_verify_skr(capsys):
    folder = case("05")
    code, out = ceremony(capsys, "verify-skr", folder / "skr-no-ksk.xml", "--ksr", folder / "ksr.xml")
    assert code == 1
    fails = failures(out, "SKR-VERIFY")
    assert len(fails) == 9 and all("no valid signature by a KSK that is not revoked" in f and "(not a KSK)" in f
                                   for f in fails)


def test_05_as_previous_response_verify_ksr_refuses(capsys):
    folder = case("05")
    code, out = ceremony(capsys, "verify-ksr", folder / "ksr-next.xml", "--previous-skr", folder / "skr-no-ksk.xml",
                         "--now", "2030-03-20")
    assert code == 1
    assert len(failures(out, "SKR-VERIFY")) == 9


def test_05_a_response_without_bundles_is_nothing_to_judge_and_fails():
    skr = parse_response((case("05") / "skr-no-ksk.xml").read_bytes())
    empty = replace(skr, bundles=())
    assert validate_response(empty).failed("SKR-VERIFY")
    assert validate_response(skr, trust_anchors=()).failed("SKR-TRUST-ANCHOR")
    request = parse_request((case("05") / "ksr.xml").read_bytes())
    assert validate_request(replace(request, bundles=()), Policy()).failed("KSR-BUNDLE-POP")
    assert validate_request(request, Policy(), previous=empty).failed("SKR-VERIFY")


# -- 06: a schema whose bundles only a revoked KSK signs -----------------------------------------


@pytest.mark.softhsm
def test_06_schema_signed_only_by_a_revoked_ksk_is_refused_before_the_pin(capsys, tmp_path, monkeypatch):
    folder = case("06")
    # No token at all: the refusal must come before the HSM is opened (and the PIN asked).
    monkeypatch.setenv("SOFTHSM2_CONF", str(tmp_path / "absent.conf"))
    output = tmp_path / "skr.xml"
    code, out = ceremony(capsys, "sign", folder / "ksr.xml", "--output", output,
                         "--config", _config(folder, tmp_path), "--now", NOW, "--yes")
    assert code == 2 and not output.exists()
    assert "signed only by current, published revoked" in out and "RFC 5011" in out


def test_06_revoked_ksk_signatures_are_no_ksk_evidence():
    """The same kind on the verification side: a legacy file signed only by revoked KSK1."""
    from tests.policy.realdata import LEGACY

    skr = parse_response((LEGACY / "skr-root-2010-q2-0-revoke.xml").read_bytes())
    anchors = parse_trust_anchors((case("06") / "ksk12.dnskey").read_bytes())
    verdict = validate_response(skr, anchors)
    assert len(verdict.failed("SKR-VERIFY")) == 9 and len(verdict.failed("SKR-TRUST-ANCHOR")) == 9


# -- 07: RSA keys not in RFC 3110 form -----------------------------------------------------------


def test_07_rsa_key_with_a_leading_zero_is_refused(capsys):
    code, out = ceremony(capsys, "verify-ksr", case("07") / "ksr-modulus-leading-zero.xml", "--now", NOW)
    assert code == 1
    assert any("leading zero octet in the modulus" in f for f in failures(out, "KSR-BUNDLE-KEYS"))


# -- 08: <Signer> elements in a request ----------------------------------------------------------


@pytest.mark.softhsm
def test_08_requested_signers_differing_from_the_schema_are_a_note(capsys, test_ksk_token):
    folder = case("08")
    output = test_ksk_token / "skr.xml"
    code, out = ceremony(capsys, "sign", folder / "ksr-asks-ksk2.xml", "--output", output,
                         "--config", _config(folder, test_ksk_token), "--schema", "normal", "--now", NOW, "--yes")
    assert code == 0, out
    notes = [line for line in out.splitlines() if line.startswith("NOTE  KSR-SIGNERS")]
    assert len(notes) == 9 and all("asks to be signed by 'KSK2'; the schema signs it with KSK1" in n for n in notes)


@pytest.mark.softhsm
def test_08_requested_signers_refused_when_the_policy_says_so(capsys, test_ksk_token):
    folder = case("08")
    policy = test_ksk_token / "strict.toml"
    from importlib import resources
    root = resources.files("appliance").joinpath("policies", "root.toml").read_text("utf-8")
    policy.write_text(root.replace("requested_signers_must_match = false", "requested_signers_must_match = true"))
    output = test_ksk_token / "skr.xml"
    code, out = ceremony(capsys, "sign", folder / "ksr-asks-ksk2.xml", "--output", output, "--policy", policy,
                         "--config", _config(folder, test_ksk_token), "--schema", "normal", "--now", NOW, "--yes")
    assert code == 1 and not output.exists()
    assert len(failures(out, "KSR-SIGNERS")) == 9


@pytest.mark.softhsm
def test_08_requested_signers_matching_the_schema_say_nothing(capsys, test_ksk_token):
    folder = case("08")
    output = test_ksk_token / "skr.xml"
    code, out = ceremony(capsys, "sign", folder / "ksr-asks-ksk2.xml", "--output", output,
                         "--config", _config(folder, test_ksk_token), "--schema", "rollover+", "--now", NOW, "--yes")
    assert code == 0, out
    assert "KSR-SIGNERS" not in out


def test_03_a_zsk_with_a_configured_ksks_tag_is_refused_before_the_hsm_is_opened(capsys, tmp_path, monkeypatch):
    """A configured KSK's plain tag is known before the PIN (the configuration pins it), so a clash
    with it needs no HSM: here a spare KSK defined with tag 5145, and no token at all."""
    folder = case("03")
    monkeypatch.setenv("SOFTHSM2_CONF", str(tmp_path / "absent.conf"))
    spare = "\n".join(["", "[keys.spare]", 'label = "KSK9"', "key_tag = 5145", 'algorithm = "RSASHA256"',
                       "size = 2048", f'ds_sha256 = "{"AB" * 32}"', "valid_from = 2020-01-01T00:00:00Z", ""])
    config = _config(folder, tmp_path)
    config.write_text(config.read_text() + spare)
    output = tmp_path / "skr.xml"
    code, out = ceremony(capsys, "sign", folder / "ksr-zsk5145.xml", "--output", output, "--config", config,
                         "--schema", "normal", "--now", NOW, "--yes")
    assert code == 1 and not output.exists()
    fails = failures(out, "KSR-KEY-TAGS")
    assert fails and "configured KSK spare (tag 5145)" in fails[0]
    assert "HSM:" not in out  # refused before the HSM (and its PIN)
