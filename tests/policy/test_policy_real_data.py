"""Acceptance on ICANN's real files: every KSR passes under its era, the known-bad one fails as it should."""

from datetime import timedelta

import pytest

from appliance.policy import check_request_bytes, load_policy, validate_request
from appliance.policy.runner import CHAIN_CHECKS, REQUEST_CHECKS
from tests.policy.realdata import (
    BAD_SWAPPED,
    ERAS,
    KEYTOOLS,
    KSR_2017_Q2,
    NOW_2017_Q2,
    SKR_2017_Q1,
    SKR_2018_Q1,
    bundle_numbers,
    real_ksrs,
    request,
    response,
    start_of,
)


def test_every_real_request_has_an_era():
    assert sorted(p.name for p in real_ksrs()) == sorted(ERAS)


@pytest.mark.parametrize("path", real_ksrs(), ids=lambda p: p.name)
@pytest.mark.parametrize("days_before_start", [0, 20, 60])  # quarter start, ceremony weeks
def test_real_request_accepted_under_its_era(path, days_before_start):
    era, previous = ERAS[path.name]
    now = start_of(request(path)) - timedelta(days=days_before_start)
    outcome = check_request_bytes(
        path.read_bytes(), load_policy(era), previous.read_bytes() if previous else None, now
    )
    assert outcome.verdict.violations == ()
    expected = ["KSR-XML"] + [c for c, _ in REQUEST_CHECKS] + ([c for c, _ in CHAIN_CHECKS] if previous else [])
    assert list(outcome.verdict.checks_run) == expected


@pytest.mark.parametrize("path", [p for p in real_ksrs() if ERAS[p.name][0] != "root"], ids=lambda p: p.name)
def test_older_requests_are_refused_under_the_current_policy(path):
    """The era files matter: the current root policy refuses the 15-day, RSA-1024 requests."""
    verdict = validate_request(request(path), load_policy("root"), now=start_of(request(path)))
    failed = {v.check for v in verdict.violations}
    assert {"KSR-POLICY-SIG-VALIDITY", "KSR-POLICY-ALG"} <= failed


def test_2017_q2_chains_onto_2017_q1():
    verdict = validate_request(request(KSR_2017_Q2), load_policy("root"), response(SKR_2017_Q1), NOW_2017_Q2)
    assert verdict.valid
    assert {"SKR-VERIFY", "KSR-CHAIN-ID", "KSR-CHAIN-KEYS", "KSR-CHAIN-OVERLAP"} <= set(verdict.checks_run)


def test_2017_q2_with_an_unrelated_previous_response_fails_chain_keys():
    verdict = validate_request(request(KSR_2017_Q2), load_policy("root"), response(SKR_2018_Q1), NOW_2017_Q2)
    failures = verdict.failed("KSR-CHAIN-KEYS")
    assert failures
    assert all("bundle 1 (dc1bc68c-b1c1-46f8-817f-ec893549f2be)" in v.message for v in failures)
    # The keys at fault are named by tag: 2017-q2's 14796/61045 against 2018-q1's last ZSKs.
    text = " ".join(v.message for v in failures)
    assert "14796" in text and "61045" in text


def test_2017_q2_signed_again_fails_chain_id():
    verdict = validate_request(
        request(KSR_2017_Q2), load_policy("root"), response(KEYTOOLS / "skr-root-2017-q2-0.xml"), NOW_2017_Q2
    )
    assert verdict.failed("KSR-CHAIN-ID")


def test_bad_swapped_signatures_fail_pop_naming_bundle_1_only():
    outcome = check_request_bytes(BAD_SWAPPED.read_bytes(), load_policy("root"), now=start_of(request(BAD_SWAPPED)))
    assert {v.check for v in outcome.verdict.violations} == {"KSR-BUNDLE-POP"}
    assert bundle_numbers(v.message for v in outcome.verdict.violations) == {1}
    assert all("0a8f7774-3bd3-4702-a923-f1d73f653bd6" in v.message for v in outcome.verdict.violations)
