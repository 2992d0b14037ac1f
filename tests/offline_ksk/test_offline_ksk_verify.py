"""`ceremony verify-skr` and `verify-ksr` on the real Knot DNS and BIND 9 files: every native and
cross response accepted under its KSK, every corrupted copy refused naming its bundle, every
request accepted under its shipped policy, and the request checks' refusals."""

from __future__ import annotations

import json
import re

import pytest

from appliance import cli
from tests.offline_ksk.refdata import CROSS_SKRS, KSRS, NATIVE_SKRS, OFFLINE_KSK, read

NOW = "2026-10-25"


def ceremony(capsys, *args) -> tuple[int, str]:
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out + err


def write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("skr", sorted(NATIVE_SKRS))
def test_native_responses_verify_under_their_ksk_and_answer_their_request(capsys, skr):
    code, report = ceremony(capsys, "verify-skr", OFFLINE_KSK / skr, "--trust-anchor", OFFLINE_KSK / NATIVE_SKRS[skr],
                            "--ksr", OFFLINE_KSK / skr.replace(".skr.", ".ksr."))
    assert code == 0, report
    assert "PASS  SKR-VERIFY" in report and "PASS  SKR-TRUST-ANCHOR" in report and "PASS  SKR-MATCHES-KSR" in report


@pytest.mark.parametrize("skr", sorted(CROSS_SKRS))
def test_cross_responses_verify_and_answer_the_other_tools_request(capsys, skr):
    anchor, ksr = CROSS_SKRS[skr]
    code, report = ceremony(capsys, "verify-skr", OFFLINE_KSK / skr, "--trust-anchor", OFFLINE_KSK / anchor,
                            "--ksr", OFFLINE_KSK / ksr)
    assert code == 0, report


def _edit(data: bytes, line: int, column: int, old: str, new: str) -> bytes:
    """The one-character edit the reference READMEs describe (line and column from 1)."""
    lines = data.decode().split("\n")
    assert lines[line - 1][column - 1] == old
    lines[line - 1] = lines[line - 1][:column - 1] + new + lines[line - 1][column:]
    return "\n".join(lines).encode()


CORRUPT = {  # name -> (bytes, trust anchor, the bundle the refusal must name)
    "knot root CORRUPT-sig": (lambda: read("knot/root.skr.CORRUPT-sig.txt"), "knot/root.ksk-10889.dnskey",
                              "bundle 5 (1796947200)"),
    "bind root CORRUPT-sig": (lambda: read("bind/root.skr.CORRUPT-sig.txt"), "bind/root.ksk.K.+008+18635.key",
                              "bundle 3 (20261121000000)"),
    "knot example CORRUPT-sig": (lambda: _edit(read("knot/example.skr.txt"), 175, 15, "n", "B"),
                                 "knot/example.ksk-8599.dnskey", "bundle 5 (1795910400)"),
    "bind example CORRUPT-sig": (lambda: _edit(read("bind/example.skr.txt"), 40, 156, "3", "B"),
                                 "bind/example.ksk.Kexample.+013+42023.key", "bundle 6 (20261129220000)"),
    "knot root CORRUPT-gap": (lambda: b"\n".join(l for i, l in enumerate(read("knot/root.skr.txt").split(b"\n"), 1)
                                                  if not 176 <= i <= 245), "knot/root.ksk-10889.dnskey",
                              "bundle 5 (1796947200)"),
}


@pytest.mark.parametrize("name", sorted(CORRUPT))
def test_every_corrupted_response_is_refused_naming_the_bundle(tmp_path, capsys, name):
    make, anchor, bundle = CORRUPT[name]
    path = write(tmp_path, "corrupt.skr.txt", make())
    code, report = ceremony(capsys, "verify-skr", path)  # without a trust anchor: the file's own keys
    assert code == 1, report
    assert re.search(rf"FAIL  SKR-VERIFY +{re.escape(bundle)}", report), report
    code, report = ceremony(capsys, "verify-skr", path, "--trust-anchor", OFFLINE_KSK / anchor)
    assert code == 1


