"""Trust anchors: DNSKEY/DS lines (as in root-ksk-dnskeys.txt) and RFC 7958 XML (root-anchors.xml).

A TrustAnchor is what a verifier may trust: a key digest (a DS), and the DNSKEY itself when the
file gives it. `verify-skr --trust-anchor` accepts a bundle's KSK when `anchor.matches(key)`;
`ceremony keys export` writes the KSKs it holds with `write_trust_anchor_xml`.
Errors are FormatError with check "TRUST-ANCHOR", naming the line (and element, for XML).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from appliance import dnssec
from appliance.errors import FormatError
from appliance.formats import timefmt
from appliance.formats.elements import KSKM_SKR, Writer, base64_text
from appliance.formats.xmlread import Element, parse_integer
from appliance.formats.xmlsafe import DEFAULT_MAX_SIZE, parse_xml
from appliance.model import Key

TRUST_ANCHOR = "TRUST-ANCHOR"
DIGEST_SHA1, DIGEST_SHA256, DIGEST_SHA384 = 1, 2, 4
_DIGESTS = {DIGEST_SHA1: hashlib.sha1, DIGEST_SHA256: hashlib.sha256, DIGEST_SHA384: hashlib.sha384}
# root-anchors.xml: declaration, one element per line, no indentation, no final newline.
IANA_LAYOUT = replace(KSKM_SKR, final_newline=False)
_HEX = re.compile(r"[0-9A-Fa-f]+", re.ASCII)


@dataclass(frozen=True)
class TrustAnchor:
    """One trusted key, by digest (and by value when the source gave the DNSKEY)."""

    zone: str
    key_tag: int
    algorithm: int
    digest_type: int
    digest: bytes
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    key: Key | None = None  # the DNSKEY, from DNSKEY lines or RFC 9718 <PublicKey>
    id: str | None = None  # RFC 7958 KeyDigest id (IANA's key label, e.g. "Kjqmt7v")

    def matches(self, key: Key, owner: str = ".") -> bool:
        """Whether `key` is this anchor's key: same owner, tag, algorithm and digest."""
        if dnssec.name_to_wire(owner) != dnssec.name_to_wire(self.zone):
            return False
        if (key.algorithm, dnssec.key_tag(key)) != (self.algorithm, self.key_tag):
            return False
        if self.key is not None and dnssec.dnskey_rdata(self.key) != dnssec.dnskey_rdata(key):
            return False
        return ds_digest(key, self.digest_type, owner) == self.digest

    def valid_at(self, moment: datetime) -> bool:
        """validFrom <= moment < validUntil, each bound only if given."""
        if self.valid_from is not None and moment < self.valid_from:
            return False
        return self.valid_until is None or moment < self.valid_until


def ds_digest(key: Key, digest_type: int, owner: str = ".") -> bytes:
    """RFC 4034 5.1.4 digest of owner name and DNSKEY RDATA (SHA-1, SHA-256 or SHA-384)."""
    if digest_type not in _DIGESTS:
        raise ValueError(f"unsupported DS digest type {digest_type}")
    return _DIGESTS[digest_type](dnssec.name_to_wire(owner) + dnssec.dnskey_rdata(key)).digest()


def anchor_from_key(
    key: Key, zone: str = ".", valid_from: datetime | None = None, valid_until: datetime | None = None
) -> TrustAnchor:
    """The SHA-256 trust anchor for a DNSKEY, keeping the key itself."""
    return TrustAnchor(
        zone=zone,
        key_tag=dnssec.key_tag(key),
        algorithm=key.algorithm,
        digest_type=DIGEST_SHA256,
        digest=ds_digest(key, DIGEST_SHA256, zone),
        valid_from=valid_from,
        valid_until=valid_until,
        key=key,
        id=key.key_identifier or None,
    )


def parse_trust_anchors(data: bytes, max_size: int = DEFAULT_MAX_SIZE) -> tuple[TrustAnchor, ...]:
    """Trust anchors from RFC 7958 XML or from DNSKEY/DS lines; the format is detected."""
    if len(data) > max_size:
        raise _error(f"file is {len(data)} bytes, more than the limit of {max_size} bytes")
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    anchors = _parse_xml(data, max_size) if stripped.startswith(b"<") else _parse_lines(data)
    if not anchors:
        raise _error("the file holds no trust anchor")
    return anchors


# -- RFC 7958 XML


def _parse_xml(data: bytes, max_size: int) -> tuple[TrustAnchor, ...]:
    root = Element(parse_xml(data, max_size, check=TRUST_ANCHOR), TRUST_ANCHOR)
    if root.tag != "TrustAnchor":
        raise root.error("the root element must be <TrustAnchor>")
    root.attributes(required=("id", "source"))
    zone_element = root.child("Zone")
    zone = zone_element.string()
    zone_element.convert(zone, dnssec.name_to_wire)
    anchors = tuple(_read_key_digest(digest, zone) for digest in root.children("KeyDigest"))
    root.end()
    return anchors


