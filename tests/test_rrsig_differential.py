"""Differential test: `appliance.dnssec.verify_signature` against dnspython's `dns.dnssec.validate`.

Hypothesis takes a DNSKEY RRset (real root bundles and synthetic ones of several algorithms and
zones), mutates any RRSIG or DNSKEY field, re-signs the mutated RRSIG with the test key where the
cryptography would otherwise hide the field's effect, and asks both judges about every signature
with the same keys and time. They must agree, except where the RFCs settle the question against
dnspython (docs/dnssec-validation.md lists each, with its RFC section); there the appliance must
refuse and dnspython accept, so the list cannot go stale silently.
"""

from __future__ import annotations

import struct
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance import dnssec, synth
from appliance.model import Key, Signature
from tests.policy.realdata import LEGACY, KEYTOOLS, response

INCEPTION = datetime(2030, 1, 1, tzinfo=UTC)
EXPIRATION = INCEPTION + timedelta(days=21)


def _private(algorithm: int):
    if algorithm == dnssec.RSASHA256:
        return rsa.generate_private_key(public_exponent=65537, key_size=1024)
    if algorithm == dnssec.ECDSAP256SHA256:
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


def _key(private, algorithm: int, flags: int, name: str) -> Key:
    unnamed = Key(name, 0, 172800, flags, 3, algorithm, dnssec.dnskey_public_key(private.public_key()))
    return replace(unnamed, key_tag=dnssec.key_tag(unnamed))


# One signing KSK and one ZSK per algorithm, made once: the mutations are what varies.
_PRIVATE = {alg: (_private(alg), _private(alg)) for alg in (dnssec.RSASHA256, dnssec.ECDSAP256SHA256, dnssec.ED25519)}


def _signed(signature: Signature, keys, private, owner: str) -> Signature:
    """Re-signed with the test key over exactly the fields it now carries."""
    algorithm = next(alg for alg, (ksk, _) in _PRIVATE.items() if ksk is private)
    return replace(signature, signature_data=synth.sign(private, algorithm, _signed_data(signature, keys, owner)))


def _type_number(type_covered: str) -> int:
    return dns.rdatatype.from_text(type_covered)


def _rrsig_prefix(signature: Signature) -> bytes:
    """The RRSIG RDATA without its signature, for any Type Covered (ours refuses all but DNSKEY)."""
    return struct.pack("!HBBIIIH", _type_number(signature.type_covered), signature.algorithm, signature.labels,
                       signature.original_ttl, int(signature.expiration.timestamp()) % (1 << 32),
                       int(signature.inception.timestamp()) % (1 << 32), signature.key_tag
                       ) + dnssec.name_to_wire(signature.signers_name)


def _signed_data(signature: Signature, keys, owner: str) -> bytes:
    header = dnssec.name_to_wire(owner) + struct.pack("!HHI", dnssec.TYPE_DNSKEY, dnssec.CLASS_IN, signature.original_ttl)
    data = _rrsig_prefix(signature)
    for rdata in dnssec.canonical_rrset(keys):
        data += header + struct.pack("!H", len(rdata)) + rdata
    return data


def dnspython_accepts(signature: Signature, keys, owner: str, now: float) -> bool:
    name = dns.name.from_text(owner)
    rrset = dns.rrset.RRset(name, dns.rdataclass.IN, dns.rdatatype.DNSKEY)
    for key in keys:
        rdata = dnssec.dnskey_rdata(key)
        rrset.add(dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.DNSKEY, rdata, 0, len(rdata)), key.ttl)
    wire = _rrsig_prefix(signature) + signature.signature_data
    rrsigs = dns.rrset.RRset(name, dns.rdataclass.IN, dns.rdatatype.RRSIG)
    rrsigs.add(dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.RRSIG, wire, 0, len(wire)), signature.ttl)
    try:
        dns.dnssec.validate(rrset, rrsigs, {name: rrset}, now=now)
    except (dns.dnssec.ValidationFailure, dns.dnssec.UnsupportedAlgorithm):
        return False
    return True


def appliance_accepts(signature: Signature, key: Key, keys, owner: str) -> bool:
    try:
        dnssec.verify_signature(signature, key, keys, owner)
    except (dnssec.SignatureInvalid, ValueError):
        return False
    return True


