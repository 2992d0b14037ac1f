"""Key generation on the token: a new KSK pair that never leaves it, with a key tag of its own."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag
from pkcs11 import exceptions as p11

from appliance import dnssec
from appliance.errors import HsmError
from appliance.hsm.errors import HsmKeyAmbiguous, HsmUnsupportedMechanism
from appliance.hsm.keys import CURVE_PARAMS, HsmKey, describe, list_keys
from appliance.hsm.mechanisms import need
from appliance.model import Key

if TYPE_CHECKING:
    from appliance.hsm.session import Hsm


def generate_key(hsm: Hsm, label: str, algorithm: int, avoid_key_tags: frozenset[int] = frozenset(),
                 attempts: int = 10) -> HsmKey:
    """A new KSK pair on the token: RSA-2048 (8), ECDSA P-256/P-384 (13/14) or Ed25519 (15).

    The private key is a token object, sensitive, never extractable and sign-only. Its key tag,
    plain or revoked, must not be one of `avoid_key_tags` or another key's on the token, so
    tags stay unambiguous in requests, responses and logs; a clashing pair is destroyed.
    """
    session = hsm.require_session()
    if not hsm.writable:
        raise HsmError("key generation needs a read-write session (Hsm(..., writable=True))")
    try:
        clash = list(session.get_objects({Attribute.LABEL: label}))
    except p11.PKCS11Error as exc:
        raise hsm.failure(exc, "checking labels") from None
    if clash:
        raise HsmKeyAmbiguous(f"a key labelled {label!r} already exists on {hsm.token_name}")
    taken = set(avoid_key_tags)
    for existing in list_keys(hsm):
        for alg in existing.algorithms[:1]:
            if existing.public_key is not None:
                taken |= _ksk_tags(existing.dnskey(algorithm=alg))
    for _ in range(attempts):
        public, private = _generate_pair(hsm, label, algorithm)
        try:
            key = describe(session, private)
            if not (key.sensitive and not key.extractable
                    and private[Attribute.ALWAYS_SENSITIVE] and private[Attribute.NEVER_EXTRACTABLE]):
                raise HsmError(f"{hsm.token_name} did not keep the new key sensitive and non-extractable")
            if not _ksk_tags(key.dnskey(algorithm=algorithm)) & taken:
                return key
        except BaseException:
            _destroy(hsm, public, private)  # never leave a half-checked key behind
            raise
        _destroy(hsm, public, private)
    raise HsmError(f"no key without a clashing key tag after {attempts} attempts")


def _generate_pair(hsm: Hsm, label: str, algorithm: int):
    key_id = os.urandom(8)  # what secrets.token_bytes returns, without loading random, hmac and hashlib
    private_template = {Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.PRIVATE: True,
                        Attribute.SIGN: True, Attribute.DECRYPT: False, Attribute.UNWRAP: False,
                        Attribute.DERIVE: False}
    public_template = {Attribute.VERIFY: True, Attribute.ENCRYPT: False, Attribute.WRAP: False}
    common = dict(id=key_id, label=label, store=True, capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
                  public_template=public_template, private_template=private_template)
    curves = {dnssec.ECDSAP256SHA256: ("P-256", KeyType.EC, Mechanism.EC_KEY_PAIR_GEN),
              dnssec.ECDSAP384SHA384: ("P-384", KeyType.EC, Mechanism.EC_KEY_PAIR_GEN),
              dnssec.ED25519: ("Ed25519", KeyType.EC_EDWARDS, Mechanism.EC_EDWARDS_KEY_PAIR_GEN)}
    session = hsm.require_session()
    try:
        if algorithm in (dnssec.RSASHA256, dnssec.RSASHA512):
            need(hsm, Mechanism.RSA_PKCS_KEY_PAIR_GEN, "RSA key generation")
            return session.generate_keypair(KeyType.RSA, 2048, **common)
        if algorithm in curves:
            curve, key_type, mechanism = curves[algorithm]
            need(hsm, mechanism, f"{curve} key generation")
            params = session.create_domain_parameters(key_type, {Attribute.EC_PARAMS: CURVE_PARAMS[curve]}, local=True)
            return params.generate_keypair(mechanism=mechanism, **common)
    except p11.PKCS11Error as exc:
        raise hsm.failure(exc, f"generating key {label!r}") from None
    raise HsmUnsupportedMechanism(f"generating {dnssec.algorithm_name(algorithm)} keys is not supported")


def _destroy(hsm: Hsm, *objects) -> None:
    try:
        for obj in objects:
            obj.destroy()
    except p11.PKCS11Error as exc:
        raise hsm.failure(exc, "destroying a generated key") from None


def _ksk_tags(key: Key) -> set[int]:
    """The tags a KSK goes by: as published, and with the REVOKE bit set."""
    revoked = Key(key.key_identifier, 0, key.ttl, key.flags | dnssec.FLAG_REVOKE, key.protocol,
                  key.algorithm, key.public_key)
    return {key.key_tag, dnssec.key_tag(revoked)}
