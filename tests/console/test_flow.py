"""The state machine alone, without a terminal: the order of steps and the transitions allowed."""

import asyncio

import pytest

from appliance.console import STEPS
from appliance.console.flow import TRANSITIONS, Step, run_ceremony


class Recorder:
    def __init__(self):
        self.steps = []

    def step(self, heading):
        self.steps.append(heading)


class FakeCeremony:
    exit_code = 0

    def __init__(self):
        self.log = Recorder()


def scripted(transitions):
    """Step functions that return the next step from a script, recording the order."""
    pending = list(transitions)

    async def step(ceremony):
        return pending.pop(0)

    return {s: step for s in Step}


def test_every_step_has_a_module_and_a_row():
    assert set(STEPS) == set(Step) == set(TRANSITIONS)


def test_headings_count_the_six_steps():
    assert Step.CLOCK.heading == "Step 1 of 6: Set the clock"
    assert Step.NEXT.heading == "Step 6 of 6: Another request, or shut down"
    assert Step.SHUTDOWN.heading == "Shut down"


def test_two_requests_then_shutdown():
    ceremony = FakeCeremony()
    path = [Step.HSM, Step.REQUEST, Step.VERBAL, Step.SIGN, Step.NEXT, Step.REQUEST, Step.NEXT, Step.SHUTDOWN,
            Step.SHUTDOWN]
    assert asyncio.run(run_ceremony(ceremony, scripted(path))) == 0
    assert [h.split(": ")[-1] for h in ceremony.log.steps] == [
        "Set the clock", "Activate the HSM", "Import and check the request", "Verbal check of the request hash",
        "Sign and write the response", "Another request, or shut down", "Import and check the request",
        "Another request, or shut down", "Shut down"]


@pytest.mark.parametrize("path", [
    [Step.REQUEST],  # the clock step cannot skip the HSM
    [Step.HSM, Step.SIGN],  # nothing is signed without the request step
    [Step.HSM, Step.REQUEST, Step.SIGN],  # nor without the verbal check
    [Step.HSM, Step.REQUEST, Step.VERBAL, Step.SIGN, Step.SIGN],  # nor twice
])
def test_a_transition_outside_the_table_stops_the_ceremony(path):
    with pytest.raises(RuntimeError, match="may not lead to"):
        asyncio.run(run_ceremony(FakeCeremony(), scripted(path)))


def test_a_failure_made_good_stays_in_the_record_but_no_longer_sets_the_exit_code():
    from appliance.console.flow import Ceremony

    ceremony = Ceremony(*[None] * 6)
    ceremony.fail(4, "skr-a.xml: signed but written to no stick")
    ceremony.fail(4, "skr-a.xml: signed but written to no stick")  # signed twice, both given up
    ceremony.fail(1, "ksr-b.xml: refused")
    assert ceremony.made_good("skr-a.xml: signed but written to no stick", "verified later on stick X")
    assert ceremony.exit_code == 4  # the second copy is still on no stick
    assert ceremony.made_good("skr-a.xml: signed but written to no stick", "verified later on stick Y")
    assert not ceremony.made_good("skr-a.xml: signed but written to no stick", "again")
    assert ceremony.exit_code == 1
    assert ceremony.failures[0] == (0, "skr-a.xml: signed but written to no stick; verified later on stick X")
