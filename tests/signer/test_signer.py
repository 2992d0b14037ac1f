"""appliance.signing (bundles, config, checks) without an HSM: software keys stand in for it."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from appliance import dnssec
from appliance.errors import RefusedError, UsageError
from appliance.formats import parse_request, parse_response
from appliance.hsm import HsmKey
from appliance.policy.runner import run_checks
from appliance.signing.bundles import Schema, Slot, build_response, builtin_schema, plan_bundles, revoked, validate_schema
from appliance.signing.checks import PREVIOUS_RESPONSE_CHECKS, SIGNING_CHECKS, SigningContext, key_tag_clashes
from appliance.signing.config import load_signing_config
from tests.softhsm import SHARED, TEST_KSKS

DATA = SHARED / "ceremony-data"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "legacy-2010" / "ceremony.toml"


def request(name):
    return parse_request((DATA / "dnssec-keytools" / f"ksr-root-{name}.xml").read_bytes())


def legacy_response(name):
    return parse_response((DATA / "dnssec-keytools-legacy" / f"skr-root-{name}.xml").read_bytes())


def software_key(label):
    return serialization.load_pem_private_key(TEST_KSKS[label][0].read_bytes(), password=None)


def hsm_key(label) -> HsmKey:
    """The HsmKey the HSM would report for a TEST KSK."""
    public = dnssec.dnskey_public_key(software_key(label).public_key())
    return HsmKey(label, bytes.fromhex(TEST_KSKS[label][1]), "private", "RSA", 2048, None, (8, 10), public, True, False)


def software_signer(config):
    def sign(name, data, algorithm):
        return software_key(config.keys[name].label).sign(data, padding.PKCS1v15(), hashes.SHA256())
    return sign


@pytest.fixture
def config():
    return load_signing_config(FIXTURE)


def ksks(config):
    return {name: hsm_key(d.label).dnskey(ttl=config.ksk_ttl, key_identifier=d.label) for name, d in config.keys.items()}


# --- schemas ----------------------------------------------------------------------------------


def test_builtin_schemas_follow_the_rollover_phases():
    def table(name):
        return [(s.publish, s.revoke, s.sign) for s in builtin_schema(name, 9).slots]

    current, both, nxt = ("current",), ("current", "next"), ("next",)
    assert table("normal") == [(current, (), current)] * 9
    assert table("pre-publish") == [(current, (), current)] + [(both, (), current)] * 8
    assert table("publish+") == [(both, (), current)] * 9
    assert table("rollover") == [(both, (), current)] + [(both, (), nxt)] * 8
    assert table("rollover+") == [(both, (), nxt)] * 9
    assert table("revoke") == [(both, (), nxt)] + [(nxt, current, both)] * 7 + [(nxt, (), nxt)]
    assert table("revoke+") == [(nxt, (), nxt)] + [(nxt, current, both)] * 7 + [(nxt, (), nxt)]
    assert len(builtin_schema("normal", 6).slots) == 6
    with pytest.raises(UsageError, match="at least 3 bundles"):
        builtin_schema("revoke", 2)


@pytest.mark.parametrize("slot, message", [
    (Slot(publish=("a",), sign=("b",)), "signs with b, which it does not publish"),
    (Slot(publish=("a",), revoke=("a",), sign=("a",)), "both publishes and revokes a"),
    (Slot(publish=("a",)), "no signing KSK"),
])
def test_inconsistent_slots_are_refused(slot, message):
    with pytest.raises(UsageError, match=message):
        validate_schema(Schema("bad", (slot,)))


def test_plan_puts_keys_and_signers_in_canonical_order_with_revoked_tags(config):
    plan = plan_bundles(request("2010-q2-0"), config.schemas["legacy-roll"], ksks(config))
    seventh = plan[6]
    assert [k.key_tag for k in seventh.keys] == [55138, 55186, 5145]
    assert [(name, key.key_tag) for name, key in seventh.signers] == [("next", 55186), ("current", 5145)]
    assert seventh.keys[-1].flags == 257 | dnssec.FLAG_REVOKE
    assert revoked(seventh.keys[1]).key_tag == dnssec.key_tag(revoked(seventh.keys[1]))
    assert [k.key_tag for k in plan[8].keys] == [41248, 55138, 55186]


def test_plan_refuses_unknown_keys_and_a_wrong_slot_count(config):
    with pytest.raises(UsageError, match="names KSK.*other"):
        plan_bundles(request("2010-q1-0"), Schema("x", (Slot(("other",), (), ("other",)),) * 9), ksks(config))
    with pytest.raises(UsageError, match="has 6 slots, the request 9 bundles"):
        plan_bundles(request("2010-q1-0"), builtin_schema("normal", 6), ksks(config))


@pytest.mark.parametrize("name, schema", [
    ("2010-q1-0", "normal"), ("2010-q2-0", "legacy-roll"), ("2010-q2-0-revoke", "legacy-revoke")])
def test_software_keys_reproduce_the_legacy_signatures(config, name, schema):
    req = request(name.removesuffix("-revoke"))
    plan = plan_bundles(req, config.schema(schema, len(req.bundles)), ksks(config))
    response = build_response(req, plan, config.ksk_policy, config.ksk_ttl, software_signer(config))
    assert response == legacy_response(name)


def test_a_signature_that_does_not_verify_is_never_used(config):
    req = request("2010-q1-0")
    plan = plan_bundles(req, config.schema("normal", 9), ksks(config))
    good = software_signer(config)

    def flipped(name, data, algorithm):
        signature = bytearray(good(name, data, algorithm))
        signature[10] ^= 1
        return bytes(signature)

    with pytest.raises(RefusedError, match="SKR-VERIFY.*does not verify"):
        build_response(req, plan, config.ksk_policy, config.ksk_ttl, flipped)


# --- configuration ----------------------------------------------------------------------------


def test_fixture_configuration(config):
    assert config.policy == "root-2010" and config.default_schema == "normal"
    assert {n: (d.label, d.key_tag) for n, d in config.keys.items()} == {"current": ("KSK1", 5017), "next": ("KSK2", 55186)}
    assert config.hsm.token.label == "ceremony-test" and config.hsm.pin_file.read_text().strip() == "123456"
    assert config.ksk_ttl == 172800 and config.ksk_policy == legacy_response("2010-q1-0").ksk_policy
    with pytest.raises(UsageError, match="unknown schema 'nope'.*legacy-roll.*normal"):
        config.schema("nope", 9)


def edited(tmp_path, old, new) -> Path:
    text = FIXTURE.read_text()
    assert old in text
    path = tmp_path / "ceremony.toml"
    path.write_text(text.replace(old, new, 1))
    shutil.copy(FIXTURE.parent / "test-pin.txt", tmp_path)
    return path


@pytest.mark.parametrize("old, new, message", [
    ('policy = "root-2010"', 'policy = "root-2010"\ncolour = "blue"', "unknown setting.*colour"),
    ('1 = { revoke = ["current"], sign = ["current"] }', '1 = { revoke = ["later"], sign = ["later"] }',
     "legacy-revoke\\] names KSK.*later.*does not define"),
    ("[schemas.legacy-revoke]", "[schemas.normal]", "'normal' is a built-in schema"),
    ('ds_sha256 = "F40F', 'ds_sha256 = "F4', "64 hex digits"),
    ("key_tag = 5017 ", "", "key_tag is required"),
    ("9 = { revoke", "10 = { revoke", "numbered 1..N without gaps"),
    ('algorithm = "RSASHA256"', 'algorithm = "RSASHA1"', "cannot sign a response"),
    ('layout = "legacy"', 'layout = "fancy"', "layout must be one of"),
    ("valid_from = 2009-11-01T00:00:00Z", "valid_from = 2009-11-01T00:00:00", "in UTC"),
])
def test_bad_configurations_are_refused(tmp_path, old, new, message):
    with pytest.raises(UsageError, match=message):
        load_signing_config(edited(tmp_path, old, new))


# --- checks before signing --------------------------------------------------------------------


def context(config, req, schema, keys=None, previous=None, token_keys=None):
    plan = plan_bundles(req, schema, ksks(config))
    names = schema.key_names()
    keys = keys or {name: hsm_key(config.keys[name].label) for name in names}
    return SigningContext(req, plan, {n: config.keys[n] for n in names}, keys,
                          tuple(token_keys if token_keys is not None else keys.values()),
                          config.ksk_policy, config.ksk_ttl, previous)


def verdict(ctx):
    return run_checks(SIGNING_CHECKS + (PREVIOUS_RESPONSE_CHECKS if ctx.previous else ()), ctx)


def test_the_legacy_ceremonies_pass_every_check(config):
    q1 = context(config, request("2010-q1-0"), config.schema("normal", 9), previous=legacy_response("2009-q4-2"))
    assert verdict(q1).valid
    q2 = context(config, request("2010-q2-0"), config.schemas["legacy-roll"], previous=legacy_response("2010-q1-0"))
    assert verdict(q2).valid


def test_ksk_mismatch_names_each_difference(config):
    wrong = replace(hsm_key("KSK2"), label="KSK1")  # the HSM holds another key under the label
    result = verdict(context(config, request("2010-q1-0"), config.schema("normal", 9), keys={"current": wrong}))
    messages = [v.message for v in result.failed("KSK-MISMATCH")]
    assert any("key tag 55186, the definition says 5017" in m for m in messages)
    assert any("DS SHA-256 is 567C45ED" in m for m in messages)
    small = replace(hsm_key("KSK1"), size=1024)
    result = verdict(context(config, request("2010-q1-0"), config.schema("normal", 9), keys={"current": small}))
    assert any("1024 bits, the definition says 2048" in v.message for v in result.failed("KSK-MISMATCH"))


def test_ksk_signing_outside_its_validity_is_a_mismatch(config):
    late = replace(config, keys={**config.keys, "current": replace(config.keys["current"],
                                                                   valid_until=request("2010-q1-0").bundles[4].expiration)})
    result = verdict(context(late, request("2010-q1-0"), late.schema("normal", 9)))
    failures = result.failed("KSK-MISMATCH")
    assert len(failures) == 4 and "bundle 6" in failures[0].message and "after its valid_until" in failures[0].message


def test_a_signer_must_stay_published_until_revoked(config):
    dropped = Schema("dropped", (Slot(("current", "next"), (), ("current",)),) + (Slot(("next",), (), ("next",)),) * 8)
    result = verdict(context(config, request("2010-q2-0"), dropped))
    assert [v.message[:8] for v in result.failed("KSR-POLICY-SAFETY")] == ["bundle 2"]
    assert "which signs bundle 1, is no longer published" in result.failed("KSR-POLICY-SAFETY")[0].message


def test_publish_and_retire_safety_against_the_previous_response(config):
    # KSK2 signs from bundle 1 though SKR(n-1) never published it, and KSK1, which signed SKR(n-1)'s
    # last bundle, is gone at once although RetireSafety is 28 days.
    jump = Schema("jump", (Slot(("next",), (), ("next",)),) * 9)
    result = verdict(context(config, request("2010-q2-0"), jump, previous=legacy_response("2010-q1-0")))
    messages = [v.message for v in result.failed("KSR-POLICY-SAFETY")]
    assert any("KSK next (KSK2, tag 55186) signs it but was not published" in m for m in messages)
    assert sum("must stay published until 2010-04-29" in m for m in messages) == 3  # bundles 1-3


def test_previous_signers_must_be_in_the_hsm(config):
    ctx = context(config, request("2010-q2-0"), config.schemas["legacy-roll"], previous=legacy_response("2010-q1-0"),
                  token_keys=[hsm_key("KSK2")])
    failures = verdict(ctx).failed("KSR-CHAIN-KEYS")
    assert len(failures) == 1 and "validating last SKR with HSM: KSK KSK1 (tag 5017)" in failures[0].message


def test_request_keys_must_carry_the_ksk_ttl(config):
    result = verdict(context(replace(config, ksk_ttl=86400), request("2010-q1-0"), config.schema("normal", 9)))
    failures = result.failed("SKR-TTL")
    assert [f.message.split(": ")[1] for f in failures] == [
        f"key {tag} has TTL 172800, the signing configuration's KSK TTL is 86400" for tag in (49920, 23763, 55138)]


@pytest.mark.parametrize("response_name, schema", [
    ("skr-root-2017-q2-0", "normal"), ("skr-root-2017-q3-0-c_to_d", "pre-publish"),
    ("skr-root-2018-q1-0-d_to_e", "rollover")])
def test_builtin_schemas_give_the_key_sets_of_icanns_real_responses(response_name, schema):
    real = parse_response((DATA / "dnssec-keytools" / f"{response_name}.xml").read_bytes())
    ksk_2010, ksk_2017 = "Kjqmt7v", "Klajeyz"
    everything = {k.key_identifier: k for b in real.bundles for k in b.keys}
    ksks = {"current": everything[ksk_2010], "next": everything.get(ksk_2017, everything[ksk_2010])}
    asked = replace(request("2017-q2-0"), bundles=tuple(
        replace(b, keys=tuple(k for k in b.keys if k.flags == 256), signatures=()) for b in real.bundles))
    plan = plan_bundles(asked, builtin_schema(schema, 9), ksks)
    for planned, bundle in zip(plan, real.bundles):
        assert planned.keys == bundle.keys
        assert [key.key_tag for _, key in planned.signers] == [s.key_tag for s in bundle.signatures]


def test_retire_safety_knows_the_previous_signer_by_its_computed_tag(config):
    """The keyTag attribute is outside the signed data: rewritten on the stick (here to 1) it must not
    hide the KSK that signed SKR(n-1)'s last bundle from RetireSafety."""
    previous = legacy_response("2010-q1-0")
    last = previous.bundles[-1]
    signer = next(k for k in last.keys if k.key_identifier == last.signatures[0].key_identifier)
    keys = tuple(replace(k, key_tag=1) if k is signer else k for k in last.keys)
    rewritten = replace(previous, bundles=previous.bundles[:-1] + (replace(last, keys=keys),))
    jump = Schema("jump", (Slot(("next",), (), ("next",)),) * 9)
    result = verdict(context(config, request("2010-q2-0"), jump, previous=rewritten))
    assert sum("must stay published until 2010-04-29" in v.message for v in result.failed("KSR-POLICY-SAFETY")) == 3


