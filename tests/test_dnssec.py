"""appliance.dnssec against real ICANN files and against dnspython, an independent implementation."""

import base64
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from lxml import etree

from appliance import dnssec
from appliance.model import Key, Signature

DATA = Path(__file__).resolve().parents[2] / "shared" / "ceremony-data"
SKR_2017_Q1 = DATA / "dnssec-keytools" / "skr-root-2017-q1-0.xml"


def _time(text):
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _bundles(path):
    """Keys and signatures per bundle, read with plain lxml so these tests do not trust our parser."""
    root = etree.parse(str(path)).getroot()
    for bundle in root.iter("ResponseBundle", "RequestBundle"):
        keys = [
            Key(
                k.get("keyIdentifier"), int(k.get("keyTag")), int(k.findtext("TTL")), int(k.findtext("Flags")),
                int(k.findtext("Protocol")), int(k.findtext("Algorithm")), base64.b64decode(k.findtext("PublicKey")),
            )
            for k in bundle.iter("Key")
        ]
        sigs = [
            Signature(
                s.get("keyIdentifier"), int(s.findtext("TTL")), s.findtext("TypeCovered"), int(s.findtext("Algorithm")),
                int(s.findtext("Labels")), int(s.findtext("OriginalTTL")), _time(s.findtext("SignatureExpiration")),
                _time(s.findtext("SignatureInception")), int(s.findtext("KeyTag")), s.findtext("SignersName"),
                base64.b64decode(s.findtext("SignatureData")),
            )
            for s in bundle.iter("Signature")
        ]
        yield keys, sigs


def _dnspython_rrsets(keys, sig, owner="."):
    name = dns.name.from_text(owner)
    rrset = dns.rrset.RRset(name, dns.rdataclass.IN, dns.rdatatype.DNSKEY)
    for key in keys:
        rrset.add(dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.DNSKEY, dnssec.dnskey_rdata(key), 0,
                                      len(dnssec.dnskey_rdata(key))), sig.original_ttl)
    rrsig = dns.rrset.RRset(name, dns.rdataclass.IN, dns.rdatatype.RRSIG)
    wire = dnssec.rrsig_rdata_prefix(sig, owner) + sig.signature_data
    rrsig.add(dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.RRSIG, wire, 0, len(wire)), sig.ttl)
    return name, rrset, rrsig


ALL_FILES = sorted(p for p in DATA.rglob("*.xml") if "root-anchors" not in p.name and "BAD" not in p.name)


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_every_real_signature_verifies_and_key_tags_match(path):
    count = 0
    for keys, sigs in _bundles(path):
        by_id = {k.key_identifier: k for k in keys}
        for key in keys:
            assert dnssec.key_tag(key) == key.key_tag
        for sig in sigs:
            dnssec.verify_signature(sig, by_id[sig.key_identifier], keys)
            count += 1
    assert count > 0


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_dnspython_agrees_on_tags_and_signatures(path):
    for keys, sigs in _bundles(path):
        for sig in sigs:
            name, rrset, rrsig = _dnspython_rrsets(keys, sig)
            when = sig.inception + timedelta(seconds=1)
            dns.dnssec.validate(rrset, rrsig, {name: rrset}, now=when.timestamp())
        for key in keys:
            rdata = dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.DNSKEY, dnssec.dnskey_rdata(key), 0,
                                        len(dnssec.dnskey_rdata(key)))
            assert dns.dnssec.key_id(rdata) == dnssec.key_tag(key)


def test_swapped_signatures_fail():
    bad = DATA / "synthetic-test" / "ksr-root-2018-q1-0-d_to_e.BAD-swapped-sigs.xml"
    keys, sigs = next(iter(_bundles(bad)))
    by_id = {k.key_identifier: k for k in keys}
    failures = 0
    for sig in sigs:
        with pytest.raises(dnssec.SignatureInvalid):
            dnssec.verify_signature(sig, by_id[sig.key_identifier], keys)
        failures += 1
    assert failures == 2


