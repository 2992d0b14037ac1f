"""`ceremony verify-ksr` and `ceremony verify-skr` as operators and scripts use them."""

import base64
import json
import re
import subprocess
import sys
from datetime import datetime, timedelta

import pytest

from appliance.cli import main
from appliance.digest import Fingerprint
from tests.policy.realdata import (
    BAD_SWAPPED,
    ERAS,
    KEYTOOLS,
    KSR_2017_Q2,
    LEGACY,
    ROOT_ANCHORS,
    ROOT_DNSKEYS,
    SKR_2017_Q1,
    SKR_2017_Q2,
    SKR_2018_Q1,
    real_ksrs,
    real_skrs,
    request,
    start_of,
)

NOW = "2017-04-01T00:00:00Z"
TOP_KEYS = ["valid", "sha256", "words", "bundles", "violations"]
BUNDLE_KEYS = ["id", "inception", "expiration", "zsk_tags", "ksk_tags"]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv):
    code, out, err = run(capsys, *argv, "--json")
    assert out.count("\n") == 1, "exactly one JSON object on one line"
    return code, json.loads(out)


def test_verify_ksr_text_report(capsys):
    code, out, _ = run(capsys, "verify-ksr", KSR_2017_Q2, "--previous-skr", SKR_2017_Q1, "--now", NOW)
    assert code == 0
    lines = out.splitlines()
    assert " #  Inception            Expiration           ZSK Tags     KSK Tag" in lines
    assert " 1  2017-04-01T00:00:00  2017-04-22T00:00:00  14796,61045  -" in lines
    assert " 9  2017-06-20T00:00:00  2017-07-11T00:00:00  14796,15768  -" in lines
    for check in ("KSR-XML", "KSR-BUNDLE-POP", "KSR-POLICY-SIG-HORIZON", "KSR-CHAIN-KEYS", "SKR-VERIFY"):
        assert f"PASS  {check}" in lines
    assert "REQUEST ACCEPTED: all 18 checks passed" in lines
    fingerprint = Fingerprint.of(KSR_2017_Q2.read_bytes())
    assert out.rstrip().endswith(fingerprint.render("Fingerprint of the request file"))
    assert out.index("KSK Tag") < out.index("PASS") < out.index("SHA-256")


def test_verify_ksr_json_shape(capsys):
    code, report = run_json(capsys, "verify-ksr", KSR_2017_Q2, "--now", NOW)
    assert code == 0
    assert list(report) == TOP_KEYS
    assert report["valid"] is True and report["violations"] == []
    assert report["sha256"] == Fingerprint.of(KSR_2017_Q2.read_bytes()).hex
    assert len(report["words"]) == 32
    assert [list(b) for b in report["bundles"]] == [BUNDLE_KEYS] * 9
    assert report["bundles"][0] == {
        "id": "dc1bc68c-b1c1-46f8-817f-ec893549f2be",
        "inception": "2017-04-01T00:00:00Z",
        "expiration": "2017-04-22T00:00:00Z",
        "zsk_tags": [14796, 61045],
        "ksk_tags": [],
    }


@pytest.mark.parametrize("path", real_ksrs(), ids=lambda p: p.name)
def test_every_real_request_is_accepted_by_the_command(capsys, path):
    era, previous = ERAS[path.name]
    argv = ["verify-ksr", path, "--policy", era, "--now", start_of(request(path)).isoformat()]
    if previous:
        argv += ["--previous-skr", previous]
    code, report = run_json(capsys, *argv)
    assert (code, report["violations"]) == (0, [])


def test_bad_swapped_signatures_refused_naming_bundle_1(capsys):
    code, report = run_json(capsys, "verify-ksr", BAD_SWAPPED, "--now", "2018-01-01")
    assert code == 1 and report["valid"] is False
    assert {v["check"] for v in report["violations"]} == {"KSR-BUNDLE-POP"}
    assert all(v["message"].startswith("bundle 1 (0a8f7774-") for v in report["violations"])
    code, out, _ = run(capsys, "verify-ksr", BAD_SWAPPED, "--now", "2018-01-01")
    assert "FAIL  KSR-BUNDLE-POP" in out and "REQUEST REFUSED: 2 violations in KSR-BUNDLE-POP" in out


def test_unrelated_previous_response_fails_chain_keys(capsys):
    code, report = run_json(capsys, "verify-ksr", KSR_2017_Q2, "--previous-skr", SKR_2018_Q1, "--now", NOW)
    assert code == 1
    assert "KSR-CHAIN-KEYS" in {v["check"] for v in report["violations"]}