def _read_key_digest(element: Element, zone: str) -> TrustAnchor:
    values = element.attributes(required=("id", "validFrom"), optional=("validUntil",))
    valid_from = element.convert(values["validFrom"], timefmt.parse_datetime, "attribute validFrom")
    valid_until = None
    if "validUntil" in values:
        valid_until = element.convert(values["validUntil"], timefmt.parse_datetime, "attribute validUntil")
    key_tag = element.child("KeyTag").integer(0xFFFF)
    algorithm = element.child("Algorithm").integer(0xFF)
    digest_type = element.child("DigestType").integer(0xFF)
    digest_element = element.child("Digest")
    digest = digest_element.convert(digest_element.text(), lambda text: _parse_digest(digest_type, text))
    key = None
    if element.next_tag() == "PublicKey":  # RFC 9718 may add the key itself, then its flags
        public_key = element.child("PublicKey").base64()
        flags = element.child("Flags").integer(0xFFFF)
        key = Key(values["id"], key_tag, 0, flags, 3, algorithm, public_key)
    element.end()
    anchor = TrustAnchor(zone, key_tag, algorithm, digest_type, digest, valid_from, valid_until, key, values["id"])
    if key is not None and not anchor.matches(key, zone):
        raise element.error(f"<Digest> for key tag {key_tag} does not match the <PublicKey> given with it")
    if key is not None and (problem := key_anchor_problem(key)):
        raise element.error(f"<PublicKey> for key tag {key_tag}: {problem}")
    return anchor


def _parse_digest(digest_type: int, text: str) -> bytes:
    """A hex digest of a type we can compute, and of that type's length."""
    compact = "".join(text.split())
    if not _HEX.fullmatch(compact) or len(compact) % 2:
        raise ValueError(f"{text.strip()[:40]!r} is not a hexadecimal digest")
    if digest_type not in _DIGESTS:
        raise ValueError(f"digest type {digest_type} is not supported (1 SHA-1, 2 SHA-256, 4 SHA-384)")
    digest = bytes.fromhex(compact)
    size = _DIGESTS[digest_type]().digest_size
    if len(digest) != size:
        raise ValueError(f"a type {digest_type} digest has {size} bytes, this one {len(digest)}")
    return digest


# -- DNSKEY / DS lines


