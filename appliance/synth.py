"""Synthetic Key Signing Requests with fresh software ZSKs, shaped like the real root-zone ones.

For tests, the benchmark and `ceremony demo`: never for production. The request looks like a
Verisign quarter: bundles every 10 days, each valid 21 days, three ZSKs rolling through them
(the previous ZSK in the first bundle, the next one pre-published in the last), and in every
bundle a proof-of-possession RRSIG over the bundle's DNSKEY RRset by each of its ZSKs, all made
at one moment well before the quarter (as the real requests were: 30-day signatures made about
90 days ahead). `generate_follow_up` makes the next quarter's request, chained to a previous
request or response as KSR-CHAIN-KEYS expects.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from appliance import dnssec
from appliance.model import AlgorithmPolicy, Bundle, Key, KeyPolicy, Request, Response, Signature

ZSK_FLAGS = dnssec.FLAG_ZONE
DNSKEY_TTL = 172800
_CURVES = {dnssec.ECDSAP256SHA256: ec.SECP256R1, dnssec.ECDSAP384SHA384: ec.SECP384R1}
_RSA_ALGORITHMS = (dnssec.RSASHA256, dnssec.RSASHA512)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def generate_request(
    start: datetime,
    *,
    n_bundles: int = 9,
    algorithm: int = dnssec.RSASHA256,
    rsa_bits: int = 2048,
    rsa_exponent: int = 65537,
    interval: timedelta = timedelta(days=10),
    validity: timedelta = timedelta(days=21),
    signed_at: datetime | None = None,
    domain: str = ".",
    serial: int = 1,
    zsks: Mapping[str, PrivateKey] | None = None,
) -> tuple[Request, dict[str, PrivateKey]]:
    """A signed request with `n_bundles` bundles from `start`, and its ZSKs' private keys.

    The private keys are returned by key identifier. `zsks` (identifier -> private key, in
    order) supplies the first of the three rolling keys (previous, current, next) instead of
    fresh ones, for chained requests.
    """
    if n_bundles < 1:
        raise ValueError("a request needs at least one bundle")
    chosen: list[tuple[str | None, PrivateKey]] = list((zsks or {}).items())
    if len(chosen) > 3:
        raise ValueError("a request rolls three ZSKs; give at most three")
    while len(chosen) < 3:
        taken = [_key(secret, algorithm, name) for name, secret in chosen]
        chosen.append((None, _fresh_key(algorithm, rsa_bits, rsa_exponent, taken)))
    keys = [_key(secret, algorithm, name) for name, secret in chosen]
    private = [secret for _, secret in chosen]
    previous, current, following = keys
    signed_at = signed_at or start - timedelta(days=90)
    bundles = []
    for index in range(n_bundles):
        members = [current]
        if index == 0:
            members.append(previous)
        if index == n_bundles - 1:
            members.append(following)
        inception = start + index * interval
        bundle = Bundle(id=str(uuid.uuid4()), inception=inception, expiration=inception + validity, keys=tuple(members), signatures=())
        bundles.append(bundle)
    by_identifier = {key.key_identifier: secret for key, secret in zip(keys, private)}
    signed = tuple(sign_bundle(bundle, by_identifier, signed_at, domain=domain) for bundle in bundles)
    request = Request(
        id=str(uuid.uuid4()),
        serial=serial,
        domain=domain,
        zsk_policy=_zsk_policy(current, interval, validity),
        bundles=signed,
    )
    return request, by_identifier


def generate_follow_up(
    previous: Request | Response, private_keys: Mapping[str, PrivateKey], **options
) -> tuple[Request, dict[str, PrivateKey]]:
    """The next request: its first bundle holds exactly the ZSKs of `previous`'s last bundle.

    `private_keys` must hold those ZSKs' private keys (as generate_request returned them). It
    starts one interval after the previous last inception, as the real quarters follow each other.
    """
    last = previous.bundles[-1]
    zsks = [key for key in last.keys if key.flags == ZSK_FLAGS]
    if len(zsks) != 2:
        raise ValueError(f"the previous last bundle has {len(zsks)} ZSKs; a roll needs the current and the next")
    missing = [key.key_identifier for key in zsks if key.key_identifier not in private_keys]
    if missing:
        raise ValueError(f"no private key for {', '.join(missing)}")
    steps = [b.inception - a.inception for a, b in zip(previous.bundles, previous.bundles[1:])]
    interval = options.pop("interval", steps[-1] if steps else timedelta(days=10))
    start = options.pop("start", last.inception + interval)
    # The previous "current" ZSK (in every bundle) retires; the pre-published "next" becomes current.
    old_current, old_next = sorted(zsks, key=lambda key: not all(key in bundle.keys for bundle in previous.bundles))
    chained = {key.key_identifier: private_keys[key.key_identifier] for key in (old_current, old_next)}
    options.setdefault("algorithm", old_current.algorithm)
    options.setdefault("serial", previous.serial + 1)
    return generate_request(start, interval=interval, domain=previous.domain, zsks=chained, **options)


def generate_response(
    request: Request, ksk: PrivateKey | None = None, algorithm: int = dnssec.RSASHA256
) -> tuple[Response, PrivateKey]:
    """A software-signed response to `request`, as kskm lays one out: the KSK added to every
    bundle and one RRSIG by it over the bundle's RRset, valid from inception to expiration.

    For chain tests and demos that need a previous SKR without an HSM; the appliance itself
    signs only inside the HSM.
    """
    ksk = ksk or _fresh_key(algorithm, 2048, 65537, taken=[k for b in request.bundles for k in b.keys])
    unnamed = replace(_key(ksk, algorithm), flags=dnssec.FLAG_ZONE | dnssec.FLAG_SEP)
    tag = dnssec.key_tag(unnamed)
    ksk_key = replace(unnamed, key_identifier=f"KSK-{tag}", key_tag=tag)
    bundles = []
    for bundle in request.bundles:
        keys = bundle.keys + (ksk_key,)
        unsigned = Signature(
            ksk_key.key_identifier, ksk_key.ttl, "DNSKEY", algorithm, dnssec.label_count(request.domain),
            ksk_key.ttl, bundle.expiration, bundle.inception, tag, request.domain, b"",
        )
        data = dnssec.rrsig_signed_data(unsigned, keys, owner=request.domain)
        signature = replace(unsigned, signature_data=sign(ksk, algorithm, data))
        bundles.append(Bundle(bundle.id, bundle.inception, bundle.expiration, keys, (signature,)))
    ksk_policy = KeyPolicy(
        publish_safety=timedelta(0),
        retire_safety=timedelta(days=28),
        max_signature_validity=timedelta(days=21),
        min_signature_validity=timedelta(days=21),
        max_validity_overlap=timedelta(days=16),
        min_validity_overlap=timedelta(days=9),
        algorithms=(_algorithm_policy(ksk_key),),
    )
    response = Response(request.id, request.serial, request.domain, ksk_policy, request.zsk_policy, tuple(bundles))
    return response, ksk


def sign_bundle(
    bundle: Bundle,
    private_keys: Mapping[str, PrivateKey],
    signed_at: datetime,
    lifetime: timedelta = timedelta(days=30),
    domain: str = ".",
) -> Bundle:
    """`bundle` with one fresh proof-of-possession RRSIG per key, replacing any it had.

    Tests use it to re-sign a bundle they have changed, so that only the change is wrong.
    """
    signatures = []
    for key in bundle.keys:
        unsigned = Signature(
            key_identifier=key.key_identifier,
            ttl=key.ttl,
            type_covered="DNSKEY",
            algorithm=key.algorithm,
            labels=dnssec.label_count(domain),
            original_ttl=key.ttl,
            expiration=signed_at + lifetime,
            inception=signed_at,
            key_tag=dnssec.key_tag(key),
            signers_name=domain,
            signature_data=b"",
        )
        data = dnssec.rrsig_signed_data(unsigned, bundle.keys, owner=domain)
        signature = sign(private_keys[key.key_identifier], key.algorithm, data)
        signatures.append(replace(unsigned, signature_data=signature))
    return replace(bundle, signatures=tuple(signatures))


def sign(private_key: PrivateKey, algorithm: int, data: bytes) -> bytes:
    """The RRSIG signature field: PKCS#1 v1.5 for RSA, r||s for ECDSA, raw for Ed25519."""
    if algorithm in _RSA_ALGORITHMS:
        return private_key.sign(data, padding.PKCS1v15(), dnssec.digest_for(algorithm)())
    if algorithm in _CURVES:
        der = private_key.sign(data, ec.ECDSA(dnssec.digest_for(algorithm)()))
        return dnssec.ecdsa_der_to_raw(algorithm, der)
    if algorithm == dnssec.ED25519:
        return private_key.sign(data)
    raise ValueError(f"cannot generate {dnssec.algorithm_name(algorithm)} keys")


