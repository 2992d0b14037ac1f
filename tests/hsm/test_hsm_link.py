"""A network HSM's one static link ([hsm.network]): parsed strictly, refused on a machine with
another interface up, brought up before the PKCS#11 module loads, taken down when the session ends.

The last tests need root (marker `root`): they run in a fresh network namespace (`unshare -n`) on a
veth pair, so the host's own interfaces are never touched.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from appliance.errors import EXIT_HSM, UsageError
from appliance.hsm.network_link import LinkUp, NetworkLink, NetworkLinkError, link_from_table
from appliance.hsm.profile import profile_from_table
from tests.softhsm import make_token

REPO = Path(__file__).resolve().parents[2]
MAC = "02:00:5e:10:00:01"


def link(**extra) -> NetworkLink:
    table = {"mac": MAC, "address": "192.0.2.1/30", "hsm": "192.0.2.2"}
    table.update(extra)
    return link_from_table({k: v for k, v in table.items() if v is not None})


# --- the profile's table ------------------------------------------------------------------------

def test_a_link_is_one_interface_one_address_and_the_hsm_inside_its_prefix():
    parsed = link()
    assert parsed.mac == MAC and parsed.interface is None
    assert parsed.address == ipaddress.ip_interface("192.0.2.1/30") and str(parsed.hsm) == "192.0.2.2"
    assert parsed.describe() == f"MAC {MAC}, address 192.0.2.1/30, HSM at 192.0.2.2, no gateway"
    assert link(mac=None, interface="enp0s25", address="fd00::1/126", hsm="fd00::2").address.version == 6


@pytest.mark.parametrize("change, message", [
    ({"gateway": "192.0.2.254"}, "unknown .hsm.network. setting.s.: gateway"),
    ({"dns": "192.0.2.53"}, "no gateway"),
    ({"interface": "eth0"}, "exactly one of mac"),
    ({"mac": None}, "exactly one of mac"),
    ({"mac": "02:00:5e:10:00"}, "mac must look like"),
    ({"mac": None, "interface": "lo"}, "not a usable interface name"),
    ({"mac": None, "interface": "eth0; reboot"}, "not a usable interface name"),
    ({"address": "192.0.2.1"}, "needs its prefix length"),
    ({"address": "192.0.2.300/30"}, "192.0.2.300"),
    ({"hsm": None}, "hsm is required"),
    ({"hsm": "198.51.100.2"}, "must be another address inside 192.0.2.0/30: there is no gateway"),
    ({"hsm": "192.0.2.1"}, "must be another address inside"),
])
def test_anything_beyond_one_static_link_is_refused(change, message):
    with pytest.raises(UsageError, match=message):
        link(**change)


def test_the_profile_carries_the_link_and_without_one_touches_no_interface(tmp_path):
    base = {"token": "KSK", "module": "/usr/lib/x.so"}
    assert profile_from_table(base, tmp_path).network is None
    with_link = profile_from_table({**base, "network": {"interface": "eth1", "address": "10.0.0.1/30",
                                                        "hsm": "10.0.0.2"}}, tmp_path)
    assert with_link.network.interface == "eth1"


# --- bringing it up, with a stand-in for `ip` -----------------------------------------------------

class FakeIp:
    def __init__(self, links, routes=()):
        self.links = links
        self.routes = list(routes)
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, *args: str) -> str:
        self.calls.append(args)
        if args[:3] == ("-json", "link", "show"):
            return json.dumps(self.links)
        if "route" in args:
            return json.dumps(self.routes)
        return ""

    @property
    def changes(self):
        return [c for c in self.calls if c[0] != "-json"]


def interface(name, mac, up=False):
    return {"ifname": name, "address": mac, "flags": ["BROADCAST", "MULTICAST"] + (["UP"] if up else [])}


LINKS = [interface("lo", "00:00:00:00:00:00", up=True), interface("enp0s25", MAC), interface("wlan0", "02:00:00:00:00:09")]


def test_the_link_is_brought_up_with_its_address_and_taken_down_flushed(tmp_path):
    ip = FakeIp(LINKS, routes=[{"dst": "192.0.2.0/30", "dev": "enp0s25"},
                               {"type": "local", "dst": "192.0.2.1", "dev": "enp0s25"}])
    conf = tmp_path / "net/ipv6/conf/enp0s25"
    conf.mkdir(parents=True)
    up = LinkUp(link(), ip=ip, proc_sys=tmp_path, is_root=lambda: True)
    up.bring_up()
    assert up.describe() == f"enp0s25: MAC {MAC}, address 192.0.2.1/30, HSM at 192.0.2.2, no gateway"
    assert ip.changes == [("address", "flush", "dev", "enp0s25"),
                          ("address", "add", "192.0.2.1/30", "dev", "enp0s25"),
                          ("link", "set", "dev", "enp0s25", "up")]
    up.take_down()
    assert ip.changes[3:] == [("link", "set", "dev", "enp0s25", "down"), ("address", "flush", "dev", "enp0s25")]
    # An IPv4 link: no IPv6 on it at all, and never router advertisements or autoconfiguration.
    assert {f.name: f.read_text() for f in conf.iterdir()} == {"disable_ipv6": "1", "accept_ra": "0", "autoconf": "0"}


def test_an_ipv6_link_enables_ipv6_on_its_interface_alone_without_autoconfiguration(tmp_path):
    conf = tmp_path / "net/ipv6/conf/enp0s25"
    conf.mkdir(parents=True)
    ip = FakeIp(LINKS, routes=[{"dst": "fd00::/126", "dev": "enp0s25"}, {"dst": "fe80::/64", "dev": "enp0s25"}])
    LinkUp(link(address="fd00::1/126", hsm="fd00::2"), ip=ip, proc_sys=tmp_path, is_root=lambda: True).bring_up()
    assert {f.name: f.read_text() for f in conf.iterdir()} == {"disable_ipv6": "0", "accept_ra": "0", "autoconf": "0"}
    assert ("address", "add", "fd00::1/126", "dev", "enp0s25") in ip.changes


def test_nothing_is_changed_while_another_interface_is_up():
    ip = FakeIp(LINKS[:2] + [interface("wlan0", "02:00:00:00:00:09", up=True)])
    with pytest.raises(NetworkLinkError, match="interface.s. wlan0 already up") as refused:
        LinkUp(link(), ip=ip, is_root=lambda: True).bring_up()
    assert refused.value.exit_code == EXIT_HSM
    assert ip.changes == []


def test_a_missing_interface_lists_what_is_there():
    with pytest.raises(NetworkLinkError, match=r"no network interface with MAC 02:00:5e:10:00:99; "
                                               r"seen: enp0s25 \(02:00:5e:10:00:01\), wlan0"):
        LinkUp(link(mac="02:00:5e:10:00:99"), ip=FakeIp(LINKS), is_root=lambda: True).bring_up()


def test_only_root_brings_a_link_up():
    ip = FakeIp(LINKS)
    with pytest.raises(NetworkLinkError, match="only root may bring up"):
        LinkUp(link(), ip=ip, is_root=lambda: False).bring_up()
    assert ip.calls == []


def test_a_route_beyond_the_hsm_takes_the_link_down_again():
    ip = FakeIp(LINKS, routes=[{"dst": "192.0.2.0/30", "dev": "enp0s25"}, {"dst": "default", "gateway": "192.0.2.2",
                                                                           "dev": "enp0s25"}])
    with pytest.raises(NetworkLinkError, match="routes beyond the HSM's link exist.*default.*the link is down again"):
        LinkUp(link(), ip=ip, is_root=lambda: True).bring_up()
    assert ip.changes[-2:] == [("link", "set", "dev", "enp0s25", "down"), ("address", "flush", "dev", "enp0s25")]


# --- for real, in a network namespace of its own -------------------------------------------------

IN_NAMESPACE = textwrap.dedent("""
    import json, subprocess, sys
    from appliance.hsm import Hsm
    from appliance.hsm.profile import profile_from_table
    from appliance.errors import CeremonyError

    def ip(*args):
        return json.loads(subprocess.run(["ip", "-json", *args], check=True, capture_output=True, text=True).stdout)

    subprocess.run(["ip", "link", "add", "hsm0", "type", "veth", "peer", "name", "other0"], check=True)
    table = json.loads(sys.argv[1])
    table["network"] = {"mac": ip("link", "show", "hsm0")[0]["address"], "address": "192.0.2.1/30", "hsm": "192.0.2.2"}
    seen = {}
    with Hsm(profile_from_table(table, None)) as device:
        seen["identity"] = device.identity.lines()
        seen["during"] = ip("address", "show", "hsm0")[0]
        seen["routes"] = ip("-4", "route", "show")
    seen["after"] = ip("address", "show", "hsm0")[0]
    subprocess.run(["ip", "link", "set", "other0", "up"], check=True)
    try:
        Hsm(profile_from_table(table, None)).open()
    except CeremonyError as exc:
        seen["refused"] = [str(exc), exc.exit_code, ip("address", "show", "hsm0")[0]["operstate"]]
    print(json.dumps(seen))
""")


@pytest.mark.root
@pytest.mark.softhsm
def test_a_session_brings_the_link_up_first_and_leaves_it_down(tmp_path):
    token = make_token(tmp_path)
    done = subprocess.run(["unshare", "--net", sys.executable, "-c", IN_NAMESPACE, json.dumps(token.profile_table())],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert any(line.startswith("Network link:   hsm0: MAC ") and "192.0.2.1/30, HSM at 192.0.2.2" in line
               for line in seen["identity"])
    assert "UP" in seen["during"]["flags"]
    assert [(a["family"], a["local"], a["prefixlen"]) for a in seen["during"]["addr_info"]] == [("inet", "192.0.2.1", 30)]
    assert [r["dst"] for r in seen["routes"]] == ["192.0.2.0/30"]  # no default route: only the HSM is reachable
    assert "UP" not in seen["after"]["flags"] and seen["after"].get("addr_info", []) == []
    message, code, state = seen["refused"]
    assert "other0 already up" in message and code == EXIT_HSM and state == "DOWN"
