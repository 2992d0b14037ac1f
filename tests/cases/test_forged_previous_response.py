"""hostile-stick case 04 (inputs copied from ../shared/cases/hostile-stick): a previous response that
no KSK signed, and one signed by a KSK that is not ours, are no evidence for the chain checks.
The console path is tests/console/test_forged_previous_response.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance import cli
from tests.softhsm import make_token

CASE = Path(__file__).parent / "hostile-stick" / "04-forged-previous-skr-no-ksk-signature"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "legacy-2010" / "ceremony.toml"
NOW = "2026-12-20"


def ceremony(capsys, *args) -> tuple[int, str]:
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out + err


def test_verify_ksr_refuses_a_previous_response_no_ksk_signed(capsys):
    code, out = ceremony(capsys, "verify-ksr", CASE / "ksr-attacker.xml", "--previous-skr",
                         CASE / "forged-skr-previous.xml", "--now", NOW)
    assert code == 1
    fails = [line for line in out.splitlines() if line.startswith("FAIL  SKR-VERIFY")]
    assert len(fails) == 9 and all("no valid signature by a KSK that is not revoked" in f for f in fails)


@pytest.mark.softhsm
@pytest.mark.parametrize("previous,words", [
    ("forged-skr-previous.xml", "has no valid signature by a non-revoked KSK"),
    ("control-skr-previous.xml", "KSK KSK-evil (tag 33854), which alone signed bundle(s) 1, 2, 3, 4, 5, 6, 7, 8, 9 "
                                 "of the previous response, is not a KSK of the signing configuration"),
])
def test_sign_refuses_unless_a_configured_ksk_in_the_hsm_signed_every_previous_bundle(
        capsys, tmp_path, monkeypatch, previous, words):
    token = make_token(tmp_path / "hsm")
    monkeypatch.setenv("SOFTHSM2_CONF", str(token.conf))
    config = tmp_path / "ceremony.toml"
    config.write_text(FIXTURE.read_text())
    (tmp_path / "test-pin.txt").write_text(token.pin + "\n")
    output = tmp_path / "skr.xml"
    code, out = ceremony(capsys, "sign", CASE / "ksr-attacker.xml", "--previous-skr", CASE / previous,
                         "--output", output, "--config", config, "--now", NOW, "--yes")
    assert code == 1 and not output.exists()
    chain = [line for line in out.splitlines() if line.startswith("FAIL  KSR-CHAIN-KEYS")]
    assert chain and any(words in line for line in chain), chain


def test_verify_ksr_with_trust_anchors_refuses_a_previous_response_their_ksk_did_not_sign(capsys):
    """The control forgery is signed by a KSK (KSK-evil): structurally sound, but no anchor names it."""
    anchors = CASE.parent.parent / "dnssec-semantics" / "06-bundle-signed-only-by-revoked-ksk" / "ksk12.dnskey"
    args = ("verify-ksr", CASE / "ksr-attacker.xml", "--previous-skr", CASE / "control-skr-previous.xml", "--now", NOW)
    code, out = ceremony(capsys, *args)
    assert code == 0, out  # without anchors: signed by a non-revoked KSK, the chain holds together
    code, out = ceremony(capsys, *args, "--trust-anchor", anchors)
    assert code == 1
    fails = [line for line in out.splitlines() if line.startswith("FAIL  SKR-VERIFY")]
    assert len(fails) == 9 and all("no valid signature by a non-revoked KSK that a trust anchor names" in f for f in fails)
