"""Signing on the token: the PKCS#11 mechanism for each DNSSEC algorithm, and the signature itself.

RSA (8, 10) uses CKM_SHA256/512_RSA_PKCS, or CKM_RSA_PKCS over a DigestInfo we build when the
profile says the HSM lacks the hashed mechanism; ECDSA (13, 14) hashes here and uses CKM_ECDSA,
whose r||s output is DNSSEC's form (RFC 6605); Ed25519 (15) uses CKM_EDDSA (RFC 8080).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import hashes
from pkcs11 import Mechanism
from pkcs11 import exceptions as p11

from appliance import dnssec
from appliance.digest import hash_bytes
from appliance.hsm.errors import HsmKeyUnusable, HsmUnsupportedMechanism
from appliance.hsm.keys import HsmKey, find_key

if TYPE_CHECKING:
    from appliance.hsm.session import Hsm

# DigestInfo prefixes for CKM_RSA_PKCS (RFC 8017 section 9.2, note 1): the HSM only pads.
# Digests by cryptography's hashes (appliance.digest.hash_bytes), loaded already for the checks.
_DIGEST_INFO = {
    dnssec.RSASHA256: (bytes.fromhex("3031300d060960864801650304020105000420"), hashes.SHA256()),
    dnssec.RSASHA512: (bytes.fromhex("3051300d060960864801650304020305000440"), hashes.SHA512()),
}
_HASHED_RSA = {dnssec.RSASHA256: Mechanism.SHA256_RSA_PKCS, dnssec.RSASHA512: Mechanism.SHA512_RSA_PKCS}
_ECDSA_HASH = {dnssec.ECDSAP256SHA256: hashes.SHA256(), dnssec.ECDSAP384SHA384: hashes.SHA384()}


def need(hsm: Hsm, mechanism: Mechanism, purpose: str) -> None:
    """Raises HsmUnsupportedMechanism unless the token's slot offers `mechanism`."""
    if mechanism not in hsm.mechanisms:
        raise HsmUnsupportedMechanism(f"{hsm.token_name} does not offer CKM_{mechanism.name}, "
                                      f"needed for {purpose}")


def sign(hsm: Hsm, key: str | HsmKey, data: bytes, algorithm: int) -> bytes:
    """The DNSSEC signature field for `data` (RRSIG signed data) by a private key on the token."""
    hsm.require_session()
    if isinstance(key, str):
        key = find_key(hsm, key)
    if key.object_class != "private":
        raise HsmKeyUnusable(f"key {key.label!r} is a public key and cannot sign")
    if algorithm not in key.algorithms:
        raise HsmKeyUnusable(f"key {key.label!r} ({key.key_type} {key.curve or key.size}) cannot make "
                             f"{dnssec.algorithm_name(algorithm)} signatures")
    name = dnssec.algorithm_name(algorithm)
    if algorithm in _HASHED_RSA:
        if hsm.profile.rsa_mechanism == "RSA_PKCS":
            # For HSMs without the hashed mechanism: we hash, the HSM pads and signs.
            prefix, hash_algorithm = _DIGEST_INFO[algorithm]
            mechanism, payload = Mechanism.RSA_PKCS, prefix + hash_bytes(hash_algorithm, data)
        else:
            mechanism, payload = _HASHED_RSA[algorithm], data
    elif algorithm in _ECDSA_HASH:
        # SoftHSM lacks CKM_ECDSA_SHA256/384, so we hash; the token returns r||s, DNSSEC's form.
        mechanism, payload = Mechanism.ECDSA, hash_bytes(_ECDSA_HASH[algorithm], data)
    elif algorithm == dnssec.ED25519:
        mechanism, payload = Mechanism.EDDSA, data
    else:
        raise HsmUnsupportedMechanism(f"signing {name} is not supported")
    hint = " (or set [hsm.options] rsa_mechanism to one it has)" if algorithm in _HASHED_RSA else ""
    need(hsm, mechanism, f"{name} signatures{hint}")
    try:
        return bytes(key._object.sign(payload, mechanism=mechanism))
    except p11.PKCS11Error as exc:
        raise hsm.failure(exc, f"signing with key {key.label!r}") from None