def test_without_now_the_clock_decides(capsys):
    code, report = run_json(capsys, "verify-ksr", KSR_2017_Q2)
    assert code == 1
    assert {v["check"] for v in report["violations"]} == {"KSR-POLICY-SIG-HORIZON"}


def test_malformed_request_fails_ksr_xml(capsys, tmp_path):
    broken = tmp_path / "ksr.xml"
    broken.write_bytes(KSR_2017_Q2.read_bytes()[:5000])
    code, report = run_json(capsys, "verify-ksr", broken, "--now", NOW)
    assert code == 1
    assert report["bundles"] == []
    assert [v["check"] for v in report["violations"]] == ["KSR-XML"]
    assert "line" in report["violations"][0]["message"]
    assert report["sha256"] == Fingerprint.of(broken.read_bytes()).hex


def test_relaxations_are_shown(capsys):
    path = KEYTOOLS / "ksr-root-2010-q1-0.xml"
    code, out, _ = run(capsys, "verify-ksr", path, "--policy", "root-2010", "--now", "2010-01-01")
    assert code == 0
    assert "Policy: root-2010 (shipped)" in out
    assert "NOTE  signatures.enforce_request_claims = false" in out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["verify-ksr", "/nonexistent/ksr.xml"], "cannot read request"),
        (["verify-ksr", KSR_2017_Q2, "--policy", "/nonexistent.toml"], "cannot read policy"),
        (["verify-ksr", KSR_2017_Q2, "--now", "yesterday"], "--now"),
        (["verify-ksr", KSR_2017_Q2, "--now", "2017-04-01T00:00:00+02:00"], "offset"),
        (["verify-ksr", KSR_2017_Q2, "--previous-skr", "/nonexistent.xml"], "cannot read previous response"),
        (["verify-skr", "/nonexistent/skr.xml"], "cannot read response"),
        (["verify-skr", SKR_2017_Q2, "--trust-anchor", KSR_2017_Q2], "trust anchor file"),
        (["verify-skr", KSR_2017_Q2, "--ksr", "/nonexistent.xml"], "cannot read request"),
    ],
)
def test_usage_errors_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and message in err and out == ""
    code, out, err = run(capsys, *argv, "--json")
    assert code == 2 and json.loads(out)["exit_code"] == 2


def test_unknown_policy_key_is_named(capsys, tmp_path):
    policy = tmp_path / "p.toml"
    policy.write_text("[bundles]\nbundle_count = 9\n")
    code, _, err = run(capsys, "verify-ksr", KSR_2017_Q2, "--policy", policy)
    assert code == 2 and "'bundles.bundle_count'" in err


@pytest.mark.parametrize("spec", ["2017-04-01", "2017-04-01T00:00", "2017-04-01 00:00:00", NOW, "2017-04-01T00:00:00+00:00"])
def test_now_forms(capsys, spec):
    assert run_json(capsys, "verify-ksr", KSR_2017_Q2, "--now", spec)[0] == 0


# -- verify-skr


@pytest.mark.parametrize("path", [p for p in real_skrs() if p.name != "skr-root-2010-q2-0-revoke.xml"],
                         ids=lambda p: p.name)
def test_every_real_response_passes_verify_skr(capsys, path):
    code, report = run_json(capsys, "verify-skr", path)
    assert (code, report["violations"]) == (0, [])
    assert list(report) == TOP_KEYS
    assert all(b["ksk_tags"] for b in report["bundles"])


def test_verify_skr_refuses_the_legacy_response_signed_only_by_its_revoked_ksk(capsys):
    code, report = run_json(capsys, "verify-skr", LEGACY / "skr-root-2010-q2-0-revoke.xml")
    assert code == 1
    assert {v["check"] for v in report["violations"]} == {"SKR-VERIFY"}
    assert len(report["violations"]) == 9
    assert all("no valid signature by a KSK that is not revoked" in v["message"] for v in report["violations"])


@pytest.mark.parametrize("anchors", [ROOT_ANCHORS, ROOT_DNSKEYS], ids=["xml", "dnskey"])
@pytest.mark.parametrize("path", sorted(KEYTOOLS.glob("skr-*.xml")), ids=lambda p: p.name)
def test_production_responses_pass_with_the_root_trust_anchors(capsys, path, anchors):
    code, report = run_json(capsys, "verify-skr", path, "--trust-anchor", anchors)
    assert (code, report["violations"]) == (0, [])


