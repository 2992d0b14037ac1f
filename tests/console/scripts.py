"""Pieces of answer scripts shared by the console tests, named by what the operator does."""

from appliance.commands.demo import PIN
from tests.console.harness import now_typed

SET_CLOCK = [("clock.time", now_typed), ("clock.confirm", "yes")]
LOG_IN = [("hsm.pin", PIN), ("hsm.seen", "")]
IMPORT_WITH_PREVIOUS = [("request.choose", "1"), ("request.previous", "1")]
ACCEPT_AND_CONFIRM = [("request.accepted", ""), ("verbal.confirm", "yes")]
SHUT_DOWN = [("next", "shutdown"), ("shutdown.done", "")]
