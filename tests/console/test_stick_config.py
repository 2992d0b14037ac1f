"""A signing configuration found on a stick is never taken silently (case
../shared/cases/hostile-stick/18): it may name only the image's PKCS#11 modules, no PIN file or
variable, and only the module variables allowed; the operators see its name, size, SHA-256 and
PGP words and type 'yes' before it is used."""

from pathlib import Path

import pytest

from appliance.commands.demo import PIN
from appliance.digest import Fingerprint
from appliance.hsm.profile import profile_from_table
from appliance.hsm.stick_profile import IMAGE_TRANSPORT, stick_profile_faults
from tests.console.harness import flat, run_script, snapshotting
from tests.console.scripts import SET_CLOCK

SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"


def faults(**table):
    return stick_profile_faults(profile_from_table({"token": "t", **table}, base_dir=Path("/")))


def test_what_a_stick_may_name():
    assert faults(module=SOFTHSM, environment={"SOFTHSM2_CONF": "/etc/softhsm/softhsm2.conf"}) == []
    assert faults(module="/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so",
                  environment={"P11_KIT_SERVER_ADDRESS": IMAGE_TRANSPORT}) == []  # the image's own VM test
    assert faults(module=SOFTHSM, inherit_environment=["SOFTHSM2_CONF"]) == []


@pytest.mark.parametrize("table, words", [
    ({"module": "/usr/lib/x86_64-linux-gnu/libz.so.1"}, "module '/usr/lib/x86_64-linux-gnu/libz.so.1' is not one of"),
    ({"module": "/run/ceremony/media/sdb1/libsofthsm2-copy.so"}, "is not one of the image's PKCS#11 modules"),
    ({"module": SOFTHSM, "pin_file": "/dev/zero"}, "pin_file is not accepted from a stick"),
    ({"module": SOFTHSM, "pin_env": "HOME"}, "pin_env is not accepted from a stick"),
    ({"module": SOFTHSM, "environment": {"PATH": "/nonexistent"}}, "PATH = '/nonexistent' is not accepted"),
    ({"module": SOFTHSM, "environment": {"LD_PRELOAD": "/x.so"}}, "LD_PRELOAD = '/x.so' is not accepted"),
    ({"module": "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so",
      "environment": {"P11_KIT_SERVER_ADDRESS": "|/bin/sh -c reboot"}}, "only with the image's own value"),
    ({"module": SOFTHSM, "inherit_environment": ["LD_LIBRARY_PATH"]}, "inherit_environment LD_LIBRARY_PATH"),
    ({"module": SOFTHSM, "environment": {"SOFTHSM2_CONF\n": "x"}}, "SOFTHSM2_CONF\\n = 'x'"),  # shown escaped
])
def test_what_a_stick_may_not_name(table, words):
    found = faults(**table)
    assert len(found) == 1 and words in found[0], found


def config_on_the_request_stick(demo, monkeypatch, text: str) -> bytes:
    """The configuration on the only stick (the request's), the image carrying none."""
    from appliance.console import preflight

    monkeypatch.setattr(preflight, "IMAGE_CONFIG", demo.directory / "no-such-image-config.toml")
    data = text.encode()
    (demo.stick / "ceremony.toml").write_bytes(data)
    return data


@pytest.mark.softhsm
@pytest.mark.parametrize("change, reason", [
    (lambda t: t.replace(f'module = "{SOFTHSM}"', 'module = "/usr/lib/x86_64-linux-gnu/libz.so.1"'),
     "module '/usr/lib/x86_64-linux-gnu/libz.so.1' is not one of the image's PKCS#11 modules"),
    (lambda t: t.replace('token = "ceremony-demo"', 'token = "ceremony-demo"\npin_file = "/etc/hostname"'),
     "pin_file is not accepted from a stick"),
    (lambda t: t.replace("[hsm.environment]", '[hsm.environment]\nPATH = "/nonexistent"'),
     "[hsm.environment] PATH = '/nonexistent' is not accepted from a stick"),
], ids=["module", "pin_file", "PATH"])
def test_a_configuration_naming_what_a_stick_may_not_is_refused_before_any_module_loads(
        demo, sticks, monkeypatch, change, reason):
    from appliance.hsm import session

    opened = []
    monkeypatch.setattr(session.Hsm, "open", lambda self: opened.append(self.profile.module))
    config_on_the_request_stick(demo, monkeypatch, change(demo.config.read_text()))
    run = run_script(sticks, SET_CLOCK + [("hsm.config.other", "cancel"), ("hsm.end", "end"),
                                          ("shutdown.log.choose", "1"), ("shutdown.done", "end")], config=None)
    text = flat(run.log)
    assert "The configuration cannot be used: ceremony.toml on stick KSR-STICK (folder) names what a " \
           "configuration from a stick may not: " in text
    assert reason in text
    assert "No configuration: the ceremony cannot continue." in text
    assert opened == []  # no module was loaded, no PIN file read


