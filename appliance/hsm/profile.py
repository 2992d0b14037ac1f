"""HSM profiles: which PKCS#11 module, which token, where the PIN comes from, what the module needs.

Read from the `[hsm]` table of a TOML file. Tokens are named by label or by an RFC 7512 `pkcs11:`
URI, never by slot number. The PIN is prompted for unless a file or environment variable is named,
which is for tests and demos only and reported through `pin_source_note` so the caller logs it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

from appliance.errors import UsageError
from appliance.settings import read_toml

if TYPE_CHECKING:
    from appliance.hsm.network_link import NetworkLink

DEFAULT_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
RSA_MECHANISMS = ("SHA256_RSA_PKCS", "RSA_PKCS")
# Seconds the console waits for any one answer of the HSM (appliance.hsm.bounded): a signature or
# a login takes well under a second on a USB or network HSM; a link that went silent never answers.
ANSWER_WITHIN = 60.0
ANSWER_WITHIN_RANGE = (1.0, 3600.0)


_URI_ATTRIBUTES = {"token", "manufacturer", "serial", "model", "object"}


def parse_pkcs11_uri(uri: str) -> dict[str, str]:
    """The path attributes of an RFC 7512 `pkcs11:` URI that select a token and a key."""
    if not uri.startswith("pkcs11:"):
        raise UsageError(f"not a pkcs11: URI: {uri!r}")
    path, _, query = uri[len("pkcs11:") :].partition("?")
    if query:
        # PIN and module queries would bypass the profile's own, logged, settings.
        raise UsageError(f"pkcs11: URI query attributes are not accepted ({query!r}); use the profile's fields")
    attributes: dict[str, str] = {}
    for part in filter(None, path.split(";")):
        name, equals, value = part.partition("=")
        if not equals:
            raise UsageError(f"pkcs11: URI attribute without a value: {part!r}")
        if name not in _URI_ATTRIBUTES:
            raise UsageError(
                f"pkcs11: URI attribute {name!r} is not supported (use {', '.join(sorted(_URI_ATTRIBUTES))})"
            )
        if name in attributes:
            raise UsageError(f"pkcs11: URI attribute {name!r} given twice")
        attributes[name] = unquote(value, errors="strict")
    if "token" not in attributes:
        raise UsageError(f"pkcs11: URI must name the token (token=...): {uri!r}")
    return attributes


@dataclass(frozen=True)
class TokenSelector:
    """What identifies the token: its label, and optionally manufacturer, model and serial."""

    label: str
    manufacturer: str | None = None
    model: str | None = None
    serial: str | None = None

    def describe(self) -> str:
        extra = [f"{name} {value!r}" for name, value in
                 (("manufacturer", self.manufacturer), ("model", self.model), ("serial", self.serial)) if value]
        return f"token {self.label!r}" + (f" ({', '.join(extra)})" if extra else "")


@dataclass(frozen=True, eq=False, repr=False)  # a whole profile, never compared: as policy.context.RequestContext
class HsmProfile:
    """How to reach the KSK: module, token, PIN source, environment, and mechanism options."""

    module: str
    token: TokenSelector
    key_label: str | None = None  # from a URI's object=, the default key for `keys export`
    pin_file: Path | None = None
    pin_env: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    inherit_environment: tuple[str, ...] = ()
    rsa_mechanism: str = "SHA256_RSA_PKCS"
    network: NetworkLink | None = None  # a network HSM's one static link; None: no interface is touched
    answer_within: float = ANSWER_WITHIN  # seconds the console waits for one answer ([hsm.options])

    @property
    def pin_source_note(self) -> str | None:
        """What the caller must log when the PIN is not typed by the operator, else None."""
        if self.pin_file is not None:
            return f"HSM PIN read from file {self.pin_file} (tests and demos only)"
        if self.pin_env is not None:
            return f"HSM PIN read from environment variable {self.pin_env} (tests and demos only)"
        return None


def profile_from_table(table: Mapping, base_dir: Path) -> HsmProfile:
    """An HsmProfile from the `[hsm]` table of a TOML file; relative paths are from `base_dir`."""
    known = {"module", "token", "pin_file", "pin_env", "environment", "inherit_environment", "options", "network"}
    unknown = set(table) - known
    if unknown:
        raise UsageError(f"unknown [hsm] setting(s): {', '.join(sorted(unknown))}")
    token_text = table.get("token")
    if not isinstance(token_text, str) or not token_text:
        raise UsageError("[hsm] token is required: a token label or a pkcs11: URI")
    key_label = None
    if token_text.startswith("pkcs11:"):
        uri = parse_pkcs11_uri(token_text)
        token = TokenSelector(uri["token"], uri.get("manufacturer"), uri.get("model"), uri.get("serial"))
        key_label = uri.get("object")
    else:
        token = TokenSelector(token_text)
    if "pin_file" in table and "pin_env" in table:
        raise UsageError("[hsm] give at most one of pin_file and pin_env (the default is to prompt)")
    pin_file = Path(table["pin_file"]) if "pin_file" in table else None
    if pin_file is not None and not pin_file.is_absolute():
        pin_file = base_dir / pin_file
    environment = table.get("environment", {})
    inherit = table.get("inherit_environment", [])
    options = table.get("options", {})
    if not isinstance(environment, Mapping) or not all(isinstance(v, str) for v in environment.values()):
        raise UsageError("[hsm.environment] must map variable names to strings")
    if not isinstance(inherit, list) or not all(isinstance(v, str) for v in inherit):
        raise UsageError("[hsm] inherit_environment must be a list of variable names")
    unknown_options = set(options) - {"rsa_mechanism", "answer_within"}
    if unknown_options:
        raise UsageError(f"unknown [hsm.options] setting(s): {', '.join(sorted(unknown_options))}")
    rsa_mechanism = options.get("rsa_mechanism", "SHA256_RSA_PKCS")
    if rsa_mechanism not in RSA_MECHANISMS:
        raise UsageError(f"[hsm.options] rsa_mechanism must be one of {', '.join(RSA_MECHANISMS)}")
    answer_within = options.get("answer_within", ANSWER_WITHIN)
    low, high = ANSWER_WITHIN_RANGE
    if isinstance(answer_within, bool) or not isinstance(answer_within, (int, float)) or not low <= answer_within <= high:
        raise UsageError(f"[hsm.options] answer_within must be a number of seconds from {low:.0f} to {high:.0f}")
    return HsmProfile(
        module=str(table.get("module", DEFAULT_MODULE)),
        token=token,
        key_label=key_label,
        pin_file=pin_file,
        pin_env=table.get("pin_env"),
        environment=dict(environment),
        inherit_environment=tuple(inherit),
        rsa_mechanism=rsa_mechanism,
        network=_network_link(table["network"]) if "network" in table else None,
        answer_within=float(answer_within),
    )


def load_profile(path: Path) -> HsmProfile:
    """An HSM profile file: a TOML document with one `[hsm]` table."""
    data = read_toml(path, "HSM profile")
    if "hsm" not in data:
        raise UsageError(f"HSM profile {path} has no [hsm] table")
    return profile_from_table(data["hsm"], path.parent)


def _network_link(table: Mapping) -> NetworkLink:
    # Imported only for a network HSM: iproute2's plumbing is no cost to a profile without one.
    from appliance.hsm.network_link import link_from_table

    return link_from_table(table)
