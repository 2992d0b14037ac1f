"""The KSK operator's policy: what a request must look like to be signed, loaded from TOML.

The dataclass defaults are the root zone's current values (the same as `policies/root.toml`), so
a policy file only needs to say where it differs. Every knob is named after the check it drives.
A file with an unknown key, a wrong type or an impossible range is a configuration error (exit 2):
a typo must never silently fall back to a default.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

from appliance import dnssec
from appliance.errors import UsageError
from appliance.formats.timefmt import format_duration
from appliance.settings import duration, parse_toml


@dataclass(frozen=True)
class Range:
    """An inclusive [low, high] interval of durations."""

    low: timedelta
    high: timedelta

    def __contains__(self, value: timedelta) -> bool:
        return self.low <= value <= self.high

    def __str__(self) -> str:
        return f"{format_duration(self.low)}..{format_duration(self.high)}"


def _days(n: int) -> timedelta:
    return timedelta(days=n)


# Checks a policy file may switch off ([checks] skip). The others establish that the request is
# what it claims to be (it parses, its bundles are distinct, its keys are consistent and held by
# the requester, the previous response is genuine); no policy may skip those.
SKIPPABLE_CHECKS = frozenset(
    {
        "KSR-DOMAIN",
        "KSR-BUNDLE-COUNT",
        "KSR-BUNDLE-CYCLE-DURATION",
        "KSR-POLICY-KEYS",
        "KSR-POLICY-BUNDLE-INTERVALS",
        "KSR-POLICY-ALG",
        "KSR-POLICY-SIG-VALIDITY",
        "KSR-POLICY-SIG-OVERLAP",
        "KSR-POLICY-TTL",
        "KSR-POLICY-SIG-HORIZON",
        "KSR-CHAIN-ID",
        "KSR-CHAIN-KEYS",
        "KSR-CHAIN-OVERLAP",
    }
)
NEVER_SKIPPED = frozenset({"KSR-XML", "KSR-BUNDLE-UNIQUE", "KSR-BUNDLE-KEYS", "KSR-BUNDLE-POP", "SKR-VERIFY"})


@dataclass(frozen=True)
class Policy:
    """Every knob of the request checks; defaults are the root zone's (policies/root.toml)."""

    source: str = "built-in root defaults"
    # KSR-DOMAIN
    domains: tuple[str, ...] = (".",)
    # KSR-BUNDLE-COUNT, KSR-BUNDLE-CYCLE-DURATION, KSR-POLICY-BUNDLE-INTERVALS, KSR-POLICY-KEYS
    bundle_count: int = 9
    cycle: Range = field(default_factory=lambda: Range(_days(79), _days(81)))
    interval: Range = field(default_factory=lambda: Range(_days(9), _days(11)))
    keys_per_bundle: tuple[int, ...] = (2, 1, 1, 1, 1, 1, 1, 1, 2)
    distinct_keys: int = 3
    # KSR-POLICY-ALG, KSR-BUNDLE-KEYS, KSR-POLICY-TTL
    algorithms: tuple[int, ...] = (dnssec.RSASHA256,)
    rsa_sizes: tuple[int, ...] = (2048,)
    rsa_exponents: tuple[int, ...] = (65537,)
    exponent_must_match_request: bool = True
    key_ttl: int = 172800
    # KSR-POLICY-SIG-VALIDITY, KSR-POLICY-SIG-OVERLAP, KSR-CHAIN-OVERLAP, KSR-POLICY-SIG-HORIZON
    validity: Range = field(default_factory=lambda: Range(_days(21), _days(21)))
    overlap: Range = field(default_factory=lambda: Range(_days(9), _days(12)))
    enforce_request_claims: bool = True
    horizon: timedelta = field(default_factory=lambda: _days(180))
    # Check IDs not run at all (from SKIPPABLE_CHECKS); each is shown as a NOTE.
    skip: tuple[str, ...] = ()
    # KSR-SIGNERS: a request's <Signer> elements that differ from the schema's signers refuse it
    # (true) or are a NOTE on the screen and in the log (false, the default, as ICANN's tools warn).
    requested_signers_must_match: bool = False

    def relaxations(self) -> list[str]:
        """Knobs set weaker than the safe default, for the screen and the log."""
        notes = []
        if not self.enforce_request_claims:
            notes.append(
                "signatures.enforce_request_claims = false: the request's own Min/Max validity and "
                "overlap are not checked; only this policy's ranges apply"
            )
        if not self.exponent_must_match_request:
            notes.append(
                "keys.exponent_must_match_request = false: a key's RSA exponent may differ from the "
                "one the request declares (it must still be in keys.rsa_exponents)"
            )
        notes += [f"checks.skip: {check} is not run" for check in self.skip]
        return notes


# TOML layout: (table, key) -> (Policy field, converter). The table is "" for top-level keys.
def _strings(value, where):
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{where} must be a non-empty list of strings")
    return tuple(value)


def _int(value, where):
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise UsageError(f"{where} must be a non-negative integer")
    return value


def _ints(value, where):
    if not isinstance(value, list) or not value:
        raise UsageError(f"{where} must be a non-empty list of integers")
    return tuple(_int(v, where) for v in value)


def _bool(value, where):
    if not isinstance(value, bool):
        raise UsageError(f"{where} must be true or false")
    return value




def _check_ids(value, where):
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{where} must be a list of check IDs")
    for check in value:
        if check in NEVER_SKIPPED:
            raise UsageError(f"{where}: {check} cannot be skipped; it shows the request is genuine")
        if check not in SKIPPABLE_CHECKS:
            raise UsageError(f"{where}: unknown check {check!r}")
    return tuple(dict.fromkeys(value))