@pytest.mark.softhsm
def test_a_configuration_from_a_stick_is_shown_with_its_hash_and_used_only_after_yes(demo, sticks, monkeypatch):
    data = config_on_the_request_stick(demo, monkeypatch, demo.config.read_text())
    fingerprint = Fingerprint.of(data)
    screens = {}
    run = run_script(sticks, SET_CLOCK + [("hsm.config.confirm", "no"), ("hsm.config.other", ""),
                                          ("hsm.config.confirm", "yes"), ("hsm.pin", PIN), ("hsm.seen", ""),
                                          ("request.choose", "cancel"), ("next", "shutdown"),
                                          ("shutdown.log.choose", "1"), ("shutdown.done", "end")],
                     config=None, autopilot=snapshotting(screens))
    page = "\n".join(screens["hsm.config.confirm"])
    assert f"SHA-256 of the configuration ({len(data)} bytes):" in page
    assert fingerprint.hex[:4].upper() in page and fingerprint.words[31].upper() in page
    assert "File: ceremony.toml" in page and "On stick KSR-STICK (folder)." in page
    assert f"It names the module {SOFTHSM}" in page
    text = flat(run.log)
    assert f"Configuration ceremony.toml read from stick KSR-STICK (folder): {len(data)} bytes, " \
           f"SHA-256 {fingerprint.hex}" in text
    assert "ceremony.toml from stick KSR-STICK (folder) is NOT used." in text  # after the 'no'
    assert "Use this configuration? Type 'yes' (anything else: not used): -> 'yes'" in text
    assert "HSM activated." in text


def test_the_image_tests_configuration_stick_is_one_a_stick_may_carry():
    """image/qemu_test.py's guest configuration reaches the host's token through the image's own
    transport: the stick rules must let it through, or the whole-ceremony test cannot log in."""
    import tomllib

    from image.hsm_bridge import guest_hsm_table

    table = tomllib.loads(guest_hsm_table("ceremony-demo"))["hsm"]
    assert stick_profile_faults(profile_from_table(table, Path("/"))) == []


@pytest.mark.softhsm
def test_a_configuration_logged_whole_starts_no_row_that_reads_as_ours(demo, sticks, monkeypatch):
    """The file is the stick's: a multi-line string in it holds any line, a hash row of ours among
    them. In the log each of its lines is marked as the file's, behind our indentation."""
    import re

    from appliance.ceremonylog import QUOTED
    from tests.console.test_ceremonylog import FORGED, FORGED_ROW

    text = demo.config.read_text().replace('description = "generated for this demo inside its SoftHSM token"',
                                           f'description = """\n{FORGED_ROW}\n"""')
    assert FORGED_ROW in text
    data = config_on_the_request_stick(demo, monkeypatch, text)
    run = run_script(sticks, SET_CLOCK + [("hsm.config.confirm", "no"), ("hsm.config.other", "cancel"),
                                          ("hsm.end", "end"), ("shutdown.log.choose", "1"),
                                          ("shutdown.done", "end")], config=None)
    rows = run.ceremony.log.render().split("\n")
    assert f"Configuration ceremony.toml read from stick KSR-STICK (folder): {len(data)} bytes, " in flat(run.log)
    assert "    " + QUOTED + FORGED_ROW in rows  # the line, whole, marked as the file's
    for row in rows:
        assert not (re.match(r"\s*\d{1,2}:[0-9A-F]{4}\b", row) and FORGED.search(row)), row
