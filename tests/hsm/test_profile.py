"""HSM profiles and pkcs11: URIs, read without any token."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance import hsm
from appliance.hsm import profile as hsm_profile
from appliance.errors import UsageError


def test_profile_file_with_label_and_defaults(tmp_path):
    path = tmp_path / "hsm.toml"
    path.write_text('[hsm]\ntoken = "KSK-token"\n')
    profile = hsm_profile.load_profile(path)
    assert profile.module == hsm_profile.DEFAULT_MODULE
    assert profile.token == hsm_profile.TokenSelector("KSK-token")
    assert profile.rsa_mechanism == "SHA256_RSA_PKCS"
    assert profile.pin_file is None and profile.pin_env is None and profile.pin_source_note is None


def test_profile_with_uri_pin_file_environment_and_options(tmp_path):
    path = tmp_path / "hsm.toml"
    path.write_text(
        '[hsm]\nmodule = "/opt/hsm/lib.so"\n'
        'token = "pkcs11:token=Root%20KSK;manufacturer=Acme;model=X1;serial=0042;object=KSK-2024"\n'
        'pin_file = "pin.txt"\ninherit_environment = ["HSM_LOG"]\n'
        '[hsm.environment]\nACME_CONF = "/etc/acme.conf"\n[hsm.options]\nrsa_mechanism = "RSA_PKCS"\n'
    )
    profile = hsm_profile.load_profile(path)
    assert profile.token == hsm_profile.TokenSelector("Root KSK", "Acme", "X1", "0042")
    assert profile.key_label == "KSK-2024"
    assert profile.pin_file == tmp_path / "pin.txt"
    assert "tests and demos only" in profile.pin_source_note and str(tmp_path / "pin.txt") in profile.pin_source_note
    assert profile.environment == {"ACME_CONF": "/etc/acme.conf"}
    assert profile.inherit_environment == ("HSM_LOG",)
    assert profile.rsa_mechanism == "RSA_PKCS"


@pytest.mark.parametrize("uri, message", [
    ("pkcs11:token=a?pin-value=1234", "query attributes are not accepted"),
    ("pkcs11:token=a;slot-id=1", "'slot-id' is not supported"),
    ("pkcs11:object=KSK1", "must name the token"),
    ("pkcs11:token=a;token=b", "given twice"),
    ("pkcs11:token", "without a value"),
    ("pkcs12:token=a", "not a pkcs11: URI"),
])
def test_bad_uris_are_refused(uri, message):
    with pytest.raises(UsageError, match=message):
        hsm_profile.parse_pkcs11_uri(uri)


@pytest.mark.parametrize("table, message", [
    ({}, "token is required"),
    ({"token": "t", "slot": 0}, "unknown \\[hsm\\] setting.*slot"),
    ({"token": "t", "pin_file": "p", "pin_env": "E"}, "at most one of pin_file and pin_env"),
    ({"token": "t", "options": {"rsa_mechanism": "SHA1_RSA_PKCS"}}, "rsa_mechanism must be one of"),
    ({"token": "t", "options": {"pss": True}}, "unknown \\[hsm.options\\]"),
    ({"token": "t", "environment": {"A": 1}}, "must map variable names to strings"),
])
def test_bad_profiles_are_refused(table, message):
    with pytest.raises(UsageError, match=message):
        hsm_profile.profile_from_table(table, Path("/"))


def test_unreadable_and_invalid_profile_files(tmp_path):
    with pytest.raises(UsageError, match="cannot read HSM profile"):
        hsm_profile.load_profile(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[hsm\n")
    with pytest.raises(UsageError, match="not valid TOML"):
        hsm_profile.load_profile(bad)
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    with pytest.raises(UsageError, match="no \\[hsm\\] table"):
        hsm_profile.load_profile(empty)