def test_a_response_under_another_ksk_fails_the_trust_anchor(capsys):
    code, report = ceremony(capsys, "verify-skr", OFFLINE_KSK / "bind/root.skr.txt", "--trust-anchor",
                            OFFLINE_KSK / "knot/root.ksk-10889.dnskey")
    assert code == 1
    assert "FAIL  SKR-TRUST-ANCHOR  bundle 1 (20261101000000)" in report


def test_a_response_to_another_request_fails_matches_ksr(capsys):
    code, report = ceremony(capsys, "verify-skr", OFFLINE_KSK / "bind/root.skr.txt", "--ksr",
                            OFFLINE_KSK / "knot/root.ksr.txt")
    assert code == 1
    assert "FAIL  SKR-MATCHES-KSR" in report


def test_verify_skr_json_for_a_text_response(capsys):
    code, report = ceremony(capsys, "verify-skr", OFFLINE_KSK / "knot/root.skr.txt", "--json")
    result = json.loads(report)
    assert code == 0 and result["valid"]
    assert result["bundles"][4] == {"id": "1796947200", "inception": "2026-12-11T00:00:00Z",
                                    "expiration": "2027-01-01T00:00:00Z", "zsk_tags": [8340], "ksk_tags": [10889]}


@pytest.mark.parametrize("ksr", sorted(KSRS))
def test_every_request_passes_its_shipped_policy(capsys, ksr):
    code, report = ceremony(capsys, "verify-ksr", OFFLINE_KSK / ksr, "--policy", KSRS[ksr], "--now", NOW)
    assert code == 0, report
    assert "NOTE  no proof of possession in these formats" in report


def _ksr(name: str = "knot/root.ksr.txt") -> str:
    return read(name).decode()


REFUSED = [  # (request text, policy, check that fails, words)
    (_ksr().replace("172800 DNSKEY 256", "172800 DNSKEY 257", 1), "knot-root", "KSR-BUNDLE-KEYS", "flags 257"),
    (_ksr().replace("172800 DNSKEY 256", "172800 DNSKEY 384", 1), "knot-root", "KSR-BUNDLE-KEYS", "flags 384"),
    (_ksr().replace("172800 DNSKEY", "86400 DNSKEY"), "knot-root", "KSR-POLICY-TTL", "TTL 86400"),
    (_ksr().replace("1801267200", "1793404800", 1), "knot-root", "KSR-BUNDLE-UNIQUE", "must increase"),
    (_ksr(), "knot-example", "KSR-DOMAIN", "'.'"),
    (_ksr(), "knot-example", "KSR-POLICY-ALG", "RSASHA256"),
    (_ksr(), "root", "KSR-POLICY-SIG-HORIZON", "more than 180 days"),
]


@pytest.mark.parametrize(("text", "policy", "check", "words"), REFUSED)
def test_request_checks_refuse(tmp_path, capsys, text, policy, check, words):
    code, report = ceremony(capsys, "verify-ksr", write(tmp_path, "r.ksr.txt", text.encode()), "--policy", policy,
                            "--now", NOW)
    assert code == 1
    assert any(line.startswith(f"FAIL  {check}") and words in line for line in report.splitlines()), report


def test_a_repeated_time_is_a_note_and_passes(tmp_path, capsys):
    text = _ksr("bind/root.ksr.txt")
    headers = re.findall(r";; KeySigningRequest 1\.0 \d{14}", text)
    path = write(tmp_path, "r.ksr.txt", text.replace(headers[2], headers[1]).encode())
    code, report = ceremony(capsys, "verify-ksr", path, "--policy", "bind-root", "--now", NOW)
    assert code == 0, report
    assert "NOTE  bundle 3 (20270119230000) repeats the time of bundle 2" in report


def _last_bundle_request() -> bytes:
    """The next Knot request as keymgr would start it: from the last stored time, with its ZSK."""
    text = _ksr()
    return text[text.index(";; KeySigningRequest 1.0 1809129600"):].encode()