def rfc_settled_against_dnspython(signature: Signature, key: Key, keys) -> str | None:
    """The disagreements docs/dnssec-validation.md lists: where the RFCs refuse what dnspython accepts."""
    if dnssec.key_encoding_problem(key.algorithm, key.public_key):
        return "RFC 3110 2 (RSA), RFC 6605 4, RFC 8080 3: non-canonical public key"
    if {k.ttl for k in keys} != {signature.original_ttl}:
        return "RFC 4034 3.1.4 (and RFC 2181 5.2): Original TTL is not the RRset's one TTL"
    if signature.inception == signature.expiration:
        return "RFC 4034 3.1.5: a validity window of no time at all"
    return None


# -- the mutations -------------------------------------------------------------------------------

RESIGN = "resign"
SIGNATURE_FIELDS = {
    "type_covered": st.sampled_from(["A", "DS", "NS", "dnskey"]),
    "algorithm": st.sampled_from([5, 8, 10, 13, 14, 15, 16, 253]),
    "labels": st.integers(0, 4),
    "original_ttl": st.sampled_from([0, 1, 3600, 86400, 172799, 172800, 172801]),
    "key_tag": st.integers(0, 0xFFFF),
    "signers_name": st.sampled_from([".", "com.", "example.", "EXAMPLE.", "a.example.", "org."]),
    "inception": st.integers(-30, 30).map(lambda d: INCEPTION + timedelta(days=d)),
    "expiration": st.integers(-30, 30).map(lambda d: EXPIRATION + timedelta(days=d)),
    "ttl": st.sampled_from([0, 3600, 172800]),
}
KEY_FIELDS = {
    "flags": st.sampled_from([0, 1, 256, 257, 384, 385, 128, 129, 0x8101]),
    "protocol": st.sampled_from([0, 2, 3, 4, 255]),
    "algorithm": st.sampled_from([8, 13, 15, 14]),
    "ttl": st.sampled_from([3600, 172800]),
}


