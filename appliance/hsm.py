"""The HSM over PKCS#11: profiles, token lookup, login, keys, signing, identity.

The only module that imports `pkcs11`. Every PKCS#11 failure leaves here as an `HsmError`
subclass with a message an operator can act on; nothing above this module sees PKCS#11 types.

Safe defaults: the PIN is prompted for (a file or environment variable is a test/demo option
the caller must log), sessions are read-only unless key generation asks for read-write, tokens
are found by label (never by slot number) and keys by CKA_LABEL and class, and any ambiguity is
an error rather than a guess.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import pkcs11
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass, TokenFlag
from pkcs11 import exceptions as p11

from appliance import dnssec
from appliance.errors import HsmError, UsageError
from appliance.hsm_link import LinkUp
from appliance.hsm_profile import HsmProfile
from appliance.model import Key
from appliance.settings import read_text

PIN_FILE_MAX_SIZE = 1024  # a PIN file holds one line

# A prompt callback: given the text to show, returns the PIN the operator typed.
PinPrompt = Callable[[str], str]


# --- errors, one per case the operator must tell apart ----------------------------------------


class HsmModuleError(HsmError):
    """The PKCS#11 module could not be loaded or initialised."""


class HsmTokenAbsent(HsmError):
    """No initialised token matches the profile."""


class HsmTokenAmbiguous(HsmError):
    """More than one token matches the profile."""


class HsmPinIncorrect(HsmError):
    """The token refused the PIN."""


class HsmPinLocked(HsmError):
    """The user PIN is locked after too many wrong attempts."""


class HsmKeyMissing(HsmError):
    """No key with the label (and class) asked for."""


class HsmKeyAmbiguous(HsmError):
    """More than one key with the label asked for."""


class HsmKeyUnusable(HsmError):
    """The key exists but cannot make this kind of signature (wrong type or curve)."""


class HsmUnsupportedMechanism(HsmError):
    """The token does not offer the mechanism a signature needs."""


class HsmDeviceRemoved(HsmError):
    """The token went away while a session was open."""


# --- what the HSM tells us --------------------------------------------------------------------


@dataclass(frozen=True)
class HsmIdentity:
    """Printed and logged before anything is signed, so the operators know which device signs."""

    module: str
    library: str
    library_manufacturer: str
    library_version: str
    slot_id: int
    slot_description: str
    token_label: str
    token_manufacturer: str
    token_model: str
    token_serial: str
    network_link: str = ""  # what the profile's [hsm.network] brought up, if anything

    def lines(self) -> list[str]:
        return [
            f"PKCS#11 module: {self.module}",
            f"Library:        {self.library} ({self.library_manufacturer}, version {self.library_version})",
            f"Slot:           {self.slot_id} ({self.slot_description})",
            f"Token label:    {self.token_label}",
            f"Manufacturer:   {self.token_manufacturer}",
            f"Model:          {self.token_model}",
            f"Serial:         {self.token_serial}",
        ] + ([f"Network link:   {self.network_link}"] if self.network_link else [])


# CKA_EC_PARAMS: DER of the named-curve OIDs (RFC 5480, RFC 8410).
_CURVE_PARAMS = {"P-256": bytes.fromhex("06082a8648ce3d030107"), "P-384": bytes.fromhex("06052b81040022"),
                 "Ed25519": bytes.fromhex("06032b6570")}
