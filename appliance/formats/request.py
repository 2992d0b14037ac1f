"""Key Signing Requests (KSR): bytes to model.Request and back."""

from __future__ import annotations

from appliance.formats import elements
from appliance.formats.elements import VERISIGN_KSR, Layout, Writer
from appliance.formats.xmlread import Element
from appliance.formats.xmlsafe import DEFAULT_MAX_SIZE, parse_xml
from appliance.model import Request


def parse_request(data: bytes, max_size: int = DEFAULT_MAX_SIZE) -> Request:
    """A Request from KSR XML bytes, or one FormatError naming the line and element."""
    root = Element(parse_xml(data, max_size))
    request_id, serial, domain, body = elements.read_root(root, "Request")
    timestamp = elements.read_timestamp(body)
    policy = body.child("RequestPolicy")
    policy.attributes(required=())
    zsk_policy = elements.read_policy(policy.child("ZSK"))
    policy.end()
    bundles = tuple(elements.read_bundle(bundle, with_signers=True) for bundle in body.children("RequestBundle"))
    body.end()
    return Request(
        id=request_id, serial=serial, domain=domain, zsk_policy=zsk_policy, bundles=bundles, timestamp=timestamp
    )


def write_request(request: Request, layout: Layout = VERISIGN_KSR) -> bytes:
    """KSR XML laid out as Verisign's root-zone requests are (or in another producer's `layout`)."""
    writer = Writer(layout)
    root = writer.root(request.id, request.domain, request.serial)
    body = writer.body(root, "Request", request.timestamp)
    writer.policy(writer.add(body, "RequestPolicy"), "ZSK", request.zsk_policy)
    for bundle in request.bundles:
        writer.bundle(body, "RequestBundle", bundle, with_signers=True)
    return writer.serialize(root)