def test_one_flipped_bit_in_the_signature_fails():
    keys, sigs = next(iter(_bundles(SKR_2017_Q1)))
    sig = sigs[0]
    data = bytearray(sig.signature_data)
    data[10] ^= 1
    flipped = Signature(**{**sig.__dict__, "signature_data": bytes(data)})
    ksk = next(k for k in keys if k.key_identifier == sig.key_identifier)
    with pytest.raises(dnssec.SignatureInvalid):
        dnssec.verify_signature(flipped, ksk, keys)


def test_ds_of_root_ksk_2017_matches_the_trust_anchor():
    keys, _ = next(iter(_bundles(DATA / "dnssec-keytools" / "skr-root-2018-q1-0-d_to_e.xml")))
    ksk = next(k for k in keys if dnssec.key_tag(k) == 20326)
    assert dnssec.ds_sha256(ksk).hex().upper() == "E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D"


def test_revoke_bit_changes_the_key_tag():
    keys, _ = next(iter(_bundles(DATA / "dnssec-keytools-legacy" / "skr-root-2009-q4-2.xml")))
    ksk1 = next(k for k in keys if k.key_identifier == "KSK1")
    revoked = Key(**{**ksk1.__dict__, "flags": ksk1.flags | dnssec.FLAG_REVOKE})
    assert (dnssec.key_tag(ksk1), dnssec.key_tag(revoked)) == (5017, 5145)


def test_key_size_and_exponent():
    keys, _ = next(iter(_bundles(DATA / "dnssec-keytools" / "ksr-root-2010-q1-0.xml")))
    assert {dnssec.key_size(k.algorithm, k.public_key) for k in keys} == {1024}
    assert {dnssec.rsa_exponent(k.public_key) for k in keys} == {65537}


def _sign_fresh(algorithm, private_key, keys, sig_template):
    data = dnssec.rrsig_signed_data(sig_template, keys)
    if algorithm in (dnssec.RSASHA256, dnssec.RSASHA512):
        raw = private_key.sign(data, padding.PKCS1v15(), dnssec.digest_for(algorithm)())
    elif algorithm in (dnssec.ECDSAP256SHA256, dnssec.ECDSAP384SHA384):
        raw = dnssec.ecdsa_der_to_raw(algorithm, private_key.sign(data, ec.ECDSA(dnssec.digest_for(algorithm)())))
    else:
        raw = private_key.sign(data)
    return Signature(**{**sig_template.__dict__, "signature_data": raw})


@pytest.mark.parametrize(
    "algorithm,make",
    [
        (dnssec.RSASHA256, lambda: rsa.generate_private_key(65537, 2048)),
        (dnssec.RSASHA512, lambda: rsa.generate_private_key(65537, 2048)),
        (dnssec.ECDSAP256SHA256, lambda: ec.generate_private_key(ec.SECP256R1())),
        (dnssec.ECDSAP384SHA384, lambda: ec.generate_private_key(ec.SECP384R1())),
        (dnssec.ED25519, ed25519.Ed25519PrivateKey.generate),
    ],
)
def test_fresh_keys_of_each_algorithm_verify_here_and_in_dnspython(algorithm, make):
    private = make()
    key = Key("k", 0, 172800, 257, 3, algorithm, dnssec.dnskey_public_key(private.public_key()))
    other = Key("z", 0, 172800, 256, 3, algorithm, dnssec.dnskey_public_key(make().public_key()))
    key = Key(**{**key.__dict__, "key_tag": dnssec.key_tag(key)})
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    template = Signature("k", 172800, "DNSKEY", algorithm, 0, 172800, start + timedelta(days=21), start,
                         key.key_tag, ".", b"")
    sig = _sign_fresh(algorithm, private, [key, other], template)
    dnssec.verify_signature(sig, key, [other, key])  # order of the RRset must not matter
    name, rrset, rrsig = _dnspython_rrsets([key, other], sig)
    dns.dnssec.validate(rrset, rrsig, {name: rrset}, now=(start + timedelta(days=1)).timestamp())
    with pytest.raises(dnssec.SignatureInvalid):
        dnssec.verify_signature(sig, key, [key])  # a different RRset


def test_names_and_labels():
    assert dnssec.name_to_wire(".") == b"\x00"
    assert dnssec.name_to_wire("Example.COM.") == b"\x07example\x03com\x00"
    assert dnssec.label_count(".") == 0 and dnssec.label_count("se.") == 1
