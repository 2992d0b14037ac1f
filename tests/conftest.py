"""Hypothesis settings for the whole suite.

Timing belongs in benchmarks, not in tests: no example has a deadline and slow generation is no failure (a loaded 2-core machine
once took 321 ms where hypothesis's default allows 200 ms). In CI (CI=true) the examples are
derived from each test's name, so a submission is judged on the same inputs every run; on a
developer's machine they stay random, which is how new faults are found."""

import os

from hypothesis import HealthCheck, settings

_UNTIMED = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("ceremony", **_UNTIMED)
settings.register_profile("ceremony-ci", derandomize=True, **_UNTIMED)
settings.load_profile("ceremony-ci" if os.environ.get("CI") == "true" else "ceremony")
