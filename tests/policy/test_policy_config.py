"""Policy files: the shipped ones load and say what they are; every mistake in a file is exit 2."""

from dataclasses import fields, replace
from datetime import timedelta
from importlib import resources

import pytest

from appliance.errors import UsageError
from appliance.policy import validate_request
from appliance.policy.config import (
    NEVER_SKIPPED,
    SKIPPABLE_CHECKS,
    Policy,
    Range,
    load_policy,
    policy_from_toml,
    shipped_policy_names,
)
from appliance.policy.runner import CHAIN_CHECKS, REQUEST_CHECKS, RESPONSE_CHECKS
from tests.policy.realdata import KSR_2017_Q2, NOW_2017_Q2, SKR_2018_Q1, request, response

ROOT_TOML = resources.files("appliance").joinpath("policies", "root.toml").read_text("utf-8")


def test_shipped_eras():
    assert shipped_policy_names() == ["bind-example", "bind-root", "knot-example", "knot-root",
                                      "root", "root-2009", "root-2010", "root-2016"]


def test_built_in_defaults_are_root_toml():
    assert replace(load_policy(None), source="") == replace(Policy(), source="")
    assert replace(load_policy("root"), source="") == replace(Policy(), source="")


@pytest.mark.parametrize("name", [n for n in shipped_policy_names() if n.startswith("root")])
def test_each_era_file_sets_every_knob_and_explains_itself(name):
    text = resources.files("appliance").joinpath("policies", f"{name}.toml").read_text("utf-8")
    header = [line for line in text.splitlines() if line.startswith("#")]
    joined = " ".join(header).lower()
    assert "era:" in joined and "sources:" in joined and "strict" in joined
    # Explicit rather than inherited: a reader of the file sees every value that applies.
    keys = {line.split("=")[0].strip() for line in text.splitlines() if "=" in line and not line.startswith("#")}
    assert len(keys) == 21


def test_era_values():
    assert load_policy("root-2009").bundle_count == 6
    assert load_policy("root-2010").rsa_sizes == (1024,)
    assert load_policy("root-2016").rsa_sizes == (1024, 2048)
    assert load_policy("root").validity == Range(timedelta(days=21), timedelta(days=21))
    for name in ("root-2009", "root-2010", "root-2016"):
        assert not load_policy(name).enforce_request_claims
        assert load_policy(name).relaxations()


def test_policy_from_a_path(tmp_path):
    path = tmp_path / "strict.toml"
    path.write_text(ROOT_TOML.replace('horizon = "P180D"', 'horizon = "P90D"'))
    policy = load_policy(str(path))
    assert policy.horizon == timedelta(days=90)
    assert policy.source == str(path)


def test_a_partial_file_keeps_the_root_defaults():
    policy = policy_from_toml('[keys]\nttl = 86400\n', "partial")
    assert policy.key_ttl == 86400
    assert replace(policy, key_ttl=172800, source="") == replace(Policy(), source="")


def test_algorithms_by_name_or_number():
    assert policy_from_toml('[keys]\nalgorithms = ["RSASHA256", 13, "ed25519"]\n', "x").algorithms == (8, 13, 15)


@pytest.mark.parametrize(
    "text,named",
    [
        ('[bundles]\ncout = 9\n', "'bundles.cout'"),
        ("colour = 1\n", "'colour'"),
        ("[extras]\na = 1\n", "'extras'"),
        ('[bundles]\ncount = "nine"\n', "bundles.count"),
        ("[bundles]\ncount = -1\n", "bundles.count"),
        ("[bundles]\ncount = 8\n", "keys_per_bundle has 9 entries"),
        ('[signatures]\nvalidity_min = "P22D"\n', "validity minimum"),
        ('[signatures]\nhorizon = "P1M"\n', "signatures.horizon"),
        ("[signatures]\nhorizon = 180\n", "signatures.horizon"),
        ('[keys]\nalgorithms = ["RSASHA1"]\n', "deprecated"),
        ('[keys]\nalgorithms = ["ROT13"]\n', "unknown DNSSEC algorithm"),
        ("[keys]\nalgorithms = []\n", "keys.algorithms"),
        ('[keys]\nexponent_must_match_request = "no"\n', "exponent_must_match_request"),
        ('domains = "."\n', "domains"),
        ("keys = 3\n", "[keys] must be a table"),
        ("[keys\n", "not valid TOML"),
        ('[checks]\nskip = ["KSR-BUNDLE-POP"]\n', "KSR-BUNDLE-POP cannot be skipped"),
        ('[checks]\nskip = ["KSR-XML"]\n', "KSR-XML cannot be skipped"),
        ('[checks]\nskip = ["KSR-FOO"]\n', "unknown check 'KSR-FOO'"),
        ('[checks]\nskip = "KSR-DOMAIN"\n', "checks.skip"),
    ],
)
def test_mistakes_are_usage_errors_naming_the_key(text, named):
    with pytest.raises(UsageError) as caught:
        policy_from_toml(text, "bad.toml")
    assert named in str(caught.value)
    assert "bad.toml" in str(caught.value)
    assert caught.value.exit_code == 2