def test_a_zsk_with_the_revoked_tag_of_a_configured_ksk_the_schema_does_not_use_clashes(config):
    """KSR-KEY-TAGS: KSK2 ("next") is configured and on the token but not used by "normal"; a ZSK with
    KSK2's revoked tag would clash the quarter KSK2 is revoked. The token gives KSK2's public key."""
    ksk2 = hsm_key("KSK2").dnskey()
    revoked_tag = dnssec.key_tag(replace(ksk2, flags=ksk2.flags | dnssec.FLAG_REVOKE))
    req = request("2010-q1-0")
    first = req.bundles[0]
    zsk = first.keys[0]
    clash = next(candidate for a in range(256) for b in range(256)
                 if dnssec.key_tag(candidate := replace(zsk, public_key=zsk.public_key[:-2] + bytes((a, b))))
                 == revoked_tag)
    clash = replace(clash, key_tag=revoked_tag, key_identifier="ZSK-clash")
    clashing = replace(req, bundles=(replace(first, keys=(clash,) + first.keys[1:]),) + req.bundles[1:])
    ctx = replace(context(config, clashing, config.schema("normal", 9)), configured=config.keys,
                  token_keys=(hsm_key("KSK1"), hsm_key("KSK2")))
    assert [m.split(": ", 1)[1] for m in key_tag_clashes(ctx)] == [
        f"request bundle 1 ({first.id}) ZSK {revoked_tag} (ZSK-clash) (tag {revoked_tag}) and configured KSK next "
        f"revoked (tag {revoked_tag}) are different keys with the same tag"]
    unclashed = replace(context(config, req, config.schema("normal", 9)), configured=config.keys,
                        token_keys=(hsm_key("KSK1"), hsm_key("KSK2")))
    assert list(key_tag_clashes(unclashed)) == []
