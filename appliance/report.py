"""What verify-ksr, verify-skr, the signer and the console show: the bundle table, verdict lines, JSON.

The table is the one operators know from ICANN's ceremonies:
     #  Inception            Expiration           ZSK Tags     KSK Tag
     1  2017-04-01T00:00:00  2017-04-22T00:00:00  14796,61045  19036/S
KSK tags carry /S when that KSK signed the bundle, /P when it is only published, and R when its
REVOKE bit is set. The JSON object's shape is a contract with scripts: keep it stable.

Text output is plain visible text: each violation message is one row with its request text (ids,
names) escaped by `appliance.text.shown`, and render_text passes every row through it again.
JSON keeps the values as they are; json.dumps escapes them.
"""

from __future__ import annotations

from collections.abc import Sequence

from appliance import dnssec
from appliance.digest import Fingerprint
from appliance.model import Bundle, Verdict
from appliance.policy.context import is_zsk, timestamp
from appliance.text import shown, shown_block


def _table_time(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _ksk_usage(bundle: Bundle) -> list[str]:
    signers = {s.key_identifier for s in bundle.signatures}
    marks = []
    for key in bundle.keys:
        if is_zsk(key):
            continue
        revoked = "R" if key.flags & dnssec.FLAG_REVOKE else ""
        marks.append(f"{key.key_tag}/{revoked}{'S' if key.key_identifier in signers else 'P'}")
    return marks


def bundle_table(bundles: Sequence[Bundle]) -> list[str]:
    zsk_columns = [",".join(str(k.key_tag) for k in b.keys if is_zsk(k)) for b in bundles]
    width = max([len("ZSK Tags"), *map(len, zsk_columns)])
    lines = [f"{'#':>2}  {'Inception':19}  {'Expiration':19}  {'ZSK Tags':{width}}  KSK Tag"]
    for number, (bundle, zsks) in enumerate(zip(bundles, zsk_columns), start=1):
        ksks = ",".join(_ksk_usage(bundle)) or "-"
        lines.append(
            f"{number:>2}  {_table_time(bundle.inception)}  {_table_time(bundle.expiration)}  {zsks:{width}}  {ksks}"
        )
    return lines


def verdict_lines(verdict: Verdict) -> list[str]:
    """One PASS line per clean check, one FAIL line per violation, in the order the checks ran."""
    width = max((len(c) for c in verdict.checks_run), default=0)
    lines = []
    for check in verdict.checks_run:
        failures = verdict.failed(check)
        if not failures:
            lines.append(f"PASS  {check}")
        for violation in failures:
            lines.append(f"FAIL  {check:{width}}  {shown(violation.message, limit=None)}")
    return lines


def summary_line(verdict: Verdict, what: str) -> str:
    if verdict.valid:
        return f"{what} ACCEPTED: all {len(verdict.checks_run)} checks passed"
    failed = list(dict.fromkeys(v.check for v in verdict.violations))
    count = len(verdict.violations)
    return f"{what} REFUSED: {count} violation{'s' if count != 1 else ''} in {', '.join(failed)}"


def render_text(
    title: str,
    bundles: Sequence[Bundle] | None,
    verdict: Verdict,
    fingerprint: Fingerprint,
    notes: Sequence[str] = (),
    what: str = "REQUEST",
) -> str:
    """`title`: our own rows joined by LF, any outside text in them already shown()."""
    lines = [title, ""]
    if bundles:
        lines += bundle_table(bundles) + [""]
    lines += verdict_lines(verdict)
    lines += [f"NOTE  {note}" for note in notes]
    lines += ["", summary_line(verdict, what), "", fingerprint.render(f"Fingerprint of the {what.lower()} file")]
    return "\n".join(row for line in lines for row in shown_block(line))


def report_json(verdict: Verdict, fingerprint: Fingerprint, bundles: Sequence[Bundle] | None) -> dict:
    """{"valid","sha256","words","bundles":[{"id","inception","expiration","zsk_tags","ksk_tags"}],
    "violations":[{"check","message"}]}; times ISO 8601 UTC; ksk_tags lists every KSK in the bundle."""
    return {
        "valid": verdict.valid,
        "sha256": fingerprint.hex,
        "words": fingerprint.words,
        "bundles": [
            {
                "id": bundle.id,
                "inception": timestamp(bundle.inception),
                "expiration": timestamp(bundle.expiration),
                "zsk_tags": [k.key_tag for k in bundle.keys if is_zsk(k)],
                "ksk_tags": [k.key_tag for k in bundle.keys if not is_zsk(k)],
            }
            for bundle in bundles or ()
        ],
        "violations": [{"check": v.check, "message": v.message} for v in verdict.violations],
    }
