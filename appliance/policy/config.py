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
from appliance.settings import duration, parse_toml, read_text
from appliance.text import shown


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
        """Every knob that accepts a request the root policy (these defaults, policies/root.toml)
        refuses, and every check skipped: one NOTE line each, for the screen and the log."""
        notes = list(_widened(self, Policy()))
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


# Knobs compared with the root policy's: (TOML name, Policy field, how it can widen).
# "set": a value outside root's set; "range": a bound outside root's range; "exact": any other
# value (root requires exactly its own); "most": a larger value.
_WIDENING = (
    ("domains", "domains", "set"),
    ("bundles.count", "bundle_count", "exact"),
    ("bundles.keys_per_bundle", "keys_per_bundle", "exact"),
    ("bundles.distinct_keys", "distinct_keys", "exact"),
    ("bundles.cycle_min/cycle_max", "cycle", "range"),
    ("bundles.interval_min/interval_max", "interval", "range"),
    ("keys.algorithms", "algorithms", "set"),
    ("keys.rsa_sizes", "rsa_sizes", "set"),
    ("keys.rsa_exponents", "rsa_exponents", "set"),
    ("keys.ttl", "key_ttl", "exact"),
    ("signatures.validity_min/validity_max", "validity", "range"),
    ("signatures.overlap_min/overlap_max", "overlap", "range"),
    ("signatures.horizon", "horizon", "most"),
)


def _shown_value(value) -> str:
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


def _widened(policy: Policy, root: Policy):
    for name, attribute, how in _WIDENING:
        mine, theirs = getattr(policy, attribute), getattr(root, attribute)
        if how == "set":
            extra = [value for value in mine if value not in theirs]
            if attribute == "algorithms":
                extra, theirs = [dnssec.algorithm_name(a) for a in extra], [dnssec.algorithm_name(a) for a in theirs]
            if extra:
                yield (f"{name} also accepts {_shown_value(tuple(extra))}, which the root policy "
                       f"refuses (root: {_shown_value(tuple(theirs))})")
        elif how == "range":
            if mine.low < theirs.low or mine.high > theirs.high:
                yield f"{name} is {mine}, outside the root policy's {theirs}"
        elif how == "exact":
            if mine != theirs:
                yield f"{name} is {_shown_value(mine)}, where the root policy requires {_shown_value(theirs)}"
        elif mine > theirs:
            yield f"{name} is {_shown_value(mine)}, more than the root policy's {_shown_value(theirs)}"


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


def is_policy_path(spec: str) -> bool:
    """A policy is a file only when written as a path ("./x.toml", "/etc/x.toml", "x.toml");
    a bare word ("root") is a shipped era name and nothing else, whatever the current folder holds."""
    return "/" in spec or spec.endswith(".toml")


def load_policy(spec: str | Path | None) -> Policy:
    """The policy named by --policy: a file path, a shipped era name ("root-2010"), or None for root.

    None loads the shipped root.toml rather than the bare defaults so that the file operators read
    is the file that applies. UsageError for an unknown era name or an unreadable file.
    """
    spec = "root" if spec is None else str(spec)
    known = ", ".join(shipped_policy_names())
    if not is_policy_path(spec):
        if spec not in shipped_policy_names():
            raise UsageError(f"no shipped policy is named {shown(spec)} (shipped policies: {known}); "
                             f"give a policy file as a path, e.g. ./{shown(spec)}.toml")
        return policy_from_toml((SHIPPED_POLICIES / f"{spec}.toml").read_text("utf-8"), f"{spec} (shipped)")
    try:
        text = read_text(Path(spec), "policy")
    except UsageError as exc:
        raise UsageError(f"{exc} (shipped policies: {known})") from None
    return policy_from_toml(text, shown(spec))