def _fresh_key(algorithm: int, rsa_bits: int, rsa_exponent: int, taken: Sequence[Key]) -> PrivateKey:
    """A new private key whose key tag differs from those `taken` (a clash would fail KSR-BUNDLE-KEYS)."""
    while True:
        if algorithm in _RSA_ALGORITHMS:
            candidate = rsa.generate_private_key(public_exponent=rsa_exponent, key_size=rsa_bits)
        elif algorithm in _CURVES:
            candidate = ec.generate_private_key(_CURVES[algorithm]())
        elif algorithm == dnssec.ED25519:
            candidate = ed25519.Ed25519PrivateKey.generate()
        else:
            raise ValueError(f"cannot generate {dnssec.algorithm_name(algorithm)} keys")
        if dnssec.key_tag(_key(candidate, algorithm)) not in {dnssec.key_tag(key) for key in taken}:
            return candidate


def _key(private_key: PrivateKey, algorithm: int, identifier: str | None = None) -> Key:
    unnamed = Key("", 0, DNSKEY_TTL, ZSK_FLAGS, 3, algorithm, dnssec.dnskey_public_key(private_key.public_key()))
    tag = dnssec.key_tag(unnamed)
    return replace(unnamed, key_identifier=identifier or f"ZSK-{tag}", key_tag=tag)


def _algorithm_policy(key: Key) -> AlgorithmPolicy:
    """The <SignatureAlgorithm> that describes `key`."""
    size = dnssec.key_size(key.algorithm, key.public_key)
    if key.algorithm in _RSA_ALGORITHMS:
        return AlgorithmPolicy(key.algorithm, rsa_size=size, rsa_exponent=dnssec.rsa_exponent(key.public_key))
    # ksr.rnc has only <RSA> and <ECDSA>; for Ed25519 the ECDSA size carries the curve bits.
    return AlgorithmPolicy(key.algorithm, ecdsa_size=size)


def _zsk_policy(key: Key, interval: timedelta, validity: timedelta) -> KeyPolicy:
    """The ZSK policy the request declares; the overlap limits bracket validity - interval
    as the root's P9D..P12D bracket its 11 days."""
    overlap = validity - interval
    return KeyPolicy(
        publish_safety=timedelta(days=10),
        retire_safety=timedelta(days=10),
        max_signature_validity=validity,
        min_signature_validity=validity,
        max_validity_overlap=overlap + timedelta(days=1),
        min_validity_overlap=max(overlap - timedelta(days=2), timedelta(0)),
        algorithms=(_algorithm_policy(key),),
    )
