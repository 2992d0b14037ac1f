"""appliance.hsm against real SoftHSM tokens: identity, listing, every signing mechanism, every error."""

from __future__ import annotations

import os
import shutil

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from pkcs11 import exceptions as p11  # only to hand the translator errors SoftHSM cannot produce

from appliance import dnssec, hsm
from appliance.hsm import profile as hsm_profile
from appliance.errors import EXIT_HSM, UsageError
from tests.softhsm import SOFTHSM_MODULE, TEST_KSKS, make_token

pytestmark = pytest.mark.softhsm

DATA = b"the DNSKEY RRset and RRSIG prefix stand-in"


@pytest.fixture
def token(tmp_path):
    return make_token(tmp_path)


def software_key(label):
    return serialization.load_pem_private_key(TEST_KSKS[label][0].read_bytes(), password=None)


def test_identity_names_library_slot_and_token(token):
    with hsm.Hsm(token.profile()) as device:
        identity = device.identity
    assert identity.token_label == "ceremony-test"
    assert identity.token_manufacturer == "SoftHSM project"
    assert identity.token_model == "SoftHSM v2"
    assert identity.library == "Implementation of PKCS11" and identity.library_manufacturer == "SoftHSM"
    assert identity.module == SOFTHSM_MODULE
    shown = token.util("--show-slots")
    assert f"Serial number:    {identity.token_serial}" in shown
    assert f"Slot {identity.slot_id}\n" in shown
    text = "\n".join(identity.lines())
    for value in (identity.token_label, identity.token_serial, identity.library_version, str(identity.slot_id)):
        assert value in text


def test_token_found_by_uri_with_serial_and_refused_with_another(token):
    with hsm.Hsm(token.profile()) as device:
        serial = device.identity.token_serial
    uri = f"pkcs11:token=ceremony-test;manufacturer=SoftHSM%20project;serial={serial};object=KSK2"
    profile = token.profile(token=uri)
    assert profile.key_label == "KSK2"
    with hsm.Hsm(profile) as device:
        assert device.identity.token_serial == serial
    with pytest.raises(hsm.HsmTokenAbsent, match="serial '0000'"):
        hsm.Hsm(token.profile(token="pkcs11:token=ceremony-test;serial=0000")).open()


def test_each_open_reads_its_own_configuration_and_restores_the_environment(tmp_path):
    first = make_token(tmp_path / "a", with_test_ksks=False)
    second = make_token(tmp_path / "b", label="other")
    before = os.environ.get("SOFTHSM2_CONF")
    with hsm.Hsm(first.profile()) as device:
        assert os.environ["SOFTHSM2_CONF"] == str(first.conf)
        assert device.keys() == []
    with hsm.Hsm(second.profile(token="other")) as device:
        assert {k.label for k in device.keys()} == {"KSK1", "KSK2"}
    assert os.environ.get("SOFTHSM2_CONF") == before


def test_list_keys_gives_dnskey_public_keys_and_protection(token):
    with hsm.Hsm(token.profile()) as device:
        keys = device.keys()
    assert [(k.label, k.object_class) for k in keys] == [
        ("KSK1", "private"), ("KSK2", "private"), ("KSK1", "public"), ("KSK2", "public")]
    for key in keys:
        assert key.key_type == "RSA" and key.size == 2048 and key.algorithms == (8, 10)
        expected = dnssec.dnskey_public_key(software_key(key.label).public_key())
        assert key.public_key == expected
        assert key.id == bytes.fromhex(TEST_KSKS[key.label][1])
    private = {k.label: k for k in keys if k.object_class == "private"}
    assert all(k.sensitive and not k.extractable for k in private.values())
    assert private["KSK1"].dnskey().key_tag == 5017
    assert private["KSK1"].dnskey(flags=257 | dnssec.FLAG_REVOKE).key_tag == 5145
    assert private["KSK2"].dnskey().key_tag == 55186


@pytest.mark.parametrize("algorithm, digest", [(dnssec.RSASHA256, hashes.SHA256), (dnssec.RSASHA512, hashes.SHA512)])
def test_rsa_signature_is_the_deterministic_pkcs1_signature(token, algorithm, digest):
    with hsm.Hsm(token.profile()) as device:
        signature = device.sign("KSK1", DATA, algorithm)
    reference = software_key("KSK1").sign(DATA, padding.PKCS1v15(), digest())
    assert signature == reference
    software_key("KSK1").public_key().verify(signature, DATA, padding.PKCS1v15(), digest())


