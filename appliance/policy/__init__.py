"""The policy room: may this request be signed? One function per check ID, all of them run.

    load_policy(FILE or era name or None) -> Policy        (appliance.policy.config)
    check_request_bytes(ksr_bytes, policy, previous_skr_bytes=None, now=None) -> RequestOutcome
    validate_request(request, policy, previous=None, now=None) -> Verdict
    validate_response(response, trust_anchors=None, request=None, now=None) -> Verdict
"""

from appliance.policy.config import Policy, load_policy
from appliance.policy.runner import RequestOutcome, check_request_bytes, validate_request, validate_response

__all__ = [
    "Policy",
    "RequestOutcome",
    "check_request_bytes",
    "load_policy",
    "validate_request",
    "validate_response",
]
