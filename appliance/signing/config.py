"""The signing configuration (TOML): the KSKs expected in the HSM, the KSK policy, schemas, HSM, policy.

    policy = "root"                 # request policy: shipped era name or a file (relative to this one)
    default_schema = "normal"
    [hsm]                           # the HSM profile (appliance.hsm)
    [response]  layout = "kskm"     # or "legacy": five-digit key tags as ICANN's first signer wrote
    [ksk_policy]                    # the <KSK> policy block of every response, and the DNSKEY TTL
    [keys.NAME]                     # one per KSK: label, key_tag, algorithm, size, ds_sha256, valid_from...
    [schemas.NAME]  1 = {publish = [...], revoke = [...], sign = [...]}  ... one entry per slot
    [offline_ksk]                   # Knot DNS / BIND 9 requests (appliance.signing.offline_ksk_config); then
                                    # [ksk_policy] may be left out (ICANN XML only)

Every KSK the HSM offers must match its definition (KSK-MISMATCH), so a configuration file pins
the exact keys a ceremony may use. Unknown settings are errors: a typo must never fall back silently.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from appliance import dnssec
from appliance.errors import UsageError
from appliance.formats import KSKM_SKR, LEGACY_SKR, Layout
from appliance.formats.timefmt import parse_datetime
from appliance.hsm.profile import HsmProfile, profile_from_table
from appliance.model import AlgorithmPolicy, KeyPolicy
from appliance.policy.config import is_policy_path
from appliance.settings import DEFAULT_CONFIG, duration, read_toml
from appliance.signing.bundles import BUILTIN_SCHEMAS, Schema, Slot, builtin_schema, validate_schema

if TYPE_CHECKING:
    from appliance.hsm.keys import HsmKey
    from appliance.signing.offline_ksk_config import OfflineKskRules

# The root zone's KSK policy block as every real response since 2017 carries it; the demo's
# configuration and the tests' use it as written.
ROOT_KSK_POLICY_TOML = """[ksk_policy]
publish_safety = "PT0S"
retire_safety = "P28D"
max_signature_validity = "P21D"
min_signature_validity = "P21D"
max_validity_overlap = "P16D"
min_validity_overlap = "P9D"
ttl = 172800
"""


def ksk_definition_toml(name: str, label: str, dnskey, valid_from: datetime, description: str = "") -> str:
    """The `[keys.NAME]` table that defines a KSK exactly as `dnskey` is (for the demo and the tests,
    whose KSK is generated on the spot; a real configuration is written and reviewed by people)."""
    lines = [f"[keys.{name}]", f'label = "{label}"', f"key_tag = {dnssec.key_tag(dnskey)}",
             f'algorithm = "{dnssec.algorithm_name(dnskey.algorithm)}"',
             f"size = {dnssec.key_size(dnskey.algorithm, dnskey.public_key)}",
             f'ds_sha256 = "{dnssec.ds_sha256(dnskey).hex().upper()}"',
             f"valid_from = {valid_from.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"]
    if description:
        lines.append(f'description = "{description}"')
    return "\n".join(lines) + "\n"


LAYOUTS = {"kskm": KSKM_SKR, "legacy": LEGACY_SKR}
_ALGORITHMS = {name.upper(): number for number, name in dnssec.ALGORITHM_NAMES.items()}
_SIGNABLE = (dnssec.RSASHA256, dnssec.RSASHA512, dnssec.ECDSAP256SHA256, dnssec.ECDSAP384SHA384, dnssec.ED25519)
_CURVE_BITS = {dnssec.ECDSAP256SHA256: 256, dnssec.ECDSAP384SHA384: 384}


@dataclass(frozen=True)
class KskDefinition:
    """What the configuration says a KSK is; the key the HSM holds under `label` must match it all."""

    name: str
    label: str
    key_tag: int
    algorithm: int
    size: int
    ds_sha256: bytes
    valid_from: datetime
    valid_until: datetime | None = None
    rsa_exponent: int | None = None
    description: str = ""
    # Sign with a private key that can be (or once could be) read out of the HSM: never by
    # default; a test token's imported key, say. Logged as a NOTE each time it is used.
    allow_extractable: bool = False

    def mismatches(self, key: HsmKey, domain: str) -> Iterator[str]:
        """KSK-MISMATCH: every way the HSM's key differs from this definition."""
        where = f"KSK {self.name} (HSM label {self.label!r})"
        if self.algorithm not in key.algorithms:
            yield (f"{where}: the HSM key is {key.key_type} {key.curve or key.size}, "
                   f"not usable for {dnssec.algorithm_name(self.algorithm)}")
            return
        if key.size != self.size:
            yield f"{where}: the HSM key has {key.size} bits, the definition says {self.size}"
        dnskey = key.dnskey(algorithm=self.algorithm, key_identifier=self.label)
        if self.rsa_exponent is not None and dnssec.rsa_exponent(dnskey.public_key) != self.rsa_exponent:
            yield (f"{where}: the HSM key's RSA exponent is {dnssec.rsa_exponent(dnskey.public_key)}, "
                   f"the definition says {self.rsa_exponent}")
        if dnskey.key_tag != self.key_tag:
            yield f"{where}: the HSM key has key tag {dnskey.key_tag}, the definition says {self.key_tag}"
        ds = dnssec.ds_sha256(dnskey, domain)
        if ds != self.ds_sha256:
            yield f"{where}: the HSM key's DS SHA-256 is {ds.hex().upper()}, the definition says {self.ds_sha256.hex().upper()}"