@st.composite
def rsa_key_bytes(draw, public_key: bytes) -> bytes:
    """The same RSA key encoded against RFC 3110: a long exponent length, leading zeros; or a flipped bit."""
    exponent, modulus = dnssec._split_rsa(public_key)
    e = exponent.to_bytes((exponent.bit_length() + 7) // 8, "big")
    n = modulus.to_bytes((modulus.bit_length() + 7) // 8, "big")
    choice = draw(st.sampled_from(["long-length", "zero-exponent", "zero-modulus", "flip", "truncate"]))
    if choice == "long-length":
        return b"\x00" + len(e).to_bytes(2, "big") + e + n
    if choice == "zero-exponent":
        return bytes([len(e) + 1]) + b"\x00" + e + n
    if choice == "zero-modulus":
        return bytes([len(e)]) + e + b"\x00" + n
    if choice == "flip":
        index = draw(st.integers(0, len(public_key) - 1))
        return public_key[:index] + bytes([public_key[index] ^ 0x10]) + public_key[index + 1:]
    return public_key[: draw(st.integers(1, len(public_key) - 1))]


@st.composite
def other_key_bytes(draw, public_key: bytes) -> bytes:
    choice = draw(st.sampled_from(["shorter", "longer", "flip"]))
    if choice == "shorter":
        return public_key[:-1]
    if choice == "longer":
        return public_key + b"\x00"
    index = draw(st.integers(0, len(public_key) - 1))
    return public_key[:index] + bytes([public_key[index] ^ 0x01]) + public_key[index + 1:]


@st.composite
def synthetic_case(draw):
    """(signature, signing key, RRset, owner): a KSK and a ZSK, the KSK's RRSIG, then one to three mutations."""
    algorithm = draw(st.sampled_from(sorted(_PRIVATE)))
    owner = draw(st.sampled_from([".", "example.", "Example.", "a.example."]))
    ksk_private, zsk_private = _PRIVATE[algorithm]
    ksk = _key(ksk_private, algorithm, 257, "KSK")
    zsk = _key(zsk_private, algorithm, 256, "ZSK")
    signature = Signature("KSK", 172800, "DNSKEY", algorithm, dnssec.label_count(owner), 172800, EXPIRATION,
                          INCEPTION, ksk.key_tag, owner, b"")
    for _ in range(draw(st.integers(1, 3))):
        target = draw(st.sampled_from(["signature", "key", "key bytes"]))
        if target == "signature":
            field = draw(st.sampled_from(sorted(SIGNATURE_FIELDS)))
            signature = replace(signature, **{field: draw(SIGNATURE_FIELDS[field])})
        elif target == "key":
            field = draw(st.sampled_from(sorted(KEY_FIELDS)))
            ksk = replace(ksk, **{field: draw(KEY_FIELDS[field])})
            if draw(st.booleans()):  # keep the RRSIG pointing at the key, so only the field itself is judged
                signature = replace(signature, key_tag=dnssec.key_tag(ksk))
        else:
            strategy = rsa_key_bytes if algorithm == dnssec.RSASHA256 else other_key_bytes
            original = dnssec.dnskey_public_key(ksk_private.public_key())
            ksk = replace(ksk, public_key=draw(strategy(original)))
            signature = replace(signature, key_tag=dnssec.key_tag(ksk))
    keys = (zsk, ksk)
    if draw(st.booleans()):  # the RRset keeps one TTL unless a key's TTL was the mutation
        keys = tuple(replace(k, ttl=ksk.ttl) for k in keys)
    if _printable(signature.signers_name):
        signature = _signed(signature, keys, ksk_private, owner)
    return signature, ksk, keys, owner


def _printable(name: str) -> bool:
    try:
        dnssec.name_to_wire(name)
    except ValueError:
        return False
    return True


def _judge(signature, key, keys, owner) -> None:
    ours = appliance_accepts(signature, key, keys, owner)
    now = min(signature.inception, signature.expiration).timestamp()
    theirs = dnspython_accepts(signature, keys, owner, now)
    settled = rfc_settled_against_dnspython(signature, key, keys)
    if ours != theirs:
        assert settled is not None and theirs and not ours, (
            f"appliance {'accepts' if ours else 'refuses'}, dnspython {'accepts' if theirs else 'refuses'}: "
            f"{signature} by {key}")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(synthetic_case())
def test_appliance_and_dnspython_agree_on_mutated_synthetic_rrsigs(case):
    _judge(*case)


REAL = [
    KEYTOOLS / "skr-root-2017-q1-0.xml",
    KEYTOOLS / "skr-root-2018-q1-0-d_to_e.xml",
    LEGACY / "skr-root-2010-q2-0.xml",
]


@st.composite
def real_case(draw):
    """A real root bundle's RRSIG with one field changed (no re-signing: we hold no root private key)."""
    bundle = draw(st.sampled_from([b for path in REAL for b in response(path).bundles]))
    signature = draw(st.sampled_from(bundle.signatures))
    key = next(k for k in bundle.keys if k.key_identifier == signature.key_identifier)
    if draw(st.booleans()):
        field = draw(st.sampled_from(sorted(SIGNATURE_FIELDS)))
        signature = replace(signature, **{field: draw(SIGNATURE_FIELDS[field])})
    return signature, key, bundle.keys, "."


@settings(max_examples=150, deadline=None)
@given(real_case())
def test_appliance_and_dnspython_agree_on_real_and_mutated_root_rrsigs(case):
    _judge(*case)


@pytest.mark.parametrize("mutation,expected", [
    (dict(original_ttl=86400), "RFC 4034 3.1.4"),
    (dict(inception=EXPIRATION), "RFC 4034 3.1.5"),
])
def test_each_listed_disagreement_really_is_one(mutation, expected):
    """The list in the docs is not hypothetical: dnspython accepts each of these, the appliance refuses."""
    private, _ = _PRIVATE[dnssec.RSASHA256]
    ksk = _key(private, dnssec.RSASHA256, 257, "KSK")
    signature = Signature("KSK", 172800, "DNSKEY", 8, 0, 172800, EXPIRATION, INCEPTION, ksk.key_tag, ".", b"")
    signature = _signed(replace(signature, **mutation), (ksk,), private, ".")
    assert rfc_settled_against_dnspython(signature, ksk, (ksk,)).startswith(expected)
    assert dnspython_accepts(signature, (ksk,), ".", signature.inception.timestamp())
    assert not appliance_accepts(signature, ksk, (ksk,), ".")


def test_a_non_canonical_rsa_key_is_a_listed_disagreement():
    private, _ = _PRIVATE[dnssec.RSASHA256]
    plain = _key(private, dnssec.RSASHA256, 257, "KSK")
    e, n = dnssec._split_rsa(plain.public_key)
    unnamed = replace(plain, public_key=b"\x00\x00\x03" + e.to_bytes(3, "big") + n.to_bytes(128, "big"))
    ksk = replace(unnamed, key_tag=dnssec.key_tag(unnamed))
    signature = Signature("KSK", 172800, "DNSKEY", 8, 0, 172800, EXPIRATION, INCEPTION, ksk.key_tag, ".", b"")
    signature = _signed(signature, (ksk,), private, ".")
    assert rfc_settled_against_dnspython(signature, ksk, (ksk,)).startswith("RFC 3110")
    assert dnspython_accepts(signature, (ksk,), ".", INCEPTION.timestamp())
    assert not appliance_accepts(signature, ksk, (ksk,), ".")