_CURVES = {  # EC_PARAMS -> (curve, DNSSEC algorithm, bits, cryptography curve or None for EdDSA)
    _CURVE_PARAMS["P-256"]: ("P-256", dnssec.ECDSAP256SHA256, 256, ec.SECP256R1),
    _CURVE_PARAMS["P-384"]: ("P-384", dnssec.ECDSAP384SHA384, 384, ec.SECP384R1),
    _CURVE_PARAMS["Ed25519"]: ("Ed25519", dnssec.ED25519, 256, None),
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
    sensitive: bool | None = None
    extractable: bool | None = None
    _object: object = field(default=None, compare=False, repr=False)

    @property
    def algorithm(self) -> int | None:
        return self.algorithms[0] if self.algorithms else None

    def dnskey(self, flags: int = dnssec.FLAG_ZONE | dnssec.FLAG_SEP, ttl: int = 0,
               algorithm: int | None = None, key_identifier: str | None = None) -> Key:
        """The DNSKEY this key publishes (a KSK by default), as a model Key with its key tag."""
        algorithm = algorithm or self.algorithm
        if self.public_key is None or algorithm not in self.algorithms:
            raise HsmKeyUnusable(f"key {self.label!r} ({self.key_type}) has no DNSKEY form for "
                                 f"{dnssec.algorithm_name(algorithm)}")
        key = Key(key_identifier or self.label, 0, ttl, flags, 3, algorithm, self.public_key)
        return replace(key, key_tag=dnssec.key_tag(key))


# DigestInfo prefixes for CKM_RSA_PKCS (RFC 8017 section 9.2, note 1): the HSM only pads.
_DIGEST_INFO = {
    dnssec.RSASHA256: (bytes.fromhex("3031300d060960864801650304020105000420"), hashlib.sha256),
    dnssec.RSASHA512: (bytes.fromhex("3051300d060960864801650304020305000440"), hashlib.sha512),
}
_HASHED_RSA = {dnssec.RSASHA256: Mechanism.SHA256_RSA_PKCS, dnssec.RSASHA512: Mechanism.SHA512_RSA_PKCS}
_ECDSA_HASH = {dnssec.ECDSAP256SHA256: hashlib.sha256, dnssec.ECDSAP384SHA384: hashlib.sha384}


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


def error_for(exc: p11.PKCS11Error, doing: str, token: str) -> HsmError:
    """Our error for a PKCS#11 failure; `doing` says what we were doing, for the message."""
    name = type(exc).__name__
    if isinstance(exc, (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange)):
        return HsmPinIncorrect(f"wrong PIN for {token} ({name}); nothing was signed")
    if isinstance(exc, p11.PinLocked):
        return HsmPinLocked(f"the user PIN of {token} is locked; the security officer must unlock it")
    if isinstance(exc, (p11.DeviceRemoved, p11.TokenNotPresent, p11.SessionClosed, p11.SessionHandleInvalid)):
        return HsmDeviceRemoved(f"{token} was removed or its session closed while {doing} ({name}); "
                                "nothing was written: reconnect the HSM and start again")
    if isinstance(exc, (p11.MechanismInvalid, p11.MechanismParamInvalid, p11.FunctionNotSupported)):
        return HsmUnsupportedMechanism(f"{token} does not support the mechanism for {doing} ({name})")
    if isinstance(exc, p11.KeyTypeInconsistent):
        return HsmKeyUnusable(f"the key cannot be used for {doing} on {token} ({name})")
    if isinstance(exc, p11.NoSuchToken):
        return HsmTokenAbsent(f"{token} is not present")
    return HsmError(f"PKCS#11 error while {doing} on {token}: {name} {exc}".rstrip())


def _set_environment(values: Mapping[str, str]) -> dict[str, str | None]:
    """Set variables the module reads at C_Initialize; returns the caller's values to restore."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    return saved


def _restore_environment(saved: Mapping[str, str | None]) -> None:
    for name, old in saved.items():
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


class Hsm:
    """An open, logged-in session on the profile's token. Use as a context manager.

    One Hsm at a time per process: close() finalises the module, so that the next open reads
    its configuration (e.g. SOFTHSM2_CONF) afresh.
    """

    def __init__(self, profile: HsmProfile, pin_prompt: PinPrompt | None = None, writable: bool = False):
        self.profile = profile
        self._pin_prompt = pin_prompt
        self._writable = writable
        self._lib = None
        self._token = None
        self._session = None
        self._mechanisms: frozenset = frozenset()
        self._saved_environment: dict[str, str | None] = {}
        self._link: LinkUp | None = None
        self.identity: HsmIdentity | None = None

    # --- session lifecycle --------------------------------------------------------------------

    def __enter__(self) -> "Hsm":
        self.open()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def _token_name(self) -> str:
        return self.profile.token.describe()

    def open(self) -> None:
        missing = [n for n in self.profile.inherit_environment if not os.environ.get(n)]
        if missing:
            raise HsmModuleError(f"the HSM profile needs environment variable(s) {', '.join(missing)} "
                                 "set (e.g. SOFTHSM2_CONF pointing at the token directory's configuration)")
        self._saved_environment = _set_environment(self.profile.environment)
        try:
            if self.profile.network is not None:
                # Before the module loads: a network HSM's library may connect when initialised.
                self._link = LinkUp(self.profile.network)
                self._link.bring_up()
            self._load_module()
            self._token = self._find_token()
            self.identity = self._read_identity()
            if self._link is not None:
                self.identity = replace(self.identity, network_link=self._link.describe())
            self._login()
        except BaseException:
            self.close()
            raise

    def _load_module(self) -> None:
        module = self.profile.module
        if not Path(module).is_file():
            raise HsmModuleError(f"PKCS#11 module {module} does not exist")
        try:
            self._lib = pkcs11.lib(module)
        except p11.PKCS11Error as exc:
            raise HsmModuleError(f"cannot load or initialise PKCS#11 module {module}: "
                                 f"{type(exc).__name__} {exc} (check its configuration, e.g. SOFTHSM2_CONF)") from None

    def _find_token(self):
        wanted = self.profile.token
        seen, matches = [], []
        try:
            for slot in self._lib.get_slots(token_present=True):
                token = slot.get_token()
                if not token.flags & TokenFlag.TOKEN_INITIALIZED:
                    continue  # SoftHSM always offers one empty slot; it is not a candidate
                seen.append(token.label)
                if (token.label == wanted.label
                        and wanted.manufacturer in (None, token.manufacturer_id)
                        and wanted.model in (None, token.model)
                        and wanted.serial in (None, token.serial.decode("ascii", "replace"))):
                    matches.append(token)
        except p11.PKCS11Error as exc:
            raise error_for(exc, "listing tokens", self._token_name) from None
        if not matches:
            present = ", ".join(repr(label) for label in seen) or "none"
            raise HsmTokenAbsent(f"{self._token_name} is not present (initialised tokens present: {present}); "
                                 "connect the HSM or check the profile")
        if len(matches) > 1:
            raise HsmTokenAmbiguous(f"{len(matches)} tokens match {self._token_name}; "
                                    "add its serial (pkcs11:token=...;serial=...) to the profile")
        return matches[0]

    def _read_identity(self) -> HsmIdentity:
        lib, token, slot = self._lib, self._token, self._token.slot
        try:
            self._mechanisms = frozenset(slot.get_mechanisms())
        except p11.PKCS11Error as exc:
            raise error_for(exc, "reading the mechanism list", self._token_name) from None
        major, minor = lib.library_version
        return HsmIdentity(
            module=self.profile.module,
            library=lib.library_description,
            library_manufacturer=lib.manufacturer_id,
            library_version=f"{major}.{minor}",
            slot_id=slot.slot_id,
            slot_description=slot.slot_description,
            token_label=token.label,
            token_manufacturer=token.manufacturer_id,
            token_model=token.model,
            token_serial=token.serial.decode("ascii", "replace"),
        )

    def _read_pin(self) -> str:
        profile = self.profile
        if profile.pin_file is not None:
            return read_text(profile.pin_file, "PIN file", PIN_FILE_MAX_SIZE).rstrip("\r\n")
        if profile.pin_env is not None:
            pin = os.environ.get(profile.pin_env)
            if pin is None:
                raise UsageError(f"environment variable {profile.pin_env} (the HSM PIN) is not set")
            return pin
        if self._pin_prompt is None:
            raise UsageError("the HSM profile prompts for the PIN but no prompt is available")
        warning = " (FINAL TRY before the PIN locks)" if self._token.flags & TokenFlag.USER_PIN_FINAL_TRY else ""
        return self._pin_prompt(f"User PIN for token {self._token.label!r} "
                                f"(serial {self.identity.token_serial}){warning}: ")

    def _login(self) -> None:
        flags = self._token.flags
        if flags & TokenFlag.USER_PIN_LOCKED:
            raise HsmPinLocked(f"the user PIN of {self._token_name} is locked; the security officer must unlock it")
        if not flags & TokenFlag.USER_PIN_INITIALIZED:
            raise HsmError(f"{self._token_name} has no user PIN set")
        pin = self._read_pin()
        try:
            self._session = self._token.open(rw=self._writable, user_pin=pin)
        except p11.PKCS11Error as exc:
            raise error_for(exc, "logging in", self._token_name) from None

    def close(self) -> None:
        """Log out, close the session and finalise the module; safe to call twice."""
        session, self._session = self._session, None
        lib, self._lib = self._lib, None
        try:
            if session is not None:
                session.close()
        except p11.PKCS11Error:
            pass  # the device may be gone; there is nothing left to release on it
        finally:
            try:
                if lib is not None:
                    lib.finalize()
            except p11.PKCS11Error:
                pass
            _restore_environment(self._saved_environment)
            self._saved_environment = {}
            link, self._link = self._link, None
            if link is not None:
                link.take_down()

    def _require_session(self):
        if self._session is None:
            raise HsmError("the HSM session is not open")
        return self._session

    def _failure(self, exc: p11.PKCS11Error, doing: str) -> HsmError:
        """Our error for a failure inside a session, checking first whether the token vanished."""
        if not self._token_present():
            return HsmDeviceRemoved(f"{self._token_name} went away while {doing} "
                                    f"({type(exc).__name__}); reconnect the HSM and start again")
        return error_for(exc, doing, self._token_name)

    def _token_present(self) -> bool:
        # Removal shows up as assorted errors (SoftHSM: an invalid handle); asking again is the test.
        try:
            return self._token.slot.get_token().serial == self._token.serial
        except p11.PKCS11Error:
            return False

    # --- keys ---------------------------------------------------------------------------------

    def keys(self) -> list[HsmKey]:
        """Every private and public key on the token, private keys first, each sorted by label."""
        session = self._require_session()
        try:
            found = []
            for object_class in (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY):
                objects = list(session.get_objects({Attribute.CLASS: object_class}))
                found += sorted((self._describe(o) for o in objects), key=lambda k: (k.label, k.id))
            return found
        except p11.PKCS11Error as exc:
            raise self._failure(exc, "listing keys") from None

    def find_key(self, label: str) -> HsmKey:
        """The private key with this CKA_LABEL; none or several is an error."""
        session = self._require_session()
        try:
            objects = list(session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: label}))
            if len(objects) == 1:
                return self._describe(objects[0])
            present = sorted({o.label for o in session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY})})
        except p11.PKCS11Error as exc:
            raise self._failure(exc, f"looking for key {label!r}") from None
        if not objects:
            raise HsmKeyMissing(f"no private key labelled {label!r} on {self._token_name} "
                                f"(private keys present: {', '.join(map(repr, present)) or 'none'})")
        raise HsmKeyAmbiguous(f"{len(objects)} private keys are labelled {label!r} on {self._token_name}; "
                              "labels must be unique")

    def _describe(self, obj) -> HsmKey:
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
                point = self._ec_point(obj, raw_length)
                if point is not None:
                    public_key = point[1:] if crypto_curve else point  # ECDSA: drop the 0x04 prefix
                    if crypto_curve:
                        ec.EllipticCurvePublicKey.from_encoded_point(crypto_curve(), point)  # validates
                    else:
                        ed25519.Ed25519PublicKey.from_public_bytes(point)
        sensitive = extractable = None
        if object_class == "private":
            sensitive, extractable = bool(obj[Attribute.SENSITIVE]), bool(obj[Attribute.EXTRACTABLE])
        return HsmKey(obj.label, bytes(obj[Attribute.ID]), object_class,
                      _KEY_TYPE_NAMES.get(key_type, getattr(key_type, "name", str(key_type))),
                      size, curve, algorithms, public_key, sensitive, extractable, obj)

    def _ec_point(self, obj, raw_length: int) -> bytes | None:
        """The raw EC point; a private key's comes from its public partner (same label and id)."""
        if obj.object_class == ObjectClass.PUBLIC_KEY:
            return _point_bytes(obj[Attribute.EC_POINT], raw_length)
        partners = list(self._session.get_objects({
            Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.LABEL: obj.label, Attribute.ID: obj[Attribute.ID],
        }))
        if len(partners) > 1:
            raise HsmKeyAmbiguous(f"{len(partners)} public keys are labelled {obj.label!r}; labels must be unique")
        return _point_bytes(partners[0][Attribute.EC_POINT], raw_length) if partners else None

    # --- signing ------------------------------------------------------------------------------

    def _need(self, mechanism: Mechanism, purpose: str) -> None:
        if mechanism not in self._mechanisms:
            raise HsmUnsupportedMechanism(f"{self._token_name} does not offer CKM_{mechanism.name}, "
                                          f"needed for {purpose}")

    def sign(self, key: str | HsmKey, data: bytes, algorithm: int) -> bytes:
        """The DNSSEC signature field for `data` (RRSIG signed data) by a private key on the token."""
        self._require_session()
        if isinstance(key, str):
            key = self.find_key(key)
        if key.object_class != "private":
            raise HsmKeyUnusable(f"key {key.label!r} is a public key and cannot sign")
        if algorithm not in key.algorithms:
            raise HsmKeyUnusable(f"key {key.label!r} ({key.key_type} {key.curve or key.size}) cannot make "
                                 f"{dnssec.algorithm_name(algorithm)} signatures")
        name = dnssec.algorithm_name(algorithm)
        if algorithm in _HASHED_RSA:
            if self.profile.rsa_mechanism == "RSA_PKCS":
                # For HSMs without the hashed mechanism: we hash, the HSM pads and signs.
                prefix, hash_function = _DIGEST_INFO[algorithm]
                mechanism, payload = Mechanism.RSA_PKCS, prefix + hash_function(data).digest()
            else:
                mechanism, payload = _HASHED_RSA[algorithm], data
        elif algorithm in _ECDSA_HASH:
            # SoftHSM lacks CKM_ECDSA_SHA256/384, so we hash; the token returns r||s, DNSSEC's form.
            mechanism, payload = Mechanism.ECDSA, _ECDSA_HASH[algorithm](data).digest()
        elif algorithm == dnssec.ED25519:
            mechanism, payload = Mechanism.EDDSA, data
        else:
            raise HsmUnsupportedMechanism(f"signing {name} is not supported")
        hint = " (or set [hsm.options] rsa_mechanism to one it has)" if algorithm in _HASHED_RSA else ""
        self._need(mechanism, f"{name} signatures{hint}")
        try:
            return bytes(key._object.sign(payload, mechanism=mechanism))
        except p11.PKCS11Error as exc:
            raise self._failure(exc, f"signing with key {key.label!r}") from None

    # --- key generation -----------------------------------------------------------------------

    def generate_key(self, label: str, algorithm: int, avoid_key_tags: frozenset[int] = frozenset(),
                     attempts: int = 10) -> HsmKey:
        """A new KSK pair on the token: RSA-2048 (8), ECDSA P-256/P-384 (13/14) or Ed25519 (15).

        The private key is a token object, sensitive, never extractable and sign-only. Its key tag,
        plain or revoked, must not be one of `avoid_key_tags` or another key's on the token, so
        tags stay unambiguous in requests, responses and logs; a clashing pair is destroyed.
        """
        session = self._require_session()
        if not self._writable:
            raise HsmError("key generation needs a read-write session (Hsm(..., writable=True))")
        try:
            clash = list(session.get_objects({Attribute.LABEL: label}))
        except p11.PKCS11Error as exc:
            raise self._failure(exc, "checking labels") from None
        if clash:
            raise HsmKeyAmbiguous(f"a key labelled {label!r} already exists on {self._token_name}")
        taken = set(avoid_key_tags)
        for existing in self.keys():
            for alg in existing.algorithms[:1]:
                if existing.public_key is not None:
                    taken |= _ksk_tags(existing.dnskey(algorithm=alg))
        for _ in range(attempts):
            public, private = self._generate_pair(label, algorithm)
            try:
                key = self._describe(private)
                if not (key.sensitive and not key.extractable
                        and private[Attribute.ALWAYS_SENSITIVE] and private[Attribute.NEVER_EXTRACTABLE]):
                    raise HsmError(f"{self._token_name} did not keep the new key sensitive and non-extractable")
                if not _ksk_tags(key.dnskey(algorithm=algorithm)) & taken:
                    return key
            except BaseException:
                self._destroy(public, private)  # never leave a half-checked key behind
                raise
            self._destroy(public, private)
        raise HsmError(f"no key without a clashing key tag after {attempts} attempts")

    def _generate_pair(self, label: str, algorithm: int):
        key_id = secrets.token_bytes(8)
        private_template = {Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.PRIVATE: True,
                            Attribute.SIGN: True, Attribute.DECRYPT: False, Attribute.UNWRAP: False,
                            Attribute.DERIVE: False}
        public_template = {Attribute.VERIFY: True, Attribute.ENCRYPT: False, Attribute.WRAP: False}
        common = dict(id=key_id, label=label, store=True, capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
                      public_template=public_template, private_template=private_template)
        curves = {dnssec.ECDSAP256SHA256: ("P-256", KeyType.EC, Mechanism.EC_KEY_PAIR_GEN),
                  dnssec.ECDSAP384SHA384: ("P-384", KeyType.EC, Mechanism.EC_KEY_PAIR_GEN),
                  dnssec.ED25519: ("Ed25519", KeyType.EC_EDWARDS, Mechanism.EC_EDWARDS_KEY_PAIR_GEN)}
        try:
            if algorithm in (dnssec.RSASHA256, dnssec.RSASHA512):
                self._need(Mechanism.RSA_PKCS_KEY_PAIR_GEN, "RSA key generation")
                return self._session.generate_keypair(KeyType.RSA, 2048, **common)
            if algorithm in curves:
                curve, key_type, mechanism = curves[algorithm]
                self._need(mechanism, f"{curve} key generation")
                params = self._session.create_domain_parameters(
                    key_type, {Attribute.EC_PARAMS: _CURVE_PARAMS[curve]}, local=True)
                return params.generate_keypair(mechanism=mechanism, **common)
        except p11.PKCS11Error as exc:
            raise self._failure(exc, f"generating key {label!r}") from None
        raise HsmUnsupportedMechanism(f"generating {dnssec.algorithm_name(algorithm)} keys is not supported")

    def _destroy(self, *objects) -> None:
        try:
            for obj in objects:
                obj.destroy()
        except p11.PKCS11Error as exc:
            raise self._failure(exc, "destroying a generated key") from None


def _ksk_tags(key: Key) -> set[int]:
    """The tags a KSK goes by: as published, and with the REVOKE bit set."""
    revoked = Key(key.key_identifier, 0, key.ttl, key.flags | dnssec.FLAG_REVOKE, key.protocol,
                  key.algorithm, key.public_key)
    return {key.key_tag, dnssec.key_tag(revoked)}