@dataclass(frozen=True, eq=False, repr=False)  # a whole configuration, never compared: as policy.context.RequestContext
class SigningConfig:
    source: Path
    policy: str  # era name or path for appliance.policy.load_policy
    default_schema: str
    hsm: HsmProfile
    layout: Layout
    ksk_policy: KeyPolicy | None  # its algorithms are empty when derived from the signing KSKs; None: no XML
    ksk_ttl: int
    keys: Mapping[str, KskDefinition]
    schemas: Mapping[str, Schema]
    offline_ksk: OfflineKskRules | None = None  # how Knot/BIND text requests are signed

    def schema(self, name: str | None, count: int) -> Schema:
        """The schema by name, for a request of `count` bundles."""
        name = name or self.default_schema
        if name in self.schemas:
            return self.schemas[name]
        if name in BUILTIN_SCHEMAS:
            return builtin_schema(name, count)
        known = ", ".join(sorted([*self.schemas, *BUILTIN_SCHEMAS]))
        raise UsageError(f"unknown schema {name!r} (known: {known})")

    def response_ksk_policy(self, signing: list[KskDefinition], public_keys: Mapping[str, bytes]) -> KeyPolicy:
        """The <KSK> policy block: the configured algorithms, or those of the KSKs that sign."""
        if self.ksk_policy.algorithms:
            return self.ksk_policy
        algorithms: list[AlgorithmPolicy] = []
        for definition in signing:
            if definition.algorithm in _CURVE_BITS:
                entry = AlgorithmPolicy(definition.algorithm, ecdsa_size=definition.size)
            else:
                exponent = dnssec.rsa_exponent(public_keys[definition.name])
                entry = AlgorithmPolicy(definition.algorithm, rsa_size=definition.size, rsa_exponent=exponent)
            if entry not in algorithms:
                algorithms.append(entry)
        return replace(self.ksk_policy, algorithms=tuple(algorithms))


# --- loading ------------------------------------------------------------------------------------


def _table(document: Mapping, name: str, where: str) -> Mapping:
    value = document.get(name, {})
    if not isinstance(value, Mapping):
        raise UsageError(f"{where}: [{name}] must be a table")
    return value


def _only(table: Mapping, allowed: set[str], where: str) -> None:
    unknown = set(table) - allowed
    if unknown:
        raise UsageError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))}")


def _required(table: Mapping, name: str, kind, where: str):
    if name not in table:
        raise UsageError(f"{where}: {name} is required")
    value = table[name]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise UsageError(f"{where}: {name} has the wrong type ({type(value).__name__})")
    return value


