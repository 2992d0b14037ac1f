"""The one static network link a network HSM may ask for, and nothing more.

The appliance brings no interface up by itself. A network-attached HSM (on a crossover cable to
the laptop) needs one: its profile's `[hsm.network]` table names the interface (by MAC address,
as names differ between laptops, or by name), this laptop's address with its prefix, and the HSM's
address inside that prefix. No gateway, no DNS, no DHCP, no router advertisements: only the
connected route exists, so nothing but the HSM is reachable. The link is refused while any other
interface is up, and taken down again when the HSM session closes.

iproute2 (`ip -json`) does the work: it is on the image already, and its JSON output needs no parser
of our own.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from appliance.errors import HsmError, UsageError

_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")  # IFNAMSIZ - 1, no separators
_SETTINGS = {"mac", "interface", "address", "hsm"}

Ip = Callable[..., str]  # runs `ip ARGS...`, returns its standard output


class NetworkLinkError(HsmError):
    """The HSM's network link could not be set up as the profile asks (exit 3, like any HSM failure)."""


@dataclass(frozen=True)
class NetworkLink:
    """One interface, one static address, one peer: the HSM."""

    address: ipaddress.IPv4Interface | ipaddress.IPv6Interface  # this laptop, with the prefix
    hsm: ipaddress.IPv4Address | ipaddress.IPv6Address
    mac: str | None = None
    interface: str | None = None

    @property
    def selector(self) -> str:
        """How the profile names the interface."""
        return f"MAC {self.mac}" if self.mac else f"interface {self.interface}"

    def describe(self) -> str:
        return f"{self.selector}, address {self.address.with_prefixlen}, HSM at {self.hsm}, no gateway"


def link_from_table(table: Mapping) -> NetworkLink:
    """A NetworkLink from the `[hsm.network]` table of an HSM profile."""
    unknown = set(table) - _SETTINGS
    if unknown:
        # A gateway or DNS server would reach beyond the HSM; say so rather than just "unknown".
        raise UsageError(f"unknown [hsm.network] setting(s): {', '.join(sorted(unknown))} "
                         f"(only {', '.join(sorted(_SETTINGS))}: one static link to the HSM, no gateway)")
    if ("mac" in table) == ("interface" in table):
        raise UsageError("[hsm.network] names the interface by exactly one of mac (preferred) or interface")
    mac = table.get("mac")
    if mac is not None and not (isinstance(mac, str) and _MAC.match(mac.lower())):
        raise UsageError(f"[hsm.network] mac must look like 00:11:22:33:44:55, not {mac!r}")
    name = table.get("interface")
    if name is not None and (not isinstance(name, str) or not _NAME.match(name) or name == "lo"):
        raise UsageError(f"[hsm.network] interface is not a usable interface name: {name!r}")
    try:
        address = ipaddress.ip_interface(str(table["address"]))
        hsm = ipaddress.ip_address(str(table["hsm"]))
    except KeyError as missing:
        raise UsageError(f"[hsm.network] {missing.args[0]} is required") from None
    except ValueError as exc:
        raise UsageError(f"[hsm.network] {exc}") from None
    if "/" not in str(table["address"]):
        raise UsageError("[hsm.network] address needs its prefix length, e.g. 192.0.2.1/30")
    if hsm not in address.network or hsm == address.ip:
        raise UsageError(f"[hsm.network] the HSM's address {hsm} must be another address inside "
                         f"{address.network}: there is no gateway")
    return NetworkLink(address=address, hsm=hsm, mac=mac.lower() if mac else None, interface=name)


def run_ip(*args: str) -> str:
    try:
        done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False, timeout=30)
    except FileNotFoundError:
        raise NetworkLinkError("the network HSM's link needs iproute2's `ip` command, which is missing") from None
    if done.returncode != 0:
        raise NetworkLinkError(f"`ip {' '.join(args)}` failed: {done.stderr.strip() or done.returncode}")
    return done.stdout


