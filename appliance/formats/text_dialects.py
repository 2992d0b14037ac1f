"""Knot DNS and BIND 9 offline-KSK files ("KeySigningRequest 1.0" / "SignedKeyResponse 1.0") to the model.

Both tools write master-file text cut into bundles by header comments (FORMATS.md section 1):

    ;; KeySigningRequest 1.0 <TIME> <free text>      one header per bundle
    <records>
    ;; KeySigningRequest 1.0 generated at <free text> the trailer, last

<TIME> is Unix seconds (10 digits, Knot) or YYYYMMDDhhmmss UTC (14 digits, BIND); the encoding
names the dialect. The records are read by dnspython's master-file reader (wrapped or one-line,
with or without class, comments; directives such as $INCLUDE are refused by it). Checks beyond
the syntax (owner = zone, ZSK flags, times strictly increasing) are the policy's, so that they
are reported with their IDs; what cannot be represented (a record type a bundle cannot hold,
records before the first header or after the trailer, a missing trailer) is a FormatError of
check KSR-TEXT naming the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from appliance.errors import FormatError
from appliance.formats.detect import HEADER, KSR_TEXT, REQUEST_WORD, RESPONSE_WORD, header_time
from appliance.formats.xmlsafe import DEFAULT_MAX_SIZE
from appliance.model import Bundle, Key, Record, Request, Response, Signature

if TYPE_CHECKING:
    import dns.rrset

# dnspython is imported where records are read, not here. Detecting the format is
# appliance.formats.detect's, which loads this module only to read a text file.

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # all but tab, newline, carriage return
_RESPONSE_TYPES = {"DNSKEY", "CDNSKEY", "CDS", "RRSIG"}


@dataclass(frozen=True)
class Header:
    """One bundle header: the line it is on, the time it names and the token as written."""

    line: int
    time: datetime
    token: str
    dialect: str


def _error(message: str, line: int | None = None) -> FormatError:
    where = f"line {line}: " if line is not None else ""
    return FormatError(f"{KSR_TEXT}: {where}{message}", KSR_TEXT)


def _text(data: bytes, max_size: int) -> str:
    if len(data) > max_size:
        raise _error(f"file is {len(data)} bytes, more than the limit of {max_size} bytes")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise _error(f"byte {exc.start}: not ASCII; KSR/SKR 1.0 files are plain ASCII text") from None
    control = _CONTROL.search(text)
    if control:
        raise _error(f"control character {control.group()!r}", text.count("\n", 0, control.start()) + 1)
    return text


def split_bundles(data: bytes, word: str, max_size: int = DEFAULT_MAX_SIZE) -> tuple[str, list[tuple[Header, str]]]:
    """(dialect, [(header, the bundle's record text with other lines blanked)]) of a KSR or SKR.

    A bundle's text is the lines after its header up to the next header (or the trailer): its
    line 1 is the file's line header.line + 1, which error messages translate back.
    """
    text = _text(data, max_size)
    lines = text.split("\n")
    bundles: list[tuple[Header, list[int]]] = []
    trailer_line = None
    dialects = set()
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        match = HEADER.fullmatch(stripped)
        if match is None:
            if stripped and not stripped.startswith(";"):
                if trailer_line is not None:
                    raise _error(f"a record after the trailer on line {trailer_line}", number)
                if not bundles:
                    raise _error(f"a record before the first ';; {word} 1.0' header", number)
                bundles[-1][1].append(number)
            elif bundles and trailer_line is None:
                bundles[-1][1].append(number)  # a comment or blank line inside a wrapped record
            continue
        found, version, token = match.group(1), match.group(2), match.group(3)
        if found != word:
            raise _error(f"a {found} header in a file read as a {word}", number)
        if version != "1.0":
            raise _error(f"version {(version or '')[:12]!r}, only 1.0 is known", number)
        if trailer_line is not None:
            raise _error(f"a header after the trailer on line {trailer_line}", number)
        if token == "generated":
            trailer_line = number
            continue
        try:
            moment, dialect = header_time(token or "")
        except ValueError as exc:
            raise _error(str(exc), number) from None
        dialects.add(dialect)
        if len(dialects) > 1:
            raise _error("header times mix Unix seconds (Knot) and YYYYMMDDhhmmss (BIND)", number)
        bundles.append((Header(number, moment, token, dialect), []))
    if not bundles:
        raise _error(f"no ';; {word} 1.0 <time>' header: not a {word}")
    if trailer_line is None:
        raise _error(f"no ';; {word} 1.0 generated at ...' trailer: the file may be truncated")
    result = []
    for header, numbers in bundles:
        result.append((header, "\n".join(lines[header.line:max(numbers, default=header.line)])))
    return dialects.pop(), result


def read_rrsets(header: Header, body: str, allowed: set[str]) -> list[dns.rrset.RRset]:
    """The records of one bundle as dnspython RRsets (file order), or a FormatError naming the line."""
    import dns.exception
    import dns.name
    import dns.rdataclass
    import dns.rdatatype
    import dns.zonefile

    try:
        rrsets = dns.zonefile.read_rrsets(body, origin=dns.name.root, relativize=False, rdclass=None,
                                          default_rdclass=dns.rdataclass.IN)
    except dns.exception.DNSException as exc:
        raise _error(f"in the bundle of line {header.line}: {_dns_message(exc, header.line)}") from None
    if not any(len(rrset) for rrset in rrsets):
        raise _error("a bundle without records", header.line)
    for rrset in rrsets:
        kind = dns.rdatatype.to_text(rrset.rdtype)
        if rrset.rdclass != dns.rdataclass.IN:
            raise _error(f"class {dns.rdataclass.to_text(rrset.rdclass)!r}, only IN", header.line)
        if kind not in allowed:
            raise _error(f"a {kind} record in the bundle of this header; only {', '.join(sorted(allowed))}",
                         header.line)
    return rrsets


def _dns_message(exc: Exception, offset: int) -> str:
    # dnspython names the input "<input>:LINE:"; the rest may quote the hostile file, hence repr.
    text = str(exc)
    match = re.match(r"<input>:(\d+): (.*)", text, re.S)
    if match:
        return f"line {int(match.group(1)) + offset}: {match.group(2)[:200]!r}"
    return repr(text[:200])


def _owner(rrsets, header: Header, owner: str | None) -> str:
    import dns.name

    for rrset in rrsets:
        name = rrset.name.to_text()
        if owner is None:
            owner = name
        elif dns.name.from_text(name) != dns.name.from_text(owner):
            # Carried to the model as a FormatError: a bundle is one zone's RRsets (KSR-DOMAIN judges which zone).
            raise _error(f"owner {name!r} differs from {owner!r}: all records must be the zone's apex", header.line)
    return owner


def _key(rdata, ttl: int) -> Key:
    import dns.dnssec

    tag = dns.dnssec.key_id(rdata)
    return Key(str(tag), tag, ttl, int(rdata.flags), int(rdata.protocol), int(rdata.algorithm), rdata.key)


def _signature(rdata, ttl: int) -> Signature:
    import dns.rdatatype

    return Signature(
        key_identifier=str(rdata.key_tag), ttl=ttl, type_covered=dns.rdatatype.to_text(rdata.type_covered),
        algorithm=int(rdata.algorithm), labels=rdata.labels, original_ttl=rdata.original_ttl,
        expiration=datetime.fromtimestamp(rdata.expiration, UTC),
        inception=datetime.fromtimestamp(rdata.inception, UTC), key_tag=rdata.key_tag,
        signers_name=rdata.signer.to_text(), signature_data=rdata.signature)


def _span_id(bundles: list[Bundle]) -> str:
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    return f"{bundles[0].inception.strftime(stamp)}/{bundles[-1].inception.strftime(stamp)}"


def parse_text_request(data: bytes, max_size: int = DEFAULT_MAX_SIZE) -> Request:
    """A Request from a Knot or BIND KSR: one bundle per header, its DNSKEYs; no policy, no signatures.

    A bundle's inception is its header time and its expiration the next header's time (its own
    for the last): the period its key set is requested for.
    """
    dialect, chunks = split_bundles(data, REQUEST_WORD, max_size)
    owner = None
    parsed = []
    for header, body in chunks:
        rrsets = read_rrsets(header, body, {"DNSKEY"})
        owner = _owner(rrsets, header, owner)
        keys = tuple(_key(rdata, rrset.ttl) for rrset in rrsets for rdata in rrset)
        parsed.append((header, keys))
    bundles = []
    for index, (header, keys) in enumerate(parsed):
        until = parsed[index + 1][0].time if index + 1 < len(parsed) else header.time
        bundles.append(Bundle(id=header.token, inception=header.time, expiration=max(until, header.time),
                              keys=keys, signatures=()))
    return Request(id=_span_id(bundles), serial=0, domain=owner, zsk_policy=None, bundles=tuple(bundles),
                   dialect=dialect)


def parse_text_response(data: bytes, max_size: int = DEFAULT_MAX_SIZE) -> Response:
    """A Response from a Knot or BIND SKR: per header its DNSKEYs, CDS/CDNSKEY and RRSIGs.

    A bundle's inception is its header time (from when the ZSK side uses it) and its expiration
    the earliest expiration of its RRSIGs (its own time when it has none).
    """
    import dns.rdatatype

    dialect, chunks = split_bundles(data, RESPONSE_WORD, max_size)
    owner = None
    bundles = []
    for header, body in chunks:
        rrsets = read_rrsets(header, body, _RESPONSE_TYPES)
        owner = _owner(rrsets, header, owner)
        keys, records, signatures = [], [], []
        for rrset in rrsets:
            kind = dns.rdatatype.to_text(rrset.rdtype)
            for rdata in rrset:
                if kind == "DNSKEY":
                    keys.append(_key(rdata, rrset.ttl))
                elif kind == "RRSIG":
                    signatures.append(_signature(rdata, rrset.ttl))
                else:
                    records.append(Record(kind, rrset.ttl, rdata.to_wire()))
        expiration = min((s.expiration for s in signatures), default=header.time)
        bundles.append(Bundle(id=header.token, inception=header.time, expiration=expiration, keys=tuple(keys),
                              signatures=tuple(signatures), records=tuple(records)))
    return Response(id=_span_id(bundles), serial=0, domain=owner, ksk_policy=None, zsk_policy=None,
                    bundles=tuple(bundles), dialect=dialect)