def _moment(value, where: str) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() != timedelta(0):
            raise UsageError(f"{where}: give the time in UTC (Z or +00:00)")
        return value.astimezone(UTC)
    if isinstance(value, str):
        try:
            return parse_datetime(value.replace("Z", "+00:00") if value.endswith("Z") else value)
        except ValueError as exc:
            raise UsageError(f"{where}: {exc}") from None
    raise UsageError(f"{where}: not a date and time")




def _algorithm(value, where: str) -> int:
    number = _ALGORITHMS.get(value.upper()) if isinstance(value, str) else value
    if number not in _SIGNABLE:
        names = ", ".join(dnssec.algorithm_name(a) for a in _SIGNABLE)
        raise UsageError(f"{where}: algorithm {value!r} cannot sign a response (use {names})")
    return number


def _key_definition(name: str, table: Mapping, where: str) -> KskDefinition:
    _only(table, {"label", "key_tag", "algorithm", "size", "rsa_exponent", "ds_sha256", "valid_from",
                  "valid_until", "description", "allow_extractable"}, where)
    algorithm = _algorithm(_required(table, "algorithm", (str, int), where), f"{where}: algorithm")
    size = table.get("size", _CURVE_BITS.get(algorithm))
    if not isinstance(size, int) or (algorithm in _CURVE_BITS and size != _CURVE_BITS[algorithm]):
        raise UsageError(f"{where}: size must be the RSA modulus bits (or the curve's bits for ECDSA)")
    ds_text = _required(table, "ds_sha256", str, where)
    try:
        ds = bytes.fromhex("".join(ds_text.split()))
    except ValueError:
        raise UsageError(f"{where}: ds_sha256 is not hex") from None
    if len(ds) != 32:
        raise UsageError(f"{where}: ds_sha256 must be 64 hex digits")
    key_tag = _required(table, "key_tag", int, where)
    if not 0 <= key_tag <= 0xFFFF:
        raise UsageError(f"{where}: key_tag must be 0..65535")
    valid_from = _moment(_required(table, "valid_from", (str, datetime), where), f"{where}: valid_from")
    valid_until = _moment(table["valid_until"], f"{where}: valid_until") if "valid_until" in table else None
    if valid_until is not None and valid_until <= valid_from:
        raise UsageError(f"{where}: valid_until is not after valid_from")
    return KskDefinition(
        name=name, label=_required(table, "label", str, where), key_tag=key_tag, algorithm=algorithm, size=size,
        ds_sha256=ds, valid_from=valid_from, valid_until=valid_until,
        rsa_exponent=table.get("rsa_exponent"), description=table.get("description", ""),
        allow_extractable=_required(table, "allow_extractable", bool, where) if "allow_extractable" in table
        else False,
    )


_POLICY_DURATIONS = ("publish_safety", "retire_safety", "max_signature_validity", "min_signature_validity",
                     "max_validity_overlap", "min_validity_overlap")


def _ksk_policy(table: Mapping, where: str) -> tuple[KeyPolicy, int]:
    _only(table, {*_POLICY_DURATIONS, "ttl", "algorithms"}, where)
    durations = {name: duration(_required(table, name, str, where), f"{where}: {name}") for name in _POLICY_DURATIONS}
    ttl = _required(table, "ttl", int, where)
    algorithms = []
    for entry in table.get("algorithms", []):
        if not isinstance(entry, Mapping):
            raise UsageError(f"{where}: algorithms entries are tables {{algorithm = 8, rsa_size = 2048, ...}}")
        _only(entry, {"algorithm", "rsa_size", "rsa_exponent", "ecdsa_size"}, f"{where}: algorithms")
        algorithms.append(AlgorithmPolicy(_algorithm(entry.get("algorithm"), f"{where}: algorithms"),
                                          entry.get("rsa_size"), entry.get("rsa_exponent"), entry.get("ecdsa_size")))
    return KeyPolicy(algorithms=tuple(algorithms), **durations), ttl


