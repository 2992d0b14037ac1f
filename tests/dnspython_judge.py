"""dnspython as an independent judge of our signatures: a bundle's DNSKEY RRset and each RRSIG
handed to `dns.dnssec.validate`, which shares no code with `appliance.dnssec`."""

from __future__ import annotations

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from appliance import dnssec
from appliance.model import Bundle

ValidationFailure = dns.dnssec.ValidationFailure


def validate_bundle(bundle: Bundle, owner: str = ".") -> None:
    """Raise ValidationFailure unless every signature of the bundle validates with its keys."""
    name = dns.name.from_text(owner)
    keys = dns.rrset.RRset(name, dns.rdataclass.IN, dns.rdatatype.DNSKEY)
    for key in bundle.keys:
        rdata = dnssec.dnskey_rdata(key)
        keys.add(dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.DNSKEY, rdata, 0, len(rdata)), key.ttl)
    for signature in bundle.signatures:
        wire = dnssec.rrsig_rdata_prefix(signature, owner) + signature.signature_data
        rrsig = dns.rrset.RRset(name, dns.rdataclass.IN, dns.rdatatype.RRSIG)
        rrsig.add(dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.RRSIG, wire, 0, len(wire)), signature.ttl)
        dns.dnssec.validate(keys, rrsig, {name: keys}, now=signature.inception.timestamp() + 1)
