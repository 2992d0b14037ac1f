"""Signed Key Responses in Knot DNS's layout (`keymgr sign-ksr`, FORMATS.md section 2.3), byte for byte.

    ;; SignedKeyResponse 1.0 <Unix seconds> (<ISO 8601 UTC>) =========
    <owner padded to 20>\t<ttl> DNSKEY <flags> <protocol> <algorithm> (
    \t\t\t\t<base64, 40 characters a line>
    \t\t\t\t) ; ZSK, RSASHA256 (2048b), id = 8340
    ... CDNSKEY, CDS, then every RRSIG wrapped after its inception ...
    ;; SignedKeyResponse 1.0 generated at <ISO 8601 UTC> by <generator>

Knot's own style (`knot_rrset_txt_dump`, wrap + verbose): no class, base64 and hex cut into
40-character lines inside "( ... )", indented with four tabs.
"""

from __future__ import annotations

import base64
import struct
from datetime import datetime

from appliance import dnssec
from appliance.model import Bundle, Key, Record, Response, Signature

_INDENT = "\t\t\t\t"
_ISO = "%Y-%m-%dT%H:%M:%SZ"


def _lines(text: str) -> list[str]:
    return [_INDENT + text[i:i + 40] for i in range(0, len(text), 40)]


def _owner(domain: str, ttl: int) -> str:
    return f"{domain:<20}\t{ttl}"


def _key_comment(key: Key) -> str:
    role = "KSK" if key.flags & dnssec.FLAG_SEP else "ZSK"
    bits = dnssec.key_size(key.algorithm, key.public_key)
    return f"; {role}, {dnssec.algorithm_name(key.algorithm)} ({bits}b), id = {dnssec.key_tag(key)}"


def _dnskey(domain: str, rtype: str, key: Key, ttl: int) -> list[str]:
    head = f"{_owner(domain, ttl)} {rtype} {key.flags} {key.protocol} {key.algorithm} ("
    return [head, *_lines(base64.b64encode(key.public_key).decode()), f"{_INDENT}) {_key_comment(key)}"]


def _record(domain: str, record: Record) -> list[str]:
    if record.rtype == "CDNSKEY":
        flags, protocol, algorithm = struct.unpack("!HBB", record.rdata[:4])
        key = Key("", 0, record.ttl, flags, protocol, algorithm, record.rdata[4:])
        return _dnskey(domain, "CDNSKEY", key, record.ttl)
    tag, algorithm, digest_type = struct.unpack("!HBB", record.rdata[:4])
    head = f"{_owner(domain, record.ttl)} CDS {tag} {algorithm} {digest_type} ("
    return [head, *_lines(record.rdata[4:].hex().upper()), f"{_INDENT})"]


def rrsig_time(moment: datetime) -> str:
    return moment.strftime("%Y%m%d%H%M%S")


def _rrsig(domain: str, signature: Signature) -> list[str]:
    head = (f"{_owner(domain, signature.ttl)} RRSIG {signature.type_covered} {signature.algorithm} "
            f"{signature.labels} {signature.original_ttl} {rrsig_time(signature.expiration)} (")
    second = f"{_INDENT}{rrsig_time(signature.inception)} {signature.key_tag} {signature.signers_name}"
    return [head, second, *_lines(base64.b64encode(signature.signature_data).decode()), f"{_INDENT})"]


def bundle_lines(domain: str, bundle: Bundle) -> list[str]:
    """One bundle: DNSKEYs, CDNSKEY, CDS, then the RRSIGs in the order given (Knot: DNSKEY, CDS, CDNSKEY)."""
    seconds = int(bundle.inception.timestamp())
    lines = [f";; SignedKeyResponse 1.0 {seconds} ({bundle.inception.strftime(_ISO)}) ========="]
    for key in bundle.keys:
        lines += _dnskey(domain, "DNSKEY", key, key.ttl)
    for rtype in ("CDNSKEY", "CDS"):
        for record in bundle.records:
            if record.rtype == rtype:
                lines += _record(domain, record)
    for signature in bundle.signatures:
        lines += _rrsig(domain, signature)
    return lines


def write_knot_response(response: Response, generated_at: datetime, generator: str) -> bytes:
    """The SKR as `keymgr sign-ksr` lays it out; the trailer names `generated_at` (UTC) and `generator`."""
    lines = [line for bundle in response.bundles for line in bundle_lines(response.domain, bundle)]
    lines.append(f";; SignedKeyResponse 1.0 generated at {generated_at.strftime(_ISO)} by {generator}")
    return ("\n".join(lines) + "\n").encode("ascii")
