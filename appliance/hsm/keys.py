"""Key objects on the token and their attributes: listing, finding by CKA_LABEL, and reading each
key's type, size or curve, and public half as a DNSKEY public-key field (RFC 3110, 6605, 8080).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from pkcs11 import Attribute, KeyType, ObjectClass
from pkcs11 import exceptions as p11

from appliance import dnssec
from appliance.errors import HsmError
from appliance.hsm.errors import HsmKeyAmbiguous, HsmKeyMissing, HsmKeyUnusable
from appliance.model import Key

if TYPE_CHECKING:
    from appliance.hsm.session import Hsm

# CKA_EC_PARAMS: DER of the named-curve OIDs (RFC 5480, RFC 8410).
CURVE_PARAMS = {"P-256": bytes.fromhex("06082a8648ce3d030107"), "P-384": bytes.fromhex("06052b81040022"),
                "Ed25519": bytes.fromhex("06032b6570")}
_CURVES = {  # EC_PARAMS -> (curve, DNSSEC algorithm, bits, cryptography curve or None for EdDSA)
    CURVE_PARAMS["P-256"]: ("P-256", dnssec.ECDSAP256SHA256, 256, ec.SECP256R1),
    CURVE_PARAMS["P-384"]: ("P-384", dnssec.ECDSAP384SHA384, 384, ec.SECP384R1),
    CURVE_PARAMS["Ed25519"]: ("Ed25519", dnssec.ED25519, 256, None),
    # PKCS#11 3.0 also allows the curve's name as a PrintableString; SoftHSM stores generated keys so.
    bytes.fromhex("130c656477617264733235353139"): ("Ed25519", dnssec.ED25519, 256, None),
}
_KEY_TYPE_NAMES = {KeyType.RSA: "RSA", KeyType.EC: "ECDSA", KeyType.EC_EDWARDS: "EdDSA"}


@dataclass(frozen=True)
class HsmKey:
    """One key object on the token, with its public half as a DNSKEY public-key field."""

    label: str
    id: bytes
    object_class: str  # "private" or "public"
    key_type: str  # "RSA", "ECDSA", "EdDSA", or the PKCS#11 name of anything else
    size: int | None
    curve: str | None
    algorithms: tuple[int, ...]  # DNSSEC algorithms this key can sign (first = the usual one)
    public_key: bytes | None
    sensitive: bool | None = None  # private keys: CKA_SENSITIVE, CKA_EXTRACTABLE, and their histories
    extractable: bool | None = None
    always_sensitive: bool | None = None
    never_extractable: bool | None = None
    _object: object = field(default=None, compare=False, repr=False)

    @property
    def algorithm(self) -> int | None:
        return self.algorithms[0] if self.algorithms else None

    def exposure(self) -> list[str]:
        """For a private key, every way its value can be read out of the token now (PKCS#11 2.40
        section 4.9: CKA_SENSITIVE false, CKA_EXTRACTABLE true); [] for one that cannot, or a public key."""
        if self.object_class != "private":
            return []
        return [words for flag, bad, words in ((self.sensitive, False, "not sensitive (CKA_SENSITIVE false)"),
                                               (self.extractable, True, "extractable (CKA_EXTRACTABLE true)"))
                if flag is bad]

    def history(self) -> list[str]:
        """For a private key, whether it was ever outside the token's protection: imported, or once
        readable (CKA_ALWAYS_SENSITIVE false, CKA_NEVER_EXTRACTABLE false); shown, not refused."""
        if self.object_class != "private":
            return []
        return [words for flag, words in ((self.always_sensitive, "not always sensitive (CKA_ALWAYS_SENSITIVE false)"),
                                          (self.never_extractable, "once extractable (CKA_NEVER_EXTRACTABLE false)"))
                if flag is False]

    @property
    def protection(self) -> str:
        """One word for a table: 'kept' (never readable out of the token), 'EXPOSED' (readable now),
        'once-out' (imported or once readable), '-' (a public key)."""
        if self.object_class != "private":
            return "-"
        return "EXPOSED" if self.exposure() else "once-out" if self.history() else "kept"

    def dnskey(self, flags: int = dnssec.FLAG_ZONE | dnssec.FLAG_SEP, ttl: int = 0,
               algorithm: int | None = None, key_identifier: str | None = None) -> Key:
        """The DNSKEY this key publishes (a KSK by default), as a model Key with its key tag."""
        algorithm = algorithm or self.algorithm
        if self.public_key is None or algorithm not in self.algorithms:
            raise HsmKeyUnusable(f"key {self.label!r} ({self.key_type}) has no DNSKEY form for "
                                 f"{dnssec.algorithm_name(algorithm)}")
        key = Key(key_identifier or self.label, 0, ttl, flags, 3, algorithm, self.public_key)
        return replace(key, key_tag=dnssec.key_tag(key))


def _point_bytes(value: bytes, raw_length: int) -> bytes:
    """The raw point from CKA_EC_POINT: the spec wraps it in a DER OCTET STRING, some tokens
    (SoftHSM for imported Ed25519 keys) store it bare; the expected length tells them apart."""
    if len(value) == raw_length:
        return value
    if len(value) < 2 or value[0] != 0x04:
        raise HsmError("token returned an EC point that is neither raw nor a DER OCTET STRING")
    length, offset = value[1], 2
    if length & 0x80:
        count = length & 0x7F
        length, offset = int.from_bytes(value[2 : 2 + count], "big"), 2 + count
    if offset + length != len(value) or length != raw_length:
        raise HsmError("token returned an EC point of the wrong length")
    return value[offset:]


def list_keys(hsm: Hsm) -> list[HsmKey]:
    """Every private and public key on the token, private keys first, each sorted by label."""
    session = hsm.require_session()
    try:
        found = []
        for object_class in (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY):
            objects = list(session.get_objects({Attribute.CLASS: object_class}))
            found += sorted((describe(session, o) for o in objects), key=lambda k: (k.label, k.id))
        return found
    except p11.PKCS11Error as exc:
        raise hsm.failure(exc, "listing keys") from None


def find_key(hsm: Hsm, label: str) -> HsmKey:
    """The private key with this CKA_LABEL; none (HsmKeyMissing) or several (HsmKeyAmbiguous) is an error."""
    session = hsm.require_session()
    try:
        objects = list(session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: label}))
        if len(objects) == 1:
            return describe(session, objects[0])
        present = sorted({o.label for o in session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY})})
    except p11.PKCS11Error as exc:
        raise hsm.failure(exc, f"looking for key {label!r}") from None
    if not objects:
        raise HsmKeyMissing(f"no private key labelled {label!r} on {hsm.token_name} "
                            f"(private keys present: {', '.join(map(repr, present)) or 'none'})")
    raise HsmKeyAmbiguous(f"{len(objects)} private keys are labelled {label!r} on {hsm.token_name}; "
                          "labels must be unique")


def describe(session, obj) -> HsmKey:
    """The HsmKey for a `pkcs11` key object of `session`; raises PKCS11Error as python-pkcs11 does."""
    object_class = "private" if obj.object_class == ObjectClass.PRIVATE_KEY else "public"
    key_type = obj.key_type
    size = curve = public_key = None
    algorithms: tuple[int, ...] = ()
    if key_type == KeyType.RSA:
        # CKA_MODULUS and CKA_PUBLIC_EXPONENT are public attributes, readable on private keys too.
        modulus = int.from_bytes(obj[Attribute.MODULUS], "big")
        exponent = int.from_bytes(obj[Attribute.PUBLIC_EXPONENT], "big")
        public_key = dnssec.dnskey_public_key(rsa.RSAPublicNumbers(exponent, modulus).public_key())
        size, algorithms = modulus.bit_length(), (dnssec.RSASHA256, dnssec.RSASHA512)
    elif key_type in (KeyType.EC, KeyType.EC_EDWARDS):
        params = obj[Attribute.EC_PARAMS]
        if params in _CURVES:
            curve, algorithm, size, crypto_curve = _CURVES[params]
            algorithms = (algorithm,)
            raw_length = size // 8 if crypto_curve is None else 1 + 2 * (size // 8)
            point = _ec_point(session, obj, raw_length)
            if point is not None:
                public_key = point[1:] if crypto_curve else point  # ECDSA: drop the 0x04 prefix
                if crypto_curve:
                    ec.EllipticCurvePublicKey.from_encoded_point(crypto_curve(), point)  # validates
                else:
                    ed25519.Ed25519PublicKey.from_public_bytes(point)
    flags: tuple[bool | None, ...] = (None,) * 4
    if object_class == "private":
        flags = tuple(bool(obj[a]) for a in (Attribute.SENSITIVE, Attribute.EXTRACTABLE,
                                             Attribute.ALWAYS_SENSITIVE, Attribute.NEVER_EXTRACTABLE))
    return HsmKey(obj.label, bytes(obj[Attribute.ID]), object_class,
                  _KEY_TYPE_NAMES.get(key_type, getattr(key_type, "name", str(key_type))),
                  size, curve, algorithms, public_key, *flags, obj)


def _ec_point(session, obj, raw_length: int) -> bytes | None:
    """The raw EC point; a private key's comes from its public partner (same label and id)."""
    if obj.object_class == ObjectClass.PUBLIC_KEY:
        return _point_bytes(obj[Attribute.EC_POINT], raw_length)
    partners = list(session.get_objects({
        Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.LABEL: obj.label, Attribute.ID: obj[Attribute.ID],
    }))
    if len(partners) > 1:
        raise HsmKeyAmbiguous(f"{len(partners)} public keys are labelled {obj.label!r}; labels must be unique")
    return _point_bytes(partners[0][Attribute.EC_POINT], raw_length) if partners else None