def _names(value, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{where}: a KSK name or a list of KSK names")
    return tuple(value)


def _schema(name: str, table: Mapping, keys: Mapping[str, KskDefinition], where: str) -> Schema:
    if name in BUILTIN_SCHEMAS:
        raise UsageError(f"{where}: {name!r} is a built-in schema; give yours another name")
    description = table.get("description", "")
    revoked_only = table.get("revoked_only_signers", False)
    if not isinstance(revoked_only, bool):
        raise UsageError(f"{where}: revoked_only_signers must be true or false")
    slots = {k: v for k, v in table.items() if k not in ("description", "revoked_only_signers")}
    expected = [str(n) for n in range(1, len(slots) + 1)]
    if sorted(slots, key=lambda s: (len(s), s)) != expected:
        raise UsageError(f"{where}: slots must be numbered 1..N without gaps (found {', '.join(slots)})")
    parsed = []
    for number in expected:
        slot = slots[number]
        slot_where = f"{where} slot {number}"
        if not isinstance(slot, Mapping):
            raise UsageError(f"{slot_where}: a table {{publish = [...], revoke = [...], sign = [...]}}")
        _only(slot, {"publish", "revoke", "sign"}, slot_where)
        parsed.append(Slot(*(_names(slot.get(part, []), f"{slot_where}: {part}") for part in ("publish", "revoke", "sign"))))
    schema = validate_schema(Schema(name, tuple(parsed), description, revoked_only))
    unknown = schema.key_names() - keys.keys()
    if unknown:
        raise UsageError(f"{where} names KSK(s) {', '.join(sorted(unknown))}, which [keys] does not define")
    return schema


def load_signing_config(path: Path) -> SigningConfig:
    where = f"signing configuration {path}"
    document = read_toml(path, "signing configuration")
    _only(document, {"policy", "default_schema", "hsm", "response", "ksk_policy", "keys", "schemas", "offline_ksk"},
          where)
    if "hsm" not in document:
        raise UsageError(f"{where}: the [hsm] table is required")
    response = _table(document, "response", where)
    _only(response, {"layout"}, f"{where} [response]")
    layout = response.get("layout", "kskm")
    if layout not in LAYOUTS:
        raise UsageError(f"{where}: [response] layout must be one of {', '.join(LAYOUTS)}")
    keys = {name: _key_definition(name, table, f"{where} [keys.{name}]")
            for name, table in _table(document, "keys", where).items()}
    if not keys:
        raise UsageError(f"{where}: define at least one KSK under [keys.NAME]")
    labels = [k.label for k in keys.values()]
    if len(set(labels)) != len(labels):
        raise UsageError(f"{where}: two [keys] definitions share an HSM label")
    policy_spec = document.get("policy", "root")
    if isinstance(policy_spec, str) and is_policy_path(policy_spec):
        policy_spec = str((path.parent / policy_spec).resolve())
    offline_ksk = None
    if "offline_ksk" in document:
        # Imported here: only a configuration that signs Knot DNS / BIND 9 requests has the table.
        from appliance.signing.offline_ksk_config import rules_from_table

        offline_ksk = rules_from_table(_table(document, "offline_ksk", where), keys, f"{where} [offline_ksk]")
    if offline_ksk is not None and "ksk_policy" not in document:
        ksk_policy, ttl = None, 0  # signs Knot/BIND requests only
    else:
        ksk_policy, ttl = _ksk_policy(_table(document, "ksk_policy", where), f"{where} [ksk_policy]")
    schemas = {name: _schema(name, table, keys, f"{where} [schemas.{name}]")
               for name, table in _table(document, "schemas", where).items()}
    return SigningConfig(
        source=path, policy=policy_spec, default_schema=document.get("default_schema", "normal"),
        hsm=profile_from_table(document["hsm"], path.parent), layout=LAYOUTS[layout],
        ksk_policy=ksk_policy, ksk_ttl=ttl, keys=keys, schemas=schemas, offline_ksk=offline_ksk,
    )
