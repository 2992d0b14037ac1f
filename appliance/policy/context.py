"""What every check receives, and the words checks use to name what they found at fault.

Messages name the bundle by position and id, and keys by tag and identifier, so an operator can
find the offending element in the XML without reading code.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from appliance import dnssec
from appliance.model import Bundle, Key, Request, Response
from appliance.policy.config import Policy, Range

if TYPE_CHECKING:
    from appliance.formats.trust_anchor import TrustAnchor

RSA_ALGORITHMS = frozenset({dnssec.RSASHA1, dnssec.RSASHA1_NSEC3_SHA1, dnssec.RSASHA256, dnssec.RSASHA512})


# What the checks read; never compared, hashed or printed, so dataclasses generates no __eq__, __hash__
# or __repr__ for it (each is compiled anew on every start: about 0.4 ms of a command's imports).
@dataclass(frozen=True, eq=False, repr=False)
class RequestContext:
    request: Request
    policy: Policy
    now: datetime
    previous: Response | None = None  # SKR(n-1), for the chain checks
    trust_anchors: tuple[TrustAnchor, ...] | None = None  # KSKs that must have signed SKR(n-1), when given


@dataclass(frozen=True, eq=False, repr=False)  # as RequestContext
class ResponseContext:
    response: Response
    now: datetime | None = None
    trust_anchors: tuple[TrustAnchor, ...] | None = None
    request: Request | None = None  # the KSR the response must answer
    revoked_only_signers: bool = False  # a schema that reproduces ICANN's 2010 revoked-only test file


def bundle_label(index: int, bundle: Bundle) -> str:
    """'bundle 3 (ea67fb0d-2864-41e7-b26b-34d52e7364c0)', counting from 1 as the table does."""
    return f"bundle {index + 1} ({bundle.id})"


def short_identifier(identifier: str) -> str:
    # Verisign's identifiers are 96 hex digits of DER; the end is what tells ZSK2 from ZSK3.
    return identifier if len(identifier) <= 24 else f"{identifier[:8]}...{identifier[-12:]}"


def key_label(key: Key) -> str:
    return f"key {key.key_tag} ({short_identifier(key.key_identifier)})"


def duration(delta: timedelta) -> str:
    """'21 days', '14 days 23:59:59', '-3 days 00:00:00' for a gap."""
    sign = "-" if delta < timedelta(0) else ""
    delta = abs(delta)
    days = delta.days
    hours, rest = divmod(delta.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    unit = "day" if days == 1 else "days"
    if not delta.seconds:
        return f"{sign}{days} {unit}"
    return f"{sign}{days} {unit} {hours:02d}:{minutes:02d}:{seconds:02d}"


def range_text(bounds: Range) -> str:
    if bounds.low == bounds.high:
        return f"exactly {duration(bounds.low)}"
    return f"{duration(bounds.low)} to {duration(bounds.high)}"


def same_domain(a: str, b: str) -> bool:
    """Whether two domain names are one zone: compared in canonical wire form (case-insensitive,
    final dot optional, RFC 4034 6.2); a string that is no domain name equals nothing."""
    try:
        return dnssec.name_to_wire(a) == dnssec.name_to_wire(b)
    except ValueError:  # UnicodeError too
        return False


def is_zsk(key: Key) -> bool:
    """A zone key without the SEP bit; KSKs (revoked or not) carry SEP."""
    return not key.flags & dnssec.FLAG_SEP


def timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def first_occurrences(request: Request) -> Iterator[tuple[int, Bundle, Key]]:
    """Each distinct key (identifier and content) with the first bundle it appears in.

    Per-key checks use this so that a fault is reported once, not once per bundle.
    """
    seen: set[Key] = set()
    for index, bundle in enumerate(request.bundles):
        for key in bundle.keys:
            if key not in seen:
                seen.add(key)
                yield index, bundle, key
