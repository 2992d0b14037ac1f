"""dnssec-semantics case 08 in the console: a request's <Signer> elements are compared with the
schema's signers, and a difference is a NOTE on the screen and in the log (the default policy)."""

from dataclasses import replace

import pytest

from appliance.formats import parse_request, write_request
from tests.console.harness import flat, run_script, written_log
from tests.console.scripts import IMPORT_WITH_PREVIOUS, LOG_IN, SET_CLOCK

pytestmark = pytest.mark.softhsm


def test_requested_signers_the_schema_does_not_use_are_a_note_on_screen_and_in_the_log(demo, sticks):
    """dnssec-semantics case 08 in the console: <Signer> elements naming a KSK the schema does not sign with."""
    path = demo.stick / demo.request
    request = parse_request(path.read_bytes())
    asking = replace(request, bundles=tuple(replace(b, signers=("KSK-other",)) for b in request.bundles))
    path.write_bytes(write_request(asking))
    run = run_script(sticks, SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS
                     + [("request.accepted", ""), ("verbal.confirm", "no"), ("next", "shutdown"), ("shutdown.done", "")],
                     config=demo.config)
    text = flat(written_log(demo.stick, run))
    note = "NOTE: KSR-SIGNERS (not enforced): bundle 1"
    assert note in text and "the request asks to be signed by 'KSK-other'; the schema signs it with KSK-demo" in text
    assert text.count("NOTE: KSR-SIGNERS (not enforced)") >= 9
