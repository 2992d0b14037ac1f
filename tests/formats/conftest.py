"""Fixtures for the formats tests: two real files most tests mutate."""

import pytest

from tests.formats.realfiles import DATA


@pytest.fixture
def ksr_2017_q2() -> bytes:
    return (DATA / "dnssec-keytools" / "ksr-root-2017-q2-0.xml").read_bytes()


@pytest.fixture
def skr_2017_q1() -> bytes:
    return (DATA / "dnssec-keytools" / "skr-root-2017-q1-0.xml").read_bytes()
