"""The plain data every room passes around: requests, responses, bundles, keys, signatures.

Frozen dataclasses, built by `appliance.formats` from ICANN's XML or from the Knot DNS / BIND 9
text files ("KeySigningRequest 1.0"), and turned back into either by it.
Times are timezone-aware UTC datetimes; durations are timedeltas; public keys and signatures
are raw bytes (the DNSKEY public-key field and the RRSIG signature field).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class AlgorithmPolicy:
    """One <SignatureAlgorithm>: an algorithm number and its RSA or ECDSA parameters."""

    algorithm: int
    rsa_size: int | None = None
    rsa_exponent: int | None = None
    ecdsa_size: int | None = None


@dataclass(frozen=True)
class KeyPolicy:
    """A <ZSK> or <KSK> policy block."""

    publish_safety: timedelta
    retire_safety: timedelta
    max_signature_validity: timedelta
    min_signature_validity: timedelta
    max_validity_overlap: timedelta
    min_validity_overlap: timedelta
    algorithms: tuple[AlgorithmPolicy, ...]


@dataclass(frozen=True)
class Key:
    """A <Key>: one DNSKEY record and the identifier the request gave it."""

    key_identifier: str
    key_tag: int
    ttl: int
    flags: int
    protocol: int
    algorithm: int
    public_key: bytes


@dataclass(frozen=True)
class Signature:
    """A <Signature>: one RRSIG over the bundle's DNSKEY RRset."""

    key_identifier: str
    ttl: int
    type_covered: str
    algorithm: int
    labels: int
    original_ttl: int
    expiration: datetime
    inception: datetime
    key_tag: int
    signers_name: str
    signature_data: bytes


@dataclass(frozen=True)
class Record:
    """A record a text response carries beside its DNSKEYs: a CDS or CDNSKEY (RFC 7344), wire RDATA."""

    rtype: str  # "CDS" or "CDNSKEY"
    ttl: int
    rdata: bytes


@dataclass(frozen=True)
class Bundle:
    """A <RequestBundle> or <ResponseBundle>."""

    id: str
    inception: datetime
    expiration: datetime
    keys: tuple[Key, ...]
    signatures: tuple[Signature, ...]
    signers: tuple[str, ...] = ()  # <Signer keyIdentifier=...>, requests only
    records: tuple[Record, ...] = ()  # CDS/CDNSKEY of a text response; their RRSIGs are in `signatures`

    @property
    def validity(self) -> timedelta:
        return self.expiration - self.inception


@dataclass(frozen=True)
class Request:
    """A Key Signing Request: the ZSK operator's bundles with proofs of possession."""

    id: str
    serial: int
    domain: str
    zsk_policy: KeyPolicy | None  # None in the text dialects, which carry no policy
    bundles: tuple[Bundle, ...]
    timestamp: datetime | None = None
    dialect: str = "icann"  # "icann" (XML), "knot" or "bind" (text "1.0"); a response is written in it


@dataclass(frozen=True)
class Response:
    """A Signed Key Response: the bundles with KSKs added and signed by them."""

    id: str
    serial: int
    domain: str
    ksk_policy: KeyPolicy | None  # None in the text dialects
    zsk_policy: KeyPolicy | None
    bundles: tuple[Bundle, ...]
    timestamp: datetime | None = None
    dialect: str = "icann"


@dataclass(frozen=True)
class Violation:
    """One failed check: its stable ID and a message that says what, where and why."""

    check: str
    message: str

    def __str__(self) -> str:
        return f"{self.check}: {self.message}"


@dataclass(frozen=True)
class Verdict:
    """The outcome of running a list of checks; `violations` empty means accepted."""

    checks_run: tuple[str, ...]
    violations: tuple[Violation, ...] = field(default=())

    @property
    def valid(self) -> bool:
        return not self.violations

    def failed(self, check: str) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.check == check)
