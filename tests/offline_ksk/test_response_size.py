"""SKR-SIZE: a Knot DNS / BIND 9 request that fits the 1 MiB cap can ask for more bundles than a
response of 1 MiB holds; it is refused before the HSM signs, never after (issue 10 point 7)."""

from __future__ import annotations

import re

import pytest

from appliance import cli
from appliance.formats import DEFAULT_MAX_SIZE
from appliance.formats.detect import read_request
from appliance.hsm.session import Hsm
from appliance.model import Verdict
from appliance.signing.config import load_signing_config
from appliance.signing.offline_ksk_bundles import planned_response_size
from appliance.signing.pipeline import prepare
from tests.offline_ksk.refdata import FIXTURE, OFFLINE_KSK
from tests.offline_ksk.test_offline_ksk_sign import sign, token  # noqa: F401

pytestmark = pytest.mark.softhsm


def many_bundles(count: int) -> str:
    """knot/root.ksr.txt's first ZSK set, asked for at `count` times an hour apart."""
    text = (OFFLINE_KSK / "knot/root.ksr.txt").read_text()
    first = text.split(";; KeySigningRequest")[1]
    start = int(re.match(r" 1.0 (\d+)", first).group(1))
    body = first.split("\n", 1)[1]
    return "".join(f";; KeySigningRequest 1.0 {start + i * 3600}\n{body}" for i in range(count)) + \
        ";; KeySigningRequest 1.0 generated at 2026-10-25T00:00:00Z\n"


def test_a_request_whose_response_exceeds_the_cap_is_refused_before_the_hsm_signs(tmp_path, capsys, token,  # noqa: F811
                                                                                    monkeypatch):
    request = tmp_path / "many.ksr.txt"
    request.write_text(many_bundles(1500))
    assert request.stat().st_size < DEFAULT_MAX_SIZE
    signed = []
    original = Hsm.sign
    monkeypatch.setattr(Hsm, "sign", lambda self, *a, **k: signed.append(1) or original(self, *a, **k))
    output = tmp_path / "out.skr.txt"
    code = cli.main(["sign", str(request), "--output", str(output), "--config", str(FIXTURE / "knot-root.toml"),
                     "--now", "2026-10-25", "--yes"])
    report = "".join(capsys.readouterr())
    assert code == 1, report
    assert "FAIL  SKR-SIZE" in report and "1500 bundles" in report
    assert signed == [] and not output.exists()


@pytest.mark.parametrize("dialect", ["knot", "bind"])
def test_the_size_measured_before_signing_is_the_size_written(tmp_path, capsys, token, dialect):  # noqa: F811
    code, report, data = sign(tmp_path, capsys, f"{dialect}/root.ksr.txt", f"{dialect}-root.toml")
    assert code == 0, report
    config = load_signing_config(FIXTURE / f"{dialect}-root.toml")
    request = read_request((OFFLINE_KSK / f"{dialect}/root.ksr.txt").read_bytes())
    with Hsm(config.hsm) as hsm:
        plan = prepare(config, hsm, request, Verdict(()), None, None)
    assert planned_response_size(request, plan.bundles, config.offline_ksk) == len(data)
