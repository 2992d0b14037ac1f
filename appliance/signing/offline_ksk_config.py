"""The `[offline_ksk]` table of a signing configuration: how Knot DNS and BIND 9 requests are signed.

    [offline_ksk]
    rules = "knot"                # timing rules: "knot" (keymgr sign-ksr) or "bind" (dnssec-ksr sign)
    rrsig_lifetime = "P21D"       # Knot rrsig-lifetime / BIND signatures-validity-dnskey
    rrsig_refresh = "P11D"        # Knot rrsig-refresh / BIND signatures-refresh
    inception_offset = "PT90M"    # default: 90 minutes (Knot), 60 minutes (BIND) before the bundle time
    dnskey_ttl = 172800           # default: the request's DNSKEY TTL (Knot); BIND uses its own dnskey-ttl
    ksks = ["current"]            # the [keys.NAME] published in, and signing, every bundle
    cds_cdnskey = ["current"]     # KSKs whose CDNSKEY and CDS are published (default none)
    cds_digest_types = [2]        # CDS digest types (2 SHA-256, 4 SHA-384)
    cds_from = 2026-11-01T22:00:00Z  # CDS/CDNSKEY only from this time (BIND's SyncPublish; a KSK event)
    end = 2027-05-01T00:00:00Z    # BIND's -e: the last request bundle is re-signed up to this time
    response_format = "request"   # the response's dialect: "request" (the requester's), "knot" or "bind"

The rules are FORMATS.md sections 2.3 (Knot) and 3.3 (BIND): bundle times, inception offset, TTLs
of CDS/CDNSKEY and record order follow the tool named, so each side imports what it gets.
Unknown settings are errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from appliance.errors import UsageError
from appliance.settings import duration

KNOT_RULES = "knot"
BIND_RULES = "bind"
_OFFSETS = {KNOT_RULES: timedelta(minutes=90), BIND_RULES: timedelta(minutes=60)}
_DIGEST_TYPES = {2, 4}
_SETTINGS = {"rules", "rrsig_lifetime", "rrsig_refresh", "inception_offset", "dnskey_ttl", "ksks", "cds_cdnskey",
             "cds_digest_types", "cds_from", "end", "response_format"}


@dataclass(frozen=True)
class OfflineKskRules:
    """How a text request is signed: the tool whose timing rules apply, and what each bundle carries."""

    rules: str
    rrsig_lifetime: timedelta
    rrsig_refresh: timedelta
    inception_offset: timedelta
    dnskey_ttl: int | None  # None: the request's
    ksks: tuple[str, ...]
    cds_cdnskey: tuple[str, ...]
    cds_digest_types: tuple[int, ...]
    cds_from: datetime | None  # None: from the first bundle
    end: datetime | None
    response_format: str  # "request", "knot" or "bind"

    @property
    def refresh_step(self) -> timedelta:
        """Between re-signing bundles: lifetime minus refresh (Knot and BIND alike)."""
        return self.rrsig_lifetime - self.rrsig_refresh

    def describe(self) -> str:
        return (f"{self.rules} timing rules: a bundle every {self.refresh_step.days} days between request times, "
                f"RRSIGs from {int(self.inception_offset.total_seconds() // 60)} minutes before each bundle for "
                f"{self.rrsig_lifetime.days} days")


def _names(value, where: str, known: Mapping) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{where}: a list of KSK names")
    unknown = [v for v in value if v not in known]
    if unknown:
        raise UsageError(f"{where}: {', '.join(unknown)} not defined under [keys]")
    return tuple(value)


def rules_from_table(table: Mapping, keys: Mapping, where: str) -> OfflineKskRules:
    """OfflineKskRules from the [offline_ksk] table; `keys` are the [keys] definitions by name."""
    unknown = set(table) - _SETTINGS
    if unknown:
        raise UsageError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))}")
    rules = table.get("rules")
    if rules not in _OFFSETS:
        raise UsageError(f"{where}: rules must be {KNOT_RULES!r} or {BIND_RULES!r}")
    for required in ("rrsig_lifetime", "rrsig_refresh", "ksks"):
        if required not in table:
            raise UsageError(f"{where}: {required} is required")
    lifetime = duration(table["rrsig_lifetime"], f"{where}: rrsig_lifetime")
    refresh = duration(table["rrsig_refresh"], f"{where}: rrsig_refresh")
    if not timedelta(0) < refresh < lifetime:
        raise UsageError(f"{where}: rrsig_refresh must be above zero and below rrsig_lifetime")
    offset = (duration(table["inception_offset"], f"{where}: inception_offset")
              if "inception_offset" in table else _OFFSETS[rules])
    ttl = table.get("dnskey_ttl")
    if ttl is not None and (not isinstance(ttl, int) or isinstance(ttl, bool) or not 0 <= ttl < 2**31):
        raise UsageError(f"{where}: dnskey_ttl must be a TTL in seconds")
    ksks = _names(table["ksks"], f"{where}: ksks", keys)
    if not ksks:
        raise UsageError(f"{where}: ksks names no KSK")
    cds = _names(table.get("cds_cdnskey", []), f"{where}: cds_cdnskey", keys)
    if set(cds) - set(ksks):
        raise UsageError(f"{where}: cds_cdnskey may name only KSKs in ksks")
    digests = table.get("cds_digest_types", [2])
    if not isinstance(digests, list) or not digests or not set(digests) <= _DIGEST_TYPES:
        raise UsageError(f"{where}: cds_digest_types is a list of 2 (SHA-256) and 4 (SHA-384)")
    end, cds_from = (_moment(table.get(name), f"{where}: {name}") for name in ("end", "cds_from"))
    response_format = table.get("response_format", "request")
    if response_format not in ("request", "knot", "bind"):
        raise UsageError(f"{where}: response_format must be 'request', 'knot' or 'bind'")
    return OfflineKskRules(rules, lifetime, refresh, offset, ttl, ksks, cds, tuple(digests), cds_from, end,
                           response_format)


def _moment(value, where: str) -> datetime | None:
    if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
        raise UsageError(f"{where} is a UTC time such as 2027-05-01T00:00:00Z")
    return value