_ALGORITHMS_BY_NAME = {name.upper(): number for number, name in dnssec.ALGORITHM_NAMES.items()}


def _algorithms(value, where):
    if not isinstance(value, list) or not value:
        raise UsageError(f"{where} must be a non-empty list of algorithm names or numbers")
    numbers = []
    for item in value:
        number = _ALGORITHMS_BY_NAME.get(item.upper()) if isinstance(item, str) else item
        if not isinstance(number, int) or isinstance(number, bool) or number not in dnssec.ALGORITHM_NAMES:
            raise UsageError(f"{where}: unknown DNSSEC algorithm {item!r}")
        if number in dnssec.DEPRECATED_ALGORITHMS:
            raise UsageError(f"{where}: {dnssec.algorithm_name(number)} is deprecated and always refused")
        numbers.append(number)
    return tuple(numbers)


_LAYOUT = {
    ("", "domains"): ("domains", _strings),
    ("bundles", "count"): ("bundle_count", _int),
    ("bundles", "keys_per_bundle"): ("keys_per_bundle", _ints),
    ("bundles", "distinct_keys"): ("distinct_keys", _int),
    ("bundles", "cycle_min"): ("cycle.low", duration),
    ("bundles", "cycle_max"): ("cycle.high", duration),
    ("bundles", "interval_min"): ("interval.low", duration),
    ("bundles", "interval_max"): ("interval.high", duration),
    ("keys", "algorithms"): ("algorithms", _algorithms),
    ("keys", "rsa_sizes"): ("rsa_sizes", _ints),
    ("keys", "rsa_exponents"): ("rsa_exponents", _ints),
    ("keys", "exponent_must_match_request"): ("exponent_must_match_request", _bool),
    ("keys", "ttl"): ("key_ttl", _int),
    ("signatures", "validity_min"): ("validity.low", duration),
    ("signatures", "validity_max"): ("validity.high", duration),
    ("signatures", "overlap_min"): ("overlap.low", duration),
    ("signatures", "overlap_max"): ("overlap.high", duration),
    ("signatures", "enforce_request_claims"): ("enforce_request_claims", _bool),
    ("signatures", "horizon"): ("horizon", duration),
    ("checks", "skip"): ("skip", _check_ids),
    ("checks", "requested_signers_must_match"): ("requested_signers_must_match", _bool),
}
_TABLES = {table for table, _ in _LAYOUT if table}


def policy_from_toml(text: str, source: str) -> Policy:
    """A Policy from TOML text; `source` names the file in messages and in the report."""
    document = parse_toml(text, f"policy {source}")
    values: dict[str, object] = {}
    for key, value in document.items():
        if key in _TABLES:
            if not isinstance(value, dict):
                raise UsageError(f"policy {source}: [{key}] must be a table")
            for subkey, subvalue in value.items():
                _take(values, key, subkey, subvalue, source)
        else:
            _take(values, "", key, value, source)
    return _build(values, source)


def _take(values: dict, table: str, key: str, value, source: str) -> None:
    name = f"{table}.{key}" if table else key
    if (table, key) not in _LAYOUT:
        raise UsageError(f"policy {source}: unknown key {name!r}")
    target, convert = _LAYOUT[(table, key)]
    values[target] = convert(value, f"policy {source}: {name}")


def _build(values: dict, source: str) -> Policy:
    base = Policy()
    plain = {k: v for k, v in values.items() if "." not in k}
    for range_name in ("cycle", "interval", "validity", "overlap"):
        current = getattr(base, range_name)
        low = values.get(f"{range_name}.low", current.low)
        high = values.get(f"{range_name}.high", current.high)
        if low > high:
            raise UsageError(
                f"policy {source}: {range_name} minimum {format_duration(low)} is above "
                f"its maximum {format_duration(high)}"
            )
        plain[range_name] = Range(low, high)
    policy = replace(base, source=source, **plain)
    if len(policy.keys_per_bundle) != policy.bundle_count:
        raise UsageError(
            f"policy {source}: bundles.keys_per_bundle has {len(policy.keys_per_bundle)} entries "
            f"but bundles.count is {policy.bundle_count}"
        )
    return policy


# Package data sits beside the modules (setuptools package-data, never a zip), so a path is enough;
# importlib.resources would cost every command about 10 ms of imports (zipfile and its readers).
SHIPPED_POLICIES = Path(__file__).resolve().parent.parent / "policies"


def shipped_policy_names() -> list[str]:
    """The era files shipped in appliance/policies/, without the .toml suffix."""
    return sorted(p.name[: -len(".toml")] for p in SHIPPED_POLICIES.iterdir() if p.name.endswith(".toml"))


def load_policy(spec: str | Path | None) -> Policy:
    """The policy named by --policy: a file path, a shipped era name ("root-2010"), or None for root.

    None loads the shipped root.toml rather than the bare defaults so that the file operators read
    is the file that applies.
    """
    if spec is None:
        spec = "root"
    path = Path(spec)
    if not path.exists() and str(spec) in shipped_policy_names():
        return policy_from_toml((SHIPPED_POLICIES / f"{spec}.toml").read_text("utf-8"), f"{spec} (shipped)")
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        known = ", ".join(shipped_policy_names())
        raise UsageError(f"cannot read policy {spec}: {exc.strerror or exc} (shipped policies: {known})") from None
    except UnicodeDecodeError:
        raise UsageError(f"policy {spec} is not UTF-8 text") from None
    return policy_from_toml(text, str(spec))