def test_missing_policy_file_lists_the_shipped_ones(tmp_path):
    with pytest.raises(UsageError) as caught:
        load_policy(str(tmp_path / "nope.toml"))
    assert "root-2010" in str(caught.value)


def test_every_policy_field_is_reachable_from_toml():
    """No knob that only code can set: each field (but the source) appears in root.toml."""
    set_by_toml = policy_from_toml(ROOT_TOML, "root")
    for f in fields(Policy):
        if f.name != "source":
            assert getattr(set_by_toml, f.name) == getattr(Policy(), f.name)
    changed = ROOT_TOML
    for old, new in [
        ('domains = ["."]', 'domains = ["example."]'),
        ("count = 9", "count = 8"),
        ("keys_per_bundle = [2, 1, 1, 1, 1, 1, 1, 1, 2]", "keys_per_bundle = [2, 1, 1, 1, 1, 1, 1, 2]"),
        ("distinct_keys = 3", "distinct_keys = 4"),
        ('cycle_min = "P79D"', 'cycle_min = "P70D"'),
        ('cycle_max = "P81D"', 'cycle_max = "P90D"'),
        ('interval_min = "P9D"', 'interval_min = "P8D"'),
        ('interval_max = "P11D"', 'interval_max = "P12D"'),
        ('algorithms = ["RSASHA256"]', 'algorithms = ["RSASHA512"]'),
        ("rsa_sizes = [2048]", "rsa_sizes = [4096]"),
        ("rsa_exponents = [65537]", "rsa_exponents = [3]"),
        ("exponent_must_match_request = true", "exponent_must_match_request = false"),
        ("ttl = 172800", "ttl = 86400"),
        ('validity_min = "P21D"', 'validity_min = "P20D"'),
        ('validity_max = "P21D"', 'validity_max = "P22D"'),
        ('overlap_min = "P9D"', 'overlap_min = "P8D"'),
        ('overlap_max = "P12D"', 'overlap_max = "P13D"'),
        ("enforce_request_claims = true", "enforce_request_claims = false"),
        ('horizon = "P180D"', 'horizon = "P90D"'),
        ("skip = []", 'skip = ["KSR-CHAIN-OVERLAP"]'),
        ("requested_signers_must_match = false", "requested_signers_must_match = true"),
    ]:
        assert old in changed
        changed = changed.replace(old, new)
    everything_changed = policy_from_toml(changed, "changed")
    for f in fields(Policy):
        assert getattr(everything_changed, f.name) != getattr(Policy(), f.name), f.name


def test_every_check_is_either_skippable_or_never_skipped():
    ids = {c for c, _ in REQUEST_CHECKS + CHAIN_CHECKS + RESPONSE_CHECKS} | {"KSR-XML"}
    assert SKIPPABLE_CHECKS | NEVER_SKIPPED == ids
    assert not SKIPPABLE_CHECKS & NEVER_SKIPPED


def test_a_skipped_check_is_not_run_and_is_noted():
    policy = policy_from_toml('[checks]\nskip = ["KSR-CHAIN-KEYS", "KSR-CHAIN-OVERLAP"]\n', "skips")
    verdict = validate_request(request(KSR_2017_Q2), policy, response(SKR_2018_Q1), NOW_2017_Q2)
    assert "KSR-CHAIN-KEYS" not in verdict.checks_run and not verdict.failed("KSR-CHAIN-KEYS")
    assert "KSR-CHAIN-ID" in verdict.checks_run
    assert "checks.skip: KSR-CHAIN-KEYS is not run" in policy.relaxations()