class LinkUp:
    """Brings the profile's link up, and takes it down (address flushed) when the HSM session closes."""

    def __init__(self, link: NetworkLink, ip: Ip = run_ip, proc_sys: Path = Path("/proc/sys"),
                 is_root: Callable[[], bool] = lambda: os.geteuid() == 0):
        self.link = link
        self._ip = ip
        self._proc_sys = proc_sys
        self._is_root = is_root
        self.name: str | None = None  # the interface, once found

    def bring_up(self) -> None:
        if not self._is_root():
            raise NetworkLinkError("the HSM profile asks for a network link, which only root may bring up "
                                   "(the appliance runs as root on the DVD)")
        links = json.loads(self._ip("-json", "link", "show") or "[]")
        self.name = self._find(links)
        others = sorted(entry["ifname"] for entry in links
                        if "UP" in entry.get("flags", ()) and entry["ifname"] not in ("lo", self.name))
        if others:
            raise NetworkLinkError(f"interface(s) {', '.join(others)} already up: the appliance brings up "
                                   "only the HSM's link, on an otherwise isolated machine")
        self._quiet_ipv6()
        self._ip("address", "flush", "dev", self.name)
        self._ip("address", "add", self.link.address.with_prefixlen, "dev", self.name)
        self._ip("link", "set", "dev", self.name, "up")
        self._check_routes()

    def describe(self) -> str:
        """What is up, for the HSM identity the operators see and the log keeps."""
        return f"{self.name}: {self.link.describe()}"

    def take_down(self) -> None:
        if self.name is None:
            return
        name, self.name = self.name, None
        self._ip("link", "set", "dev", name, "down")
        self._ip("address", "flush", "dev", name)

    def _find(self, links: list[dict]) -> str:
        link = self.link
        matches = [entry["ifname"] for entry in links
                   if (link.mac and entry.get("address", "").lower() == link.mac) or entry["ifname"] == link.interface]
        if not matches:
            seen = ", ".join(f"{e['ifname']} ({e.get('address', '-')})" for e in links if e["ifname"] != "lo")
            raise NetworkLinkError(f"no network interface with {link.selector}; "
                                   f"seen: {seen or 'none'}")
        if len(matches) > 1:
            raise NetworkLinkError(f"{len(matches)} interfaces match {link.selector}: "
                                   f"{', '.join(matches)}")
        return matches[0]

    def _quiet_ipv6(self) -> None:
        """No router advertisements or address autoconfiguration; no IPv6 at all on an IPv4 link.

        The DVD disables IPv6 by default (sysctl), so an IPv6 link enables it on this interface only.
        """
        conf = self._proc_sys / "net/ipv6/conf" / self.name
        if not conf.is_dir():
            return  # IPv6 is not in this kernel
        settings = {"accept_ra": "0", "autoconf": "0", "disable_ipv6": "1" if self.link.address.version == 4 else "0"}
        for name, value in settings.items():
            (conf / name).write_text(value)

    def _check_routes(self) -> None:
        """Only the connected route of our prefix: anything else would reach beyond the HSM."""
        family = "-4" if self.link.address.version == 4 else "-6"
        routes = json.loads(self._ip("-json", family, "route", "show", "table", "all") or "[]")
        beyond = [route for route in routes if not self._allowed(route)]
        if beyond:
            self.take_down()
            raise NetworkLinkError(f"routes beyond the HSM's link exist: {json.dumps(beyond)}; the link is down again")

    def _allowed(self, route: Mapping) -> bool:
        if route.get("type", "unicast") != "unicast" or route.get("dev") == "lo":
            return True  # local, broadcast and multicast entries, and the loopback's own routes
        if route.get("dst") == str(self.link.address.network):
            return True
        return route.get("dst") == "fe80::/64" and route.get("dev") == self.name  # IPv6 needs its link-local
