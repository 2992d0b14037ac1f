"""Pieces of answer scripts shared by the console tests, named by what the operator does."""

from appliance.commands.demo import PIN
from tests.console.harness import now_typed

SET_CLOCK = [("clock.time", now_typed), ("clock.confirm", "yes"), ("clock.done", "")]
LOG_IN = [("hsm.pin", PIN), ("hsm.seen", "")]
IMPORT_WITH_PREVIOUS = [("request.choose", "1"), ("request.previous", "1")]
ACCEPT_AND_CONFIRM = [("request.accepted", ""), ("verbal.confirm", "yes")]
# The final log goes only to a stick the operators choose, even when one is in; the record stays until 'end'.
SHUT_DOWN = [("next", "shutdown"), ("shutdown.log.choose", "1"), ("shutdown.done", "end")]
