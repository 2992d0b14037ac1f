"""A request's bytes (and the previous response's) -> every check's verdict and the screen showing it.

The same functions as `ceremony verify-ksr` and `ceremony sign`: the request checks, then, with
the HSM, the KSKs matched to their definitions, the bundles planned from the schema, and the
checks that need them. What the console accepts is what the command line accepts. Runs in the
console's worker thread (it talks to the HSM): no UI calls here.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING

from appliance.errors import FormatError
from appliance.formats.detect import read_response
from appliance.model import Verdict
from appliance.policy import check_request_bytes, load_policy
from appliance.policy.text_checks import request_notes
from appliance.report import bundle_table, summary_line
from appliance.text import shown

if TYPE_CHECKING:  # the signing code (and the HSM's) loads once the HSM step runs, not with the console
    from appliance.signing.pipeline import Plan


@dataclass(frozen=True)
class Outcome:
    plan: Plan | None  # None when the file is not a readable request
    verdict: Verdict
    lines: list[str]  # the screen: policy, schema, bundle table, verdicts, summary


def check(ceremony, current) -> Outcome:
    from appliance.signing.pipeline import prepare

    config = ceremony.config
    policy = load_policy(ceremony.settings.policy or config.policy)
    now = ceremony.clock.now()
    result = check_request_bytes(current.data, policy, current.previous_data, now=now)
    previous = None
    if current.previous_data is not None:
        try:
            previous = read_response(current.previous_data)
        except FormatError:
            previous = None  # already a violation in the verdict
    plan, verdict, details = None, result.verdict, []
    if result.request is not None:
        plan = prepare(config, ceremony.hsm, result.request, result.verdict, previous, ceremony.settings.schema,
                       policy.requested_signers_must_match)
        verdict = plan.verdict
        schema = plan.schema
        details.append(f"Schema: {schema.name}" + (f" ({schema.description})" if schema.description else ""))
        bundles = [planned.preview() for planned in plan.bundles] or list(result.request.bundles)
        details += [""] + bundle_table(bundles)
    summary = summary_line(verdict, "REQUEST")
    # The verdict first, so it is on the screen before any scrolling, and again at the end.
    lines = [summary,
             f"Request {shown(current.name)}" + (f", previous response {shown(current.previous_name)}"
                                          if current.previous_name else ", no previous response"),
             f"Policy: {policy.source}; checked at {now:%Y-%m-%d %H:%M:%S} UTC"]
    lines += [f"NOTE: {note}" for note in
              policy.relaxations() + request_notes(result.request) + list(plan.notes if plan else ())]
    lines += details + [""] + verdict_lines(verdict) + ["", summary]
    return Outcome(plan, verdict, lines)


def sign(ceremony, current) -> bytes:
    """The response's bytes: every bundle signed in the HSM, each signature and the whole verified."""
    from appliance.signing.pipeline import sign_plan

    return sign_plan(ceremony.config, ceremony.hsm, current.plan)


def verdict_lines(verdict: Verdict) -> list[str]:
    """Every check's verdict, compact enough for 25 rows: passes listed together, each failure alone."""
    passed = [c for c in verdict.checks_run if not verdict.failed(c)]
    # 76 columns: the log indents screen text by four and still prints within 80.
    lines = textwrap.wrap("PASS  " + ", ".join(passed), 76, subsequent_indent="      ",
                          break_on_hyphens=False) if passed else []
    for violation in verdict.violations:
        lines.append(f"FAIL  {violation.check}: {shown(violation.message, limit=None)}")
    return lines
