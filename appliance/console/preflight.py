"""What `ceremony run` checks before its first question: everything that needs no operator.

The configuration (named, or the image's), the request policy, the signing schema, and the HSM's
PKCS#11 module file. A fault here is a usage error (exit code 2) printed before the console
starts, so no operator types the time or a PIN into a ceremony that could not have gone on. A
configuration brought on a stick is put through the same checks (`usable`) when it is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from appliance.errors import UsageError
from appliance.policy import load_policy
from appliance.policy.config import Policy
from appliance.settings import DEFAULT_CONFIG

if TYPE_CHECKING:  # the signing code loads when the check runs, not with the console (see docs/benchmarks.md)
    from appliance.signing.config import SigningConfig

# Where the image carries its configuration; without it, the operators bring it on a stick.
IMAGE_CONFIG = DEFAULT_CONFIG
# Any request has at least this many bundles for a schema to be looked up (the revoking ones need 3).
_ANY_BUNDLE_COUNT = 3


@dataclass(frozen=True)
class Prepared:
    config: SigningConfig | None  # None: it comes on a stick, and is checked when read
    policy: Policy | None  # None: the configuration from the stick names it


def check(settings) -> Prepared:
    """Loads and checks what `settings` (console.flow.Settings) names; raises UsageError naming it."""
    from appliance.signing.config import load_signing_config

    path = settings.config or (IMAGE_CONFIG if IMAGE_CONFIG.is_file() else None)
    if path is None:
        policy = load_policy(settings.policy) if settings.policy else None
        return Prepared(None, policy)
    config = load_signing_config(Path(path))
    return Prepared(config, usable(config, settings))


def usable(config: SigningConfig, settings) -> Policy:
    """The request policy the ceremony will use; UsageError when the policy, the schema or the
    PKCS#11 module named (on the command line or in the configuration) does not exist."""
    policy = load_policy(settings.policy or config.policy)
    config.schema(settings.schema, _ANY_BUNDLE_COUNT)  # an unknown name is a UsageError naming it
    if not Path(config.hsm.module).is_file():
        raise UsageError(f"{config.source}: the HSM's PKCS#11 module {config.hsm.module} does not exist")
    return policy
