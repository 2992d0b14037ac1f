"""hostile-stick case 04 through the real console (folder mode): a previous response that no KSK
signed (the real KSK only published in it, every RRSIG made by an attacker's ZSK) and the attacker's
request chained to it. The chain checks must not pass on such evidence: the request is refused and
nothing is signed."""

import base64
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from appliance import dnssec, synth
from appliance.formats import write_request, write_response
from appliance.model import Bundle, Key, Response, Signature
from tests.console.harness import files_on, flat, run_script, written_log
from tests.console.scripts import IMPORT_WITH_PREVIOUS, LOG_IN, SET_CLOCK

pytestmark = pytest.mark.softhsm


def forged_stick(demo) -> dict[str, bytes]:
    """make.py of the case, against this run's demo KSK: the attacker's SKR(n-1) and request."""
    fields = demo.trust_anchor.read_text().split()
    unnamed = Key("KSK-demo", 0, 172800, int(fields[4]), int(fields[5]), int(fields[6]), base64.b64decode(fields[7]))
    ksk = replace(unnamed, key_tag=dnssec.key_tag(unnamed))
    start = (datetime.now(UTC) - timedelta(days=40)).replace(hour=0, minute=0, second=0, microsecond=0)
    previous_request, zsk_keys = synth.generate_request(start)
    bundles = []
    for bundle in previous_request.bundles:
        signer = bundle.keys[0]  # a ZSK (flags 256) signs; the KSK is only published
        keys = bundle.keys + (ksk,)
        unsigned = Signature(signer.key_identifier, 172800, "DNSKEY", 8, 0, 172800, bundle.expiration,
                             bundle.inception, signer.key_tag, ".", b"")
        data = dnssec.rrsig_signed_data(unsigned, keys, ".")
        signature = replace(unsigned, signature_data=synth.sign(zsk_keys[signer.key_identifier], 8, data))
        bundles.append(Bundle(bundle.id, bundle.inception, bundle.expiration, keys, (signature,)))
    forged, _ = synth.generate_response(previous_request)  # for its KSK policy block only
    forged = Response(previous_request.id, previous_request.serial, ".", forged.ksk_policy,
                      previous_request.zsk_policy, tuple(bundles))
    request, _ = synth.generate_follow_up(previous_request, zsk_keys)
    return {"ksr-attacker.xml": write_request(request), "skr-forged-previous.xml": write_response(forged)}


def test_a_previous_response_no_ksk_signed_refuses_the_request(demo, sticks):
    demo.stick.rename(demo.stick.with_name(".gone"))  # only the attacker's stick and a log stick
    files = forged_stick(demo)
    attack = sticks.make("ATTACK", files)
    log_stick = sticks.make("LOG", {})
    run = run_script(sticks, SET_CLOCK + LOG_IN + [("request.stick.choose", "1")] + IMPORT_WITH_PREVIOUS
                     + [("request.refused", ""), ("next", "shutdown"), ("shutdown.log.choose", "2"),
                        ("shutdown.done", "")], config=demo.config)
    assert files_on(attack) == sorted(files)  # nothing written next to the forged files
    text = flat(written_log(log_stick, run))
    assert "REFUSED: ksr-attacker.xml will not be signed." in text
    assert "FAIL SKR-VERIFY: previous response" in text
    assert "no valid signature by a KSK that is not revoked" in text
    assert "FAIL KSR-CHAIN-KEYS: validating last SKR with HSM: previous response bundle 9" in text
    assert not [k for k, _ in run.asked if k.startswith(("verbal", "sign"))]
    assert run.ceremony.requests_signed == 0