def test_chain_to_the_previous_response(tmp_path, capsys):
    previous = OFFLINE_KSK / "knot/root.skr.txt"
    chained = write(tmp_path, "next.ksr.txt", _last_bundle_request())
    code, report = ceremony(capsys, "verify-ksr", chained, "--previous-skr", previous, "--policy", "knot-root",
                            "--now", "2027-04-20")
    assert code == 0, report
    assert "PASS  SKR-VERIFY" in report and "PASS  KSR-CHAIN-KEYS" in report and "PASS  KSR-CHAIN-OVERLAP" in report
    code, report = ceremony(capsys, "verify-ksr", OFFLINE_KSK / "knot/root.ksr.txt", "--previous-skr", previous,
                            "--policy", "knot-root", "--now", NOW)
    assert code == 1
    assert "FAIL  KSR-CHAIN-KEYS" in report and "FAIL  KSR-CHAIN-OVERLAP" in report
    corrupt = OFFLINE_KSK / "knot/root.skr.CORRUPT-sig.txt"
    code, report = ceremony(capsys, "verify-ksr", chained, "--previous-skr", corrupt, "--policy", "knot-root",
                            "--now", "2027-04-20")
    assert code == 1
    assert re.search(r"FAIL  SKR-VERIFY +previous response: bundle 5 \(1796947200\)", report), report


def test_forced_format_refuses_a_file_of_the_other_dialect(capsys):
    code, report = ceremony(capsys, "verify-ksr", OFFLINE_KSK / "bind/root.ksr.txt", "--format", "knot",
                            "--policy", "bind-root", "--now", NOW)
    assert code == 1
    assert "FAIL  KSR-TEXT" in report


def test_an_rfc_7958_trust_anchor_for_a_text_response(tmp_path, capsys):
    """The example. KSK as RFC 7958 XML (a DS digest, no key): BIND's example. response verifies
    under it, Knot's (another KSK) does not."""
    from datetime import UTC, datetime

    from appliance.formats.detect import read_response
    from appliance.formats.trust_anchor import write_trust_anchor_xml

    bind = read_response(read("bind/example.skr.txt"))
    ksk = next(k for k in bind.bundles[0].keys if k.flags == 257)
    xml = write_trust_anchor_xml([ksk], zone="example.", valid_from=datetime(2026, 10, 1, tzinfo=UTC))
    anchor = write(tmp_path, "anchors.xml", xml)
    code, report = ceremony(capsys, "verify-skr", OFFLINE_KSK / "bind/example.skr.txt", "--trust-anchor", anchor)
    assert code == 0, report
    code, report = ceremony(capsys, "verify-skr", OFFLINE_KSK / "knot/example.skr.txt", "--trust-anchor", anchor)
    assert code == 1
    assert "FAIL  SKR-TRUST-ANCHOR  bundle 1 (1793491200)" in report


def test_a_text_previous_response_is_held_to_the_trust_anchor(tmp_path, capsys):
    chained = write(tmp_path, "next.ksr.txt", _last_bundle_request())
    previous = OFFLINE_KSK / "knot/root.skr.txt"
    code, report = ceremony(capsys, "verify-ksr", chained, "--previous-skr", previous, "--trust-anchor",
                            OFFLINE_KSK / "knot/root.ksk-10889.dnskey", "--policy", "knot-root", "--now", "2027-04-20")
    assert code == 0, report
    code, report = ceremony(capsys, "verify-ksr", chained, "--previous-skr", previous, "--trust-anchor",
                            OFFLINE_KSK / "bind/root.ksk.K.+008+18635.key", "--policy", "knot-root", "--now", "2027-04-20")
    assert code == 1
    assert re.search(r"FAIL  SKR-VERIFY +previous response: bundle 1 \(1793491200\): no valid signature by a non-revoked KSK", report)


def test_a_cds_rrsig_with_a_wrong_field_is_refused_naming_it(tmp_path, capsys):
    """The one judge's field rules hold for RRSIG(CDS) too: Labels 2 on example.'s apex."""
    text = read("knot/example.skr.txt").decode()
    bad = text.replace("\t0 RRSIG CDS 13 1 0", "\t0 RRSIG CDS 13 2 0", 1)
    code, report = ceremony(capsys, "verify-skr", write(tmp_path, "bad.skr.txt", bad.encode()))
    assert code == 1
    assert re.search(r"FAIL  SKR-VERIFY +bundle 1 \(1793491200\): RRSIG\(CDS\) by key 8599 \(8599\): Labels 2 exceeds", report), report
