"""DNSSEC mechanics for DNSKEY RRsets: wire forms, key tags, RRSIG signed data, DS, verification.

Pure functions, no I/O. Everything the signer produces and every signature a request or response
carries is checked with these, so they follow RFC 4034 to the letter:
  - DNSKEY RDATA (2.1), key tag (Appendix B), canonical RR order (6.3) and form (6.2),
  - the data an RRSIG covers (3.1.8.1), DS digests (5.1.4, RFC 4509 for SHA-256),
  - RSA keys (RFC 3110), ECDSA r||s (RFC 6605), Ed25519 (RFC 8080).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from appliance.model import Key, Signature

# Algorithm numbers (IANA "DNS Security Algorithm Numbers").
RSAMD5 = 1
DH = 2
DSA = 3
RSASHA1 = 5
DSA_NSEC3_SHA1 = 6
RSASHA1_NSEC3_SHA1 = 7
RSASHA256 = 8
RSASHA512 = 10
ECC_GOST = 12
ECDSAP256SHA256 = 13
ECDSAP384SHA384 = 14
ED25519 = 15
ED448 = 16

ALGORITHM_NAMES = {
    RSAMD5: "RSAMD5",
    DH: "DH",
    DSA: "DSA",
    RSASHA1: "RSASHA1",
    DSA_NSEC3_SHA1: "DSA-NSEC3-SHA1",
    RSASHA1_NSEC3_SHA1: "RSASHA1-NSEC3-SHA1",
    RSASHA256: "RSASHA256",
    RSASHA512: "RSASHA512",
    ECC_GOST: "ECC-GOST",
    ECDSAP256SHA256: "ECDSAP256SHA256",
    ECDSAP384SHA384: "ECDSAP384SHA384",
    ED25519: "ED25519",
    ED448: "ED448",
}

# RFC 8624 "MUST NOT" for signing, plus the SHA-1 algorithms no new signature should use.
DEPRECATED_ALGORITHMS = frozenset(
    {RSAMD5, DH, DSA, DSA_NSEC3_SHA1, ECC_GOST, RSASHA1, RSASHA1_NSEC3_SHA1}
)

FLAG_ZONE = 256
FLAG_REVOKE = 128
FLAG_SEP = 1

TYPE_DNSKEY = 48
CLASS_IN = 1

_RSA_DIGESTS = {RSASHA256: hashes.SHA256, RSASHA512: hashes.SHA512}
_EC_CURVES = {ECDSAP256SHA256: (ec.SECP256R1, hashes.SHA256, 32), ECDSAP384SHA384: (ec.SECP384R1, hashes.SHA384, 48)}
_EDDSA_SIZES = {ED25519: 256, ED448: 456}


class SignatureInvalid(ValueError):
    """A signature that does not verify, or a key that cannot be used to verify it."""


def algorithm_name(algorithm: int) -> str:
    return ALGORITHM_NAMES.get(algorithm, f"algorithm {algorithm}")


def name_to_wire(name: str) -> bytes:
    """A domain name in canonical (lower-case, uncompressed) wire form."""
    text = name.strip()
    if text in ("", "."):
        return b"\x00"
    labels = text.rstrip(".").split(".")
    wire = b""
    for label in labels:
        raw = label.encode("ascii").lower()  # ASCII first: str.lower() maps U+212A KELVIN SIGN to "k"
        if not 0 < len(raw) < 64:
            raise ValueError(f"bad label {label!r} in {name!r}")
        wire += bytes([len(raw)]) + raw
    if len(wire) + 1 > 255:
        raise ValueError(f"name too long: {name!r}")
    return wire + b"\x00"


def label_count(name: str) -> int:
    """The RRSIG Labels value for an owner name (the root has none)."""
    text = name.strip().rstrip(".")
    return 0 if not text else len(text.split("."))


def dnskey_rdata(key: Key) -> bytes:
    return struct.pack("!HBB", key.flags, key.protocol, key.algorithm) + key.public_key


def key_tag(key: Key) -> int:
    """RFC 4034 Appendix B; the REVOKE bit is part of the RDATA, so a revoked key has its own tag."""
    rdata = dnskey_rdata(key)
    if key.algorithm == RSAMD5:
        return int.from_bytes(rdata[-3:-1], "big")
    # Even octets are the high byte of a 16-bit word, odd octets the low byte.
    total = (sum(rdata[0::2]) << 8) + sum(rdata[1::2])
    total += (total >> 16) & 0xFFFF
    return total & 0xFFFF


def ds_sha256(key: Key, owner: str = ".") -> bytes:
    return hashlib.sha256(name_to_wire(owner) + dnskey_rdata(key)).digest()


def _split_rsa(public_key: bytes) -> tuple[int, int]:
    """(exponent, modulus) from an RFC 3110 RSA public key, read leniently (sizes and exponents of
    old keys); `key_encoding_problem` says whether the encoding is the canonical one."""
    return _rsa_fields(public_key)[0:2]


def _rsa_fields(public_key: bytes) -> tuple[int, int, int, bytes, bytes]:
    """(exponent, modulus, length octets, exponent octets, modulus octets) of an RFC 3110 key."""
    if not public_key:
        raise SignatureInvalid("empty RSA public key")
    if public_key[0] == 0:
        if len(public_key) < 3:
            raise SignatureInvalid("truncated RSA public key")
        exp_len = int.from_bytes(public_key[1:3], "big")
        offset = 3
    else:
        exp_len = public_key[0]
        offset = 1
    exponent = public_key[offset : offset + exp_len]
    modulus = public_key[offset + exp_len :]
    if len(exponent) != exp_len or not modulus or exp_len == 0:
        raise SignatureInvalid("truncated RSA public key")
    return int.from_bytes(exponent, "big"), int.from_bytes(modulus, "big"), offset, exponent, modulus


_POINT_OCTETS = {ECDSAP256SHA256: 64, ECDSAP384SHA384: 96, ED25519: 32, ED448: 57}


def key_encoding_problem(algorithm: int, public_key: bytes) -> str | None:
    """Why a DNSKEY public-key field is not in its one canonical form, or None.

    RSA: RFC 3110 section 2 (one-octet exponent length when the exponent has 1..255 octets, no
    leading zero octets in exponent or modulus); ECDSA: RFC 6605 section 4 (x||y, 64 or 96
    octets); EdDSA: RFC 8080 section 3 (32 or 57 octets), RFC 8032 5.1.3/5.2.3 (y below the field
    prime), and not a point of small order (a key anyone can sign with). One key has one key tag
    and one DS only in its canonical form.
    """
    if algorithm in (RSASHA1, RSASHA1_NSEC3_SHA1, RSASHA256, RSASHA512, RSAMD5):
        try:
            _, _, offset, exponent, modulus = _rsa_fields(public_key)
        except SignatureInvalid as exc:
            return str(exc)
        if offset == 3 and len(exponent) < 256:
            return f"three-octet exponent length for a {len(exponent)}-octet exponent (RFC 3110 2)"
        if exponent[0] == 0:
            return "leading zero octet in the exponent (RFC 3110 2)"
        if modulus[0] == 0:
            return "leading zero octet in the modulus (RFC 3110 2)"
        return None
    expected = _POINT_OCTETS.get(algorithm)
    if expected is not None and len(public_key) != expected:
        return f"{algorithm_name(algorithm)} public key is {len(public_key)} octets, not {expected}"
    if algorithm in _EDDSA_FIELDS:
        return _eddsa_point_problem(algorithm, public_key)
    return None


# EdDSA (RFC 8032 5.1.2, 5.2.2): the field prime, and the y coordinates of the points of small order
# (edwards25519's 8-torsion, edwards448's 4-torsion). A public key there verifies S = 0 with a
# small-order R for most messages (OpenSSL, and so dnspython, accept them): anyone can sign with it.
_EDDSA_FIELDS = {ED25519: 2**255 - 19, ED448: 2**448 - 2**224 - 1}
_SMALL_ORDER_Y = {
    ED25519: {0, 1, 2**255 - 20, *(int.from_bytes(bytes.fromhex(y), "little") for y in (
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"))},
    ED448: {0, 1, 2**448 - 2**224 - 2},
}


def _eddsa_point_problem(algorithm: int, public_key: bytes) -> str | None:
    """A non-canonical encoding (y >= p, or Ed448's spare bits set: RFC 8032 5.1.3, 5.2.3), which
    gives one key two tags, or a point of small order, which is no one's key."""
    name = algorithm_name(algorithm)
    if algorithm == ED448:
        if public_key[-1] & 0x7F:
            return f"{name} public key has bits set in its last octet beside the sign bit (RFC 8032 5.2.3)"
        y = int.from_bytes(public_key[:-1], "little")
    else:
        y = int.from_bytes(public_key, "little") & ~(1 << 255)
    if y >= _EDDSA_FIELDS[algorithm]:
        return f"{name} public key's y coordinate is not below the field prime (RFC 8032 5.1.3, 5.2.3)"
    if y in _SMALL_ORDER_Y[algorithm]:
        return f"{name} public key is a point of small order: anyone can make signatures it verifies"
    return None


def rsa_exponent(public_key: bytes) -> int:
    return _split_rsa(public_key)[0]


def key_size(algorithm: int, public_key: bytes) -> int:
    """RSA modulus bits, or the curve size in bits."""
    if algorithm in (RSASHA1, RSASHA1_NSEC3_SHA1, RSASHA256, RSASHA512, RSAMD5):
        return _split_rsa(public_key)[1].bit_length()
    if algorithm in _EC_CURVES:
        return _EC_CURVES[algorithm][2] * 8
    if algorithm in _EDDSA_SIZES:
        return _EDDSA_SIZES[algorithm]
    raise SignatureInvalid(f"unsupported {algorithm_name(algorithm)}")


def digest_for(algorithm: int) -> type[hashes.HashAlgorithm]:
    """The hash an algorithm signs with (RSA and ECDSA; EdDSA hashes internally)."""
    if algorithm in _RSA_DIGESTS:
        return _RSA_DIGESTS[algorithm]
    if algorithm in _EC_CURVES:
        return _EC_CURVES[algorithm][1]
    raise SignatureInvalid(f"no separate digest for {algorithm_name(algorithm)}")


def public_key_to_crypto(algorithm: int, public_key: bytes):
    """A `cryptography` public key from a DNSKEY public-key field."""
    problem = key_encoding_problem(algorithm, public_key)
    if problem:
        raise SignatureInvalid(f"public key not in canonical form: {problem}")
    try:
        if algorithm in _RSA_DIGESTS:
            exponent, modulus = _split_rsa(public_key)
            return rsa.RSAPublicNumbers(exponent, modulus).public_key()
        if algorithm in _EC_CURVES:
            curve, _, _ = _EC_CURVES[algorithm]
            return ec.EllipticCurvePublicKey.from_encoded_point(curve(), b"\x04" + public_key)
        if algorithm == ED25519:
            return ed25519.Ed25519PublicKey.from_public_bytes(public_key)
        if algorithm == ED448:
            return ed448.Ed448PublicKey.from_public_bytes(public_key)
    except SignatureInvalid:
        raise
    except ValueError as exc:
        raise SignatureInvalid(f"unusable {algorithm_name(algorithm)} public key: {exc}") from None
    raise SignatureInvalid(f"unsupported {algorithm_name(algorithm)}")


def dnskey_public_key(crypto_public_key) -> bytes:
    """The DNSKEY public-key field for a `cryptography` public key."""
    if isinstance(crypto_public_key, rsa.RSAPublicKey):
        numbers = crypto_public_key.public_numbers()
        exponent = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
        modulus = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
        if len(exponent) < 256:
            prefix = bytes([len(exponent)])
        else:
            prefix = b"\x00" + len(exponent).to_bytes(2, "big")
        return prefix + exponent + modulus
    if isinstance(crypto_public_key, ec.EllipticCurvePublicKey):
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        point = crypto_public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return point[1:]
    if isinstance(crypto_public_key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        return crypto_public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    raise TypeError(f"unsupported key type {type(crypto_public_key).__name__}")


def ecdsa_der_to_raw(algorithm: int, der: bytes) -> bytes:
    """DER ECDSA (as `cryptography` signs) to the fixed r||s form DNSSEC carries."""
    size = _EC_CURVES[algorithm][2]
    r, s = decode_dss_signature(der)
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def ecdsa_raw_to_der(algorithm: int, raw: bytes) -> bytes:
    size = _EC_CURVES[algorithm][2]
    if len(raw) != 2 * size:
        raise SignatureInvalid(f"{algorithm_name(algorithm)} signature must be {2 * size} bytes")
    return encode_dss_signature(int.from_bytes(raw[:size], "big"), int.from_bytes(raw[size:], "big"))


def canonical_rrset(keys: Iterable[Key]) -> list[bytes]:
    """DNSKEY RDATAs in canonical order, duplicates removed (RFC 4034 6.3)."""
    return sorted({dnskey_rdata(key) for key in keys})


# RRSIG Inception and Expiration are 32-bit unsigned seconds since 1970 (RFC 4034 3.1.5): an XML
# time outside that range is written modulo 2**32, i.e. as another time, and the order of the two
# fields on the wire can then differ from their order in the file.
RRSIG_TIME_MIN = datetime.fromtimestamp(0, UTC)
RRSIG_TIME_MAX = datetime.fromtimestamp((1 << 32) - 1, UTC)


def _serial_time(moment: datetime) -> int:
    """RRSIG times are seconds since the epoch modulo 2**32 (RFC 4034 3.1.5)."""
    return int(moment.timestamp()) % (1 << 32)


def rrsig_rdata_prefix(signature: Signature, owner: str = ".") -> bytes:
    """The RRSIG RDATA without the signature field."""
    if signature.type_covered.upper() != "DNSKEY":
        raise SignatureInvalid(f"signature covers {signature.type_covered}, not DNSKEY")
    return struct.pack(
        "!HBBIIIH",
        TYPE_DNSKEY,
        signature.algorithm,
        signature.labels,
        signature.original_ttl,
        _serial_time(signature.expiration),
        _serial_time(signature.inception),
        signature.key_tag,
    ) + name_to_wire(signature.signers_name or owner)


def rrsig_signed_data(signature: Signature, keys: Iterable[Key], owner: str = ".") -> bytes:
    """What the RRSIG's signature covers: RDATA prefix, then each RR in canonical form and order."""
    owner_wire = name_to_wire(owner)
    header = owner_wire + struct.pack("!HHI", TYPE_DNSKEY, CLASS_IN, signature.original_ttl)
    data = rrsig_rdata_prefix(signature, owner)
    for rdata in canonical_rrset(keys):
        data += header + struct.pack("!H", len(rdata)) + rdata
    return data


def rrsig_field_problems(signature: Signature, signing_key: Key, keys: Sequence[Key], owner: str = ".") -> Iterator[str]:
    """Every reason, each naming its field, why `signature` by `signing_key` cannot validate the
    DNSKEY RRset `keys` owned by the zone apex `owner`, before any cryptography.

    RFC 4035 5.3.1 (Type Covered, Signer's Name = the zone = the key's owner, Labels, Algorithm and
    Key Tag of the key), RFC 4034 3.1.3 (a DNSKEY RRset sits at the apex, so Labels is exactly the
    owner's label count: no wildcard), 3.1.4 (Original TTL is the RRset's TTL in the authoritative
    data, which requests and responses are), 3.1.5 (Inception before Expiration, both inside the
    32-bit field's range, so the wire's order is the file's), 2.1.1 and 2.1.2
    (the key's Zone flag set, Protocol 3), RFC 5011 2.1 (a REVOKE key validates only the RRset that
    publishes it revoked: its own revocation).
    """
    if signature.type_covered.upper() != "DNSKEY":
        yield f"Type Covered is {signature.type_covered!r}, not DNSKEY"
    if signature.algorithm != signing_key.algorithm:
        yield f"Algorithm {signature.algorithm} is not the key's algorithm {signing_key.algorithm}"
    computed = key_tag(signing_key)
    if signature.key_tag != computed:
        yield f"Key Tag {signature.key_tag} is not the key's tag {computed}"
    zone = _canonical_name(owner)
    if zone is None:
        yield f"the zone {owner!r} is not a domain name, so no Signer's Name can be it"
    elif _canonical_name(signature.signers_name) != zone:
        yield f"Signer's Name {signature.signers_name!r} is not the zone {owner!r} (the key's owner)"
    owner_labels = label_count(owner)
    if signature.labels != owner_labels:
        relation = "exceeds" if signature.labels > owner_labels else "is below"
        yield f"Labels {signature.labels} {relation} the {owner_labels} label(s) of the owner {owner!r}"
    rrset_ttls = sorted({key.ttl for key in keys})
    if rrset_ttls != [signature.original_ttl]:
        shown = rrset_ttls[0] if len(rrset_ttls) == 1 else rrset_ttls
        yield f"Original TTL {signature.original_ttl} is not the RRset's TTL {shown}"
    for field, moment in (("Inception", signature.inception), ("Expiration", signature.expiration)):
        if not RRSIG_TIME_MIN <= moment <= RRSIG_TIME_MAX:
            yield (f"{field} {moment:%Y-%m-%dT%H:%M:%SZ} is outside the RRSIG field's range "
                   f"({RRSIG_TIME_MIN:%Y-%m-%dT%H:%M:%SZ} to {RRSIG_TIME_MAX:%Y-%m-%dT%H:%M:%SZ}): "
                   f"the wire would carry it as {_serial_time(moment)} seconds since 1970, another time")
    if not signature.inception < signature.expiration:
        yield (f"Inception {signature.inception:%Y-%m-%dT%H:%M:%SZ} is not before Expiration "
               f"{signature.expiration:%Y-%m-%dT%H:%M:%SZ}")
    if not signing_key.flags & FLAG_ZONE:
        yield f"key {computed} has the Zone flag clear (Flags {signing_key.flags}): it may not validate signatures"
    if signing_key.protocol != 3:
        yield f"key {computed} has Protocol {signing_key.protocol}, not 3"
    if signing_key.flags & FLAG_REVOKE and dnskey_rdata(signing_key) not in {dnskey_rdata(k) for k in keys}:
        yield f"key {computed} has the REVOKE flag and the RRset does not publish it revoked"


@lru_cache(maxsize=256)
def _canonical_name(name: str) -> bytes | None:
    try:
        return name_to_wire(name) if name.strip() else None
    except (ValueError, UnicodeError):
        return None


def verify_signature(signature: Signature, signing_key: Key, keys: Iterable[Key], owner: str = ".") -> None:
    """Raise SignatureInvalid unless `signature` by `signing_key` validates the DNSKEY RRset `keys`
    of the zone `owner`, as a validating resolver would (RFC 4035 5.3): every field rule of
    `rrsig_field_problems`, a canonical public key, then the signature itself. The message names
    the first field at fault.

    The one judge of an RRSIG: proofs of possession, previous responses, `verify-skr`, trust
    anchors and every signature the HSM returns all go through here.
    """
    keys = tuple(keys)
    for problem in rrsig_field_problems(signature, signing_key, keys, owner):
        raise SignatureInvalid(problem)
    _verify_crypto(signature, signing_key, rrsig_signed_data(signature, keys, owner))


def _verify_crypto(signature: Signature, signing_key: Key, data: bytes) -> None:
    computed = key_tag(signing_key)
    public = public_key_to_crypto(signing_key.algorithm, signing_key.public_key)
    try:
        if signing_key.algorithm in _RSA_DIGESTS:
            public.verify(signature.signature_data, data, padding.PKCS1v15(), _RSA_DIGESTS[signing_key.algorithm]())
        elif signing_key.algorithm in _EC_CURVES:
            der = ecdsa_raw_to_der(signing_key.algorithm, signature.signature_data)
            public.verify(der, data, ec.ECDSA(_EC_CURVES[signing_key.algorithm][1]()))
        else:
            public.verify(signature.signature_data, data)
    except InvalidSignature:
        raise SignatureInvalid(f"signature by key tag {computed} does not verify") from None


# The RRsets an offline-KSK response signs besides DNSKEY (RFC 7344): type name -> number.
RRSET_TYPES = {"DNSKEY": TYPE_DNSKEY, "CDS": 59, "CDNSKEY": 60}


def rrset_signed_data(signature: Signature, rdatas: Iterable[bytes], owner: str) -> bytes:
    """RFC 4034 3.1.8.1 signed data for an RRset of a type in RRSET_TYPES, given its wire RDATAs."""
    rtype = RRSET_TYPES[signature.type_covered.upper()]
    prefix = struct.pack("!HBBIIIH", rtype, signature.algorithm, signature.labels, signature.original_ttl,
                         _serial_time(signature.expiration), _serial_time(signature.inception), signature.key_tag)
    data = prefix + name_to_wire(signature.signers_name or owner)
    header = name_to_wire(owner) + struct.pack("!HHI", rtype, CLASS_IN, signature.original_ttl)
    for rdata in sorted(set(rdatas)):
        data += header + struct.pack("!H", len(rdata)) + rdata
    return data


def verify_rrset_signature(signature: Signature, signing_key: Key, keys: Sequence[Key],
                           records: Sequence[tuple[int, bytes]], owner: str) -> None:
    """Raise SignatureInvalid unless `signature` by `signing_key` validates its RRset in a zone whose
    DNSKEY RRset is `keys`: the DNSKEY RRset itself (then exactly `verify_signature`), or the CDS
    or CDNSKEY RRset `records` ((TTL, wire RDATA) each; RFC 7344) of a Knot DNS / BIND 9 response.
    The same field rules as `rrsig_field_problems` apply, with Original TTL the RRset's TTL.
    """
    covered = signature.type_covered.upper()
    if covered == "DNSKEY":
        verify_signature(signature, signing_key, keys, owner)
        return
    if covered not in RRSET_TYPES:
        raise SignatureInvalid(f"Type Covered is {signature.type_covered!r}, not DNSKEY, CDS or CDNSKEY")
    ttls = sorted({ttl for ttl, _ in records})
    if ttls != [signature.original_ttl]:
        raise SignatureInvalid(f"Original TTL {signature.original_ttl} is not the {covered} RRset's TTL {ttls}")
    # Every other field rule is the DNSKEY RRset's: judge the key as published there.
    as_published = tuple(replace(key, ttl=signature.original_ttl) for key in keys)
    for problem in rrsig_field_problems(replace(signature, type_covered="DNSKEY"), signing_key, as_published, owner):
        raise SignatureInvalid(problem)
    _verify_crypto(signature, signing_key, rrset_signed_data(signature, [rdata for _, rdata in records], owner))
