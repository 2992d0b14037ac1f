"""Signed Key Responses in BIND 9.20's layout (`dnssec-ksr sign`, FORMATS.md section 3.3), byte for byte.

    ;; SignedKeyResponse 1.0 <YYYYMMDDhhmmss> (<ctime>)
    <owner>\t...\t<ttl>\tIN\tDNSKEY\t<flags> <protocol> <algorithm> <base64 in 56-character groups>
    <owner>\t...\t<ttl>\tIN\tRRSIG\tDNSKEY ...       then CDNSKEY + its RRSIG, CDS + its RRSIG
    <a blank line where the signer moves on to the next request bundle>
    ;; SignedKeyResponse 1.0 generated at <ctime> by <generator>

One line per record (`dns_rdataset_totext`), fields aligned on BIND's tab columns (24, 32, 40, 48).
The ctime text is UTC, as on the appliance (BIND writes the signer's local time zone).
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Collection
from datetime import datetime

from appliance.model import Bundle, Key, Record, Response, Signature

_COLUMNS = (24, 32, 40, 48)  # owner, TTL, class, type: where the next field starts


def _groups(text: str, size: int = 56) -> str:
    return " ".join(text[i:i + size] for i in range(0, len(text), size))


def _line(owner: str, ttl: int, rtype: str, rdata: str) -> str:
    parts, column = [], 0
    for field, target in zip((owner, str(ttl), "IN", rtype), _COLUMNS):
        parts.append(field)
        column += len(field)
        tabs = target // 8 - column // 8
        if tabs > 0:
            parts.append("\t" * tabs)
            column = target
        else:
            parts.append(" ")
            column += 1
    return "".join(parts) + rdata


def _dnskey_rdata(key: Key) -> str:
    return f"{key.flags} {key.protocol} {key.algorithm} {_groups(base64.b64encode(key.public_key).decode())}"


def _record_rdata(record: Record) -> str:
    if record.rtype == "CDNSKEY":
        flags, protocol, algorithm = struct.unpack("!HBB", record.rdata[:4])
        return _dnskey_rdata(Key("", 0, record.ttl, flags, protocol, algorithm, record.rdata[4:]))
    tag, algorithm, digest_type = struct.unpack("!HBB", record.rdata[:4])
    return f"{tag} {algorithm} {digest_type} {_groups(record.rdata[4:].hex().upper())}"


def _rrsig_rdata(signature: Signature) -> str:
    return (f"{signature.type_covered} {signature.algorithm} {signature.labels} {signature.original_ttl} "
            f"{signature.expiration:%Y%m%d%H%M%S} {signature.inception:%Y%m%d%H%M%S} {signature.key_tag} "
            f"{signature.signers_name} {_groups(base64.b64encode(signature.signature_data).decode())}")


def bundle_lines(domain: str, bundle: Bundle) -> list[str]:
    """One bundle: DNSKEYs and their RRSIGs, then CDNSKEY and CDS, each followed by its RRSIGs."""
    lines = [f";; SignedKeyResponse 1.0 {bundle.inception:%Y%m%d%H%M%S} ({bundle.inception.ctime()})"]
    lines += [_line(domain, key.ttl, "DNSKEY", _dnskey_rdata(key)) for key in bundle.keys]
    lines += [_line(domain, s.ttl, "RRSIG", _rrsig_rdata(s)) for s in bundle.signatures if s.type_covered == "DNSKEY"]
    for rtype in ("CDNSKEY", "CDS"):
        lines += [_line(domain, r.ttl, rtype, _record_rdata(r)) for r in bundle.records if r.rtype == rtype]
        lines += [_line(domain, s.ttl, "RRSIG", _rrsig_rdata(s)) for s in bundle.signatures if s.type_covered == rtype]
    return lines


def write_bind_response(response: Response, generated_at: datetime, generator: str,
                        group_starts: Collection[int] = ()) -> bytes:
    """The SKR as `dnssec-ksr sign` lays it out. `group_starts`: indexes of the bundles that begin the
    answer to a new request bundle (BIND puts a blank line before each but the first)."""
    lines = []
    for index, bundle in enumerate(response.bundles):
        if index and index in group_starts:
            lines.append("")
        lines += bundle_lines(response.domain, bundle)
    lines.append(f";; SignedKeyResponse 1.0 generated at {generated_at.ctime()} by {generator}")
    return ("\n".join(lines) + "\n").encode("ascii")
