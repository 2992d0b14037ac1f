"""A KSK whose private key can leave the HSM is not used to sign unless its definition says so
(case ../shared/cases/hostile-stick/11): KSK-SENSITIVE, and the attributes on every key listing."""

from __future__ import annotations

import json

from datetime import UTC, datetime
from pathlib import Path

import pkcs11
import pytest
from pkcs11 import Attribute, KeyType, MechanismFlag

from appliance import cli
from appliance import dnssec
from appliance.console.step_hsm import key_table
from appliance.hsm import Hsm
from appliance.signing.config import ROOT_KSK_POLICY_TOML, ksk_definition_toml
from tests.softhsm import SHARED, SOFTHSM_MODULE, make_token

pytestmark = pytest.mark.softhsm

REQUEST = SHARED / "ceremony-data" / "dnssec-keytools" / "ksr-root-2017-q2-0.xml"


def ceremony(capsys, *args) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def exposed(tmp_path, monkeypatch):
    """A token holding KSK-extractable (CKA_SENSITIVE false, CKA_EXTRACTABLE true), as case 11 made it,
    and a configuration naming it as the KSK 'current'; returns (token, configuration path)."""
    token = make_token(tmp_path / "hsm", with_test_ksks=False)
    monkeypatch.setenv("SOFTHSM2_CONF", str(token.conf))
    lib = pkcs11.lib(SOFTHSM_MODULE)
    with lib.get_token(token_label=token.label).open(rw=True, user_pin=token.pin) as session:
        session.generate_keypair(KeyType.RSA, 2048, id=b"\x01", label="KSK-extractable", store=True,
                                 capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
                                 private_template={Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True})
    lib.reinitialize()
    with Hsm(token.profile()) as hsm:
        dnskey = hsm.find_key("KSK-extractable").dnskey()
    config = tmp_path / "extractable.toml"
    config.write_text(f'policy = "root"\n{token.profile_toml()}\n{ROOT_KSK_POLICY_TOML}\n'
                      + ksk_definition_toml("current", "KSK-extractable", dnskey, datetime(2017, 1, 1, tzinfo=UTC)))
    return token, config


def sign(capsys, tmp_path, config: Path):
    output = tmp_path / "out" / "skr.xml"
    output.parent.mkdir(exist_ok=True)
    code, out, err = ceremony(capsys, "sign", REQUEST, "--output", output, "--config", config,
                              "--now", "2017-03-25", "--yes")
    return code, out, err, output


def test_an_extractable_ksk_is_refused_for_signing(exposed, tmp_path, capsys):
    token, config = exposed
    code, out, err, output = sign(capsys, tmp_path, config)
    assert code == 1, out + err
    assert ("FAIL  KSK-SENSITIVE" in out and "KSK current (HSM label 'KSK-extractable'): its private key is not "
            "sensitive (CKA_SENSITIVE false), extractable (CKA_EXTRACTABLE true), so it can leave the HSM" in out)
    assert "nothing signed" in err
    assert not output.exists() and list(output.parent.iterdir()) == []


def test_the_configuration_may_allow_it_and_then_it_is_said(exposed, tmp_path, capsys):
    token, config = exposed
    config.write_text(config.read_text() + "allow_extractable = true\n")
    code, out, err, output = sign(capsys, tmp_path, config)
    assert code == 0, out + err
    assert "PASS  KSK-SENSITIVE" in out
    assert ("NOTE  KSK current (HSM label 'KSK-extractable') signs although its private key is not sensitive "
            "(CKA_SENSITIVE false), extractable (CKA_EXTRACTABLE true): allowed by allow_extractable") in out
    assert output.exists()


def test_keys_list_shows_the_private_key_attributes(exposed, tmp_path, capsys):
    token, config = exposed
    with Hsm(token.profile(), writable=True) as hsm:
        hsm.generate_key("KSK-kept", dnssec.RSASHA256)
    code, out, err = ceremony(capsys, "keys", "list", "--config", config)
    assert code == 0, out + err
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("KSK-") and " private " in line}
    assert " EXPOSED " in rows["KSK-extractable"] and " kept " in rows["KSK-kept"]
    assert "KSK-extractable: private key not sensitive (CKA_SENSITIVE false), extractable" in out
    code, out, err = ceremony(capsys, "keys", "list", "--config", config, "--json")
    keys = {(k["label"], k["class"]): k for k in json.loads(out)["keys"]}
    assert keys["KSK-extractable", "private"]["sensitive"] is False
    assert keys["KSK-extractable", "private"]["extractable"] is True
    assert keys["KSK-kept", "private"]["never_extractable"] is True and keys["KSK-kept", "private"]["private"] == "kept"


def test_the_hsm_screen_shows_the_private_key_attributes(exposed):
    token, config = exposed
    with Hsm(token.profile(), writable=True) as hsm:
        hsm.generate_key("KSK-kept", dnssec.RSASHA256)
        rows = key_table(hsm.keys())
    assert rows[1].endswith("Private")
    kept = next(row for row in rows if row.startswith("  KSK-kept "))
    exposed_row = next(row for row in rows if row.startswith("  KSK-extractable "))
    assert kept.endswith(" kept") and exposed_row.endswith(" EXPOSED")
    assert "  KSK-extractable: not sensitive (CKA_SENSITIVE false), extractable (CKA_EXTRACTABLE true), " \
           "not always sensitive" in "\n".join(rows)
    assert all(len(row) <= 79 for row in rows if ": " not in row)  # the table; the notes under it wrap