def test_test_key_response_fails_the_root_trust_anchors(capsys):
    path = LEGACY / "skr-root-2009-q4-2.xml"
    code, report = run_json(capsys, "verify-skr", path, "--trust-anchor", ROOT_ANCHORS)
    assert code == 1 and {v["check"] for v in report["violations"]} == {"SKR-TRUST-ANCHOR"}


def test_verify_skr_text_report(capsys):
    code, out, _ = run(capsys, "verify-skr", SKR_2017_Q2, "--ksr", KSR_2017_Q2, "--now", "2017-03-20")
    assert code == 0
    assert " 1  2017-04-01T00:00:00  2017-04-22T00:00:00  61045,14796  19036/S" in out.splitlines()
    for check in ("SKR-VERIFY", "SKR-MATCHES-KSR", "SKR-HORIZON"):
        assert f"PASS  {check}" in out
    assert "RESPONSE ACCEPTED" in out


def test_revoked_and_published_ksks_are_marked(capsys):
    code, out, _ = run(capsys, "verify-skr", LEGACY / "skr-root-2010-q2-0.xml")  # KSK roll with revoke
    assert code == 0
    assert "55186/P,5017/S" in out and "55186/S,5145/RS" in out  # the revoked KSK1 signs itself


def test_response_that_does_not_answer_the_request(capsys):
    code, report = run_json(capsys, "verify-skr", SKR_2017_Q2, "--ksr", KEYTOOLS / "ksr-root-2018-q1-0-d_to_e.xml")
    assert code == 1 and {v["check"] for v in report["violations"]} == {"SKR-MATCHES-KSR"}


# -- one flipped bit in the file itself


def _flip_in_file(text: str, tag: str, occurrence: int) -> str:
    """Flip one bit of the occurrence-th <tag> value: in the decoded bytes for base64, a second for dates."""
    matches = list(re.finditer(rf"<{tag}>([^<]*)</{tag}>", text))
    match = matches[occurrence % len(matches)]
    value = match.group(1)
    if tag in ("SignatureData", "PublicKey"):
        raw = bytearray(base64.b64decode("".join(value.split())))
        raw[(occurrence * 7) % len(raw)] ^= 1 << (occurrence % 8)
        new = base64.b64encode(bytes(raw)).decode()
    else:
        suffix = value[19:]
        moment = datetime.fromisoformat(value[:19]) + timedelta(seconds=1 << (occurrence % 16))
        new = moment.strftime("%Y-%m-%dT%H:%M:%S") + suffix
    return text[: match.start(1)] + new + text[match.end(1) :]


@pytest.mark.parametrize("tag", ["SignatureData", "PublicKey", "Inception", "Expiration", "SignatureInception"])
@pytest.mark.parametrize("path", real_skrs(), ids=lambda p: p.name)
def test_flipped_bit_in_a_response_file_fails(capsys, tmp_path, path, tag):
    text = path.read_text()
    for occurrence in (0, 5, 17):
        mutated = tmp_path / f"{occurrence}.xml"
        mutated.write_text(_flip_in_file(text, tag, occurrence))
        code, report = run_json(capsys, "verify-skr", mutated)
        assert code == 1, (tag, occurrence)
        assert {v["check"] for v in report["violations"]} == {"SKR-VERIFY"}


def test_the_installed_command_runs(tmp_path):
    """The console script itself, as the QEMU tests and scripts call it."""
    done = subprocess.run(
        [sys.executable, "-m", "appliance.cli", "verify-ksr", str(KSR_2017_Q2), "--now", NOW, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["valid"] is True


def test_request_given_as_previous_response_is_refused(capsys):
    code, report = run_json(capsys, "verify-ksr", KSR_2017_Q2, "--previous-skr", KSR_2017_Q2, "--now", NOW)
    assert code == 1
    assert [v["check"] for v in report["violations"]] == ["KSR-XML"]
    assert report["violations"][0]["message"].startswith("previous response: line 1, <KSR>:")


def test_request_that_does_not_parse_is_named(capsys, tmp_path):
    broken = tmp_path / "ksr.xml"
    broken.write_bytes(b"<KSR/>")
    code, report = run_json(capsys, "verify-skr", SKR_2017_Q2, "--ksr", broken)
    assert code == 1 and report["bundles"] == []
    assert report["violations"][0]["message"].startswith(f"request {broken}: ")