def test_rsa_pkcs_option_serves_an_hsm_without_hashed_mechanisms(tmp_path):
    token = make_token(tmp_path, disabled_mechanisms=("CKM_SHA256_RSA_PKCS", "CKM_SHA512_RSA_PKCS"))
    with hsm.Hsm(token.profile()) as device:
        with pytest.raises(hsm.HsmUnsupportedMechanism, match="CKM_SHA256_RSA_PKCS.*rsa_mechanism") as caught:
            device.sign("KSK1", DATA, dnssec.RSASHA256)
    assert caught.value.exit_code == EXIT_HSM
    with hsm.Hsm(token.profile(options={"rsa_mechanism": "RSA_PKCS"})) as device:
        for algorithm, digest in ((dnssec.RSASHA256, hashes.SHA256), (dnssec.RSASHA512, hashes.SHA512)):
            signature = device.sign("KSK2", DATA, algorithm)
            assert signature == software_key("KSK2").sign(DATA, padding.PKCS1v15(), digest())


def test_ecdsa_signatures_are_r_s_over_a_software_digest(token, tmp_path):
    p384 = ec.generate_private_key(ec.SECP384R1())
    pem = tmp_path / "p384.pem"
    pem.write_bytes(p384.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    token.import_pem(pem, "EC384", "0a")
    with hsm.Hsm(token.profile(), writable=True) as device:
        p256 = device.generate_key("EC256", dnssec.ECDSAP256SHA256)
        listed = device.find_key("EC384")
        assert (listed.curve, listed.size, listed.algorithms) == ("P-384", 384, (dnssec.ECDSAP384SHA384,))
        assert listed.public_key == dnssec.dnskey_public_key(p384.public_key())
        for key, algorithm in ((p256, dnssec.ECDSAP256SHA256), (listed, dnssec.ECDSAP384SHA384)):
            signature = device.sign(key, DATA, algorithm)
            assert len(signature) == 2 * key.size // 8
            public = dnssec.public_key_to_crypto(algorithm, key.public_key)
            der = dnssec.ecdsa_raw_to_der(algorithm, signature)
            public.verify(der, DATA, ec.ECDSA(dnssec.digest_for(algorithm)()))


def test_ed25519_signature_with_ckm_eddsa(token):
    with hsm.Hsm(token.profile(), writable=True) as device:
        key = device.generate_key("ED", dnssec.ED25519)
        signature = device.sign("ED", DATA, dnssec.ED25519)
    assert (key.curve, len(key.public_key), len(signature)) == ("Ed25519", 32, 64)
    dnssec.public_key_to_crypto(dnssec.ED25519, key.public_key).verify(signature, DATA)


def test_a_signature_verifies_as_an_rrsig_over_a_dnskey_rrset(token):
    from datetime import datetime, timezone

    from appliance.model import Signature

    with hsm.Hsm(token.profile()) as device:
        ksk = device.find_key("KSK1").dnskey(ttl=172800)
        template = Signature("KSK1", 172800, "DNSKEY", 8, 0, 172800, datetime(2010, 2, 1, tzinfo=timezone.utc),
                             datetime(2010, 1, 18, tzinfo=timezone.utc), ksk.key_tag, ".", b"")
        data = dnssec.rrsig_signed_data(template, [ksk])
        signed = Signature(**{**template.__dict__, "signature_data": device.sign("KSK1", data, 8)})
    dnssec.verify_signature(signed, ksk, [ksk])


def test_generated_key_is_a_sensitive_token_object_that_never_leaves(token):
    with hsm.Hsm(token.profile(), writable=True) as device:
        taken = {k.dnskey().key_tag for k in device.keys()}
        key = device.generate_key("NEW", dnssec.RSASHA256, avoid_key_tags=frozenset({1, 2}))
        assert key.size == 2048 and key.sensitive and not key.extractable
        assert key.dnskey().key_tag not in taken | {1, 2}
        with pytest.raises(hsm.HsmKeyAmbiguous, match="'NEW' already exists"):
            device.generate_key("NEW", dnssec.RSASHA256)
    with hsm.Hsm(token.profile()) as device:  # a new session: the key was stored on the token
        again = device.find_key("NEW")
        assert again.public_key == key.public_key
        with pytest.raises(hsm.HsmError, match="read-write session"):
            device.generate_key("OTHER", dnssec.ECDSAP256SHA256)


# --- errors -----------------------------------------------------------------------------------


def test_wrong_pin(token):
    (token.directory / "wrong-pin").write_text("654321\n")
    with pytest.raises(hsm.HsmPinIncorrect, match="wrong PIN for token 'ceremony-test'") as caught:
        hsm.Hsm(token.profile(pin_file=str(token.directory / "wrong-pin"))).open()
    assert caught.value.exit_code == EXIT_HSM


def test_pin_is_prompted_by_default_naming_the_token(token):
    table = token.profile_table()
    del table["pin_file"]
    profile = hsm_profile.profile_from_table(table, token.directory)
    assert profile.pin_source_note is None
    prompts = []
    with hsm.Hsm(profile, pin_prompt=lambda text: prompts.append(text) or token.pin) as device:
        assert device.find_key("KSK1").label == "KSK1"
    assert "'ceremony-test'" in prompts[0] and device.identity.token_serial in prompts[0]
    with pytest.raises(hsm.HsmPinIncorrect):
        hsm.Hsm(profile, pin_prompt=lambda text: "000000").open()
    with pytest.raises(UsageError, match="no prompt"):
        hsm.Hsm(profile).open()


def test_pin_from_environment_is_reported_as_a_test_option(token, monkeypatch):
    table = token.profile_table()
    del table["pin_file"]
    profile = hsm_profile.profile_from_table({**table, "pin_env": "TEST_HSM_PIN"}, token.directory)
    assert "TEST_HSM_PIN" in profile.pin_source_note and "tests and demos only" in profile.pin_source_note
    with pytest.raises(UsageError, match="TEST_HSM_PIN"):
        hsm.Hsm(profile).open()
    monkeypatch.setenv("TEST_HSM_PIN", token.pin)
    with hsm.Hsm(profile) as device:
        assert device.identity.token_label == "ceremony-test"


def test_locked_pin_is_its_own_error():
    # SoftHSM never locks a PIN, so the translation of the HSM's answer is checked directly.
    error = hsm.error_for(p11.PinLocked(), "logging in", "token 'x'")
    assert isinstance(error, hsm.HsmPinLocked) and "locked" in str(error) and error.exit_code == EXIT_HSM


def test_absent_token_lists_the_tokens_present(token):
    with pytest.raises(hsm.HsmTokenAbsent, match="token 'missing' is not present.*'ceremony-test'"):
        hsm.Hsm(token.profile(token="missing")).open()


def test_missing_module_and_missing_environment(token, monkeypatch):
    with pytest.raises(hsm.HsmModuleError, match="does not exist"):
        hsm.Hsm(token.profile(module="/nonexistent/libpkcs11.so")).open()
    monkeypatch.delenv("SOFTHSM2_CONF", raising=False)
    table = token.profile_table(inherit_environment=["SOFTHSM2_CONF"])
    del table["environment"]
    with pytest.raises(hsm.HsmModuleError, match="SOFTHSM2_CONF"):
        hsm.Hsm(hsm_profile.profile_from_table(table, token.directory)).open()


def test_missing_key_names_the_label_and_what_is_there(token):
    with hsm.Hsm(token.profile()) as device:
        with pytest.raises(hsm.HsmKeyMissing, match="'KSK9'.*'KSK1', 'KSK2'") as caught:
            device.sign("KSK9", DATA, dnssec.RSASHA256)
    assert caught.value.exit_code == EXIT_HSM


def test_ambiguous_key_label_is_refused(token):
    token.import_pem(TEST_KSKS["KSK2"][0], "KSK1", "03")
    with hsm.Hsm(token.profile()) as device:
        with pytest.raises(hsm.HsmKeyAmbiguous, match="2 private keys are labelled 'KSK1'"):
            device.sign("KSK1", DATA, dnssec.RSASHA256)


def test_key_of_the_wrong_type_for_the_algorithm(token):
    with hsm.Hsm(token.profile()) as device:
        with pytest.raises(hsm.HsmKeyUnusable, match="'KSK1'.*ECDSAP256SHA256"):
            device.sign("KSK1", DATA, dnssec.ECDSAP256SHA256)


def test_missing_eddsa_mechanism(tmp_path):
    token = make_token(tmp_path, disabled_mechanisms=("CKM_EDDSA",), with_test_ksks=False)
    with hsm.Hsm(token.profile(), writable=True) as device:
        device.generate_key("ED", dnssec.ED25519)
        with pytest.raises(hsm.HsmUnsupportedMechanism, match="CKM_EDDSA"):
            device.sign("ED", DATA, dnssec.ED25519)


def test_device_removed_mid_session(token):
    tokens = token.directory / "tokens"
    with hsm.Hsm(token.profile()) as device:
        key = device.find_key("KSK1")
        shutil.move(tokens, token.directory / "unplugged")
        with pytest.raises(hsm.HsmDeviceRemoved, match="went away while signing") as caught:
            device.sign(key, DATA, dnssec.RSASHA256)
    assert caught.value.exit_code == EXIT_HSM


@pytest.mark.parametrize("error", [p11.DeviceRemoved, p11.TokenNotPresent, p11.SessionClosed])
def test_removal_errors_from_the_hsm_become_device_removed(error):
    assert isinstance(hsm.error_for(error(), "signing", "token 'x'"), hsm.HsmDeviceRemoved)


def test_two_tokens_with_one_label_are_ambiguous_until_the_serial_is_given(token):
    token.util("--init-token", "--free", "--label", "ceremony-test", "--so-pin", "12345678", "--pin", token.pin)
    with pytest.raises(hsm.HsmTokenAmbiguous, match="2 tokens match token 'ceremony-test'.*serial"):
        hsm.Hsm(token.profile()).open()
    serials = [line.split()[-1] for line in token.util("--show-slots").splitlines()
               if line.strip().startswith("Serial number:") and len(line.split()) == 3]
    with hsm.Hsm(token.profile(token=f"pkcs11:token=ceremony-test;serial={serials[0]}")) as device:
        assert device.identity.token_serial == serials[0]