def _parse_lines(data: bytes) -> tuple[TrustAnchor, ...]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _error(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    keys: list[TrustAnchor] = []
    digests: list[tuple[int, TrustAnchor]] = []
    for number, record in _records(text):
        anchor = _parse_record(number, record)
        if anchor.key is not None:
            keys.append(anchor)
        else:
            digests.append((number, anchor))
    # A key tag does not identify one DNSKEY (RFC 4034 8): a DS next to DNSKEYs with its tag
    # (root-ksk-dnskeys.txt gives both) must match one of them, wherever they stand in the file,
    # and then adds nothing.
    unpaired = []
    for number, digest in digests:
        same_tag = [k for k in keys if (dnssec.name_to_wire(k.zone), k.key_tag, k.algorithm)
                    == (dnssec.name_to_wire(digest.zone), digest.key_tag, digest.algorithm)]
        if not same_tag:
            unpaired.append(digest)
        elif not any(digest.matches(k.key, digest.zone) for k in same_tag):
            raise _line_error(number, f"DS for key tag {digest.key_tag} matches none of the {len(same_tag)} "
                                      f"DNSKEY(s) with that tag in the file")
    return tuple(keys) + tuple(unpaired)


def key_anchor_problem(key: Key) -> str | None:
    """Why a DNSKEY cannot be a trust anchor for KSK signatures, or None: it must be a zone key
    (RFC 4034 2.1.1), protocol 3 (2.1.2), not revoked (RFC 5011 2.1), canonically encoded."""
    if not key.flags & dnssec.FLAG_ZONE:
        return f"flags {key.flags}: the Zone flag (256) is clear, the key may not validate signatures"
    if key.flags & dnssec.FLAG_REVOKE:
        return "a revoked key (flag 128) cannot be a trust anchor"
    if key.protocol != 3:
        return f"protocol {key.protocol}, not 3"
    encoding = dnssec.key_encoding_problem(key.algorithm, key.public_key)
    return f"public key not in canonical form: {encoding}" if encoding else None


def _records(text: str) -> Iterable[tuple[int, str]]:
    """(first line number, record) with comments removed and ( ... ) continuations joined."""
    pending, start = "", 0
    for number, line in enumerate(text.splitlines(), 1):
        content = line.split(";", 1)[0]
        if not pending and not content.strip():
            continue
        if not pending:
            start = number
        pending += " " + content
        if pending.count("(") > pending.count(")"):
            continue
        yield start, pending.replace("(", " ").replace(")", " ").strip()
        pending = ""
    if pending:
        raise _line_error(start, "unbalanced parentheses")


def _parse_record(number: int, record: str) -> TrustAnchor:
    fields = record.split()
    owner, rest, ttl = fields[0], fields[1:], 0
    try:
        dnssec.name_to_wire(owner)
        while rest and (rest[0].isascii() and rest[0].isdigit() or rest[0].upper() == "IN"):
            if rest[0].upper() != "IN":  # TTL and class, in either order
                ttl = parse_integer(rest[0], 0xFFFFFFFF)
            rest = rest[1:]
        if not rest or rest[0].upper() not in ("DNSKEY", "DS"):
            raise ValueError(f"expected a DNSKEY or DS record, found {record[:60]!r}")
        if rest[0].upper() == "DNSKEY":
            return _dnskey_anchor(owner, ttl, rest[1:])
        return _ds_anchor(owner, rest[1:])
    except ValueError as exc:  # so are binascii.Error and UnicodeError
        raise _line_error(number, str(exc)) from None


def _dnskey_anchor(owner: str, ttl: int, rdata: list[str]) -> TrustAnchor:
    if len(rdata) < 4:
        raise ValueError("DNSKEY: want flags, protocol, algorithm and the base64 public key")
    flags, protocol, algorithm = (parse_integer(field, limit) for field, limit in zip(rdata[:3], (0xFFFF, 0xFF, 0xFF)))
    public_key = base64.b64decode("".join(rdata[3:]).encode("ascii"), validate=True)
    unnamed = Key("", 0, ttl, flags, protocol, algorithm, public_key)
    problem = key_anchor_problem(unnamed)
    if problem:
        raise ValueError(problem)
    key = replace(unnamed, key_tag=dnssec.key_tag(unnamed))
    return anchor_from_key(key, zone=owner)


def _ds_anchor(owner: str, rdata: list[str]) -> TrustAnchor:
    if len(rdata) < 4:
        raise ValueError("DS: want key tag, algorithm, digest type and the hex digest")
    key_tag, algorithm, digest_type = (parse_integer(field, limit) for field, limit in zip(rdata[:3], (0xFFFF, 0xFF, 0xFF)))
    return TrustAnchor(owner, key_tag, algorithm, digest_type, _parse_digest(digest_type, "".join(rdata[3:])))


def _error(message: str) -> FormatError:
    return FormatError(f"{TRUST_ANCHOR}: {message}", TRUST_ANCHOR)


def _line_error(number: int, message: str) -> FormatError:
    return _error(f"line {number}: {message}")


# -- writing


def write_trust_anchor_xml(
    anchors: Iterable[TrustAnchor | Key],
    *,
    zone: str = ".",
    valid_from: datetime | None = None,
    id: str | None = None,
    source: str = "",
) -> bytes:
    """RFC 7958 XML laid out as IANA's root-anchors.xml; Keys become SHA-256 digests.

    `valid_from` applies to Keys and to anchors that have none (RFC 7958 requires it).
    Without `id`, the document id is a UUID derived from the digests, so the same keys give
    the same bytes. Anchors that carry their DNSKEY also get RFC 9718 <PublicKey> and <Flags>.
    """
    items = [anchor_from_key(item, zone) if isinstance(item, Key) else item for item in anchors]
    if not items:
        raise ValueError("no trust anchors to write")
    if id is None:
        import uuid  # here only: uuid imports platform, a cost to every command that reads anchors

        id = str(uuid.uuid5(uuid.NAMESPACE_OID, "".join(item.digest.hex() for item in items))).upper()
    writer = Writer(IANA_LAYOUT)
    root = writer.add(None, "TrustAnchor", id=id, source=source)
    writer.add(root, "Zone", zone)
    for item in items:
        if dnssec.name_to_wire(item.zone) != dnssec.name_to_wire(zone):
            raise ValueError(f"anchor for zone {item.zone!r} in a {zone!r} file")
        start = item.valid_from or valid_from
        if start is None:
            raise ValueError(f"key tag {item.key_tag} has no validFrom and none was given")
        dates = {"validFrom": timefmt.format_datetime(start)}
        if item.valid_until is not None:
            dates["validUntil"] = timefmt.format_datetime(item.valid_until)
        digest = writer.add(root, "KeyDigest", id=item.id or f"K{item.key_tag}", **dates)
        writer.add(digest, "KeyTag", str(item.key_tag))
        writer.add(digest, "Algorithm", str(item.algorithm))
        writer.add(digest, "DigestType", str(item.digest_type))
        writer.add(digest, "Digest", item.digest.hex().upper())
        if item.key is not None:
            writer.add(digest, "PublicKey", base64_text(item.key.public_key))
            writer.add(digest, "Flags", str(item.key.flags))
    return writer.serialize(root)
