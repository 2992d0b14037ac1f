"""Signed Key Responses (SKR): bytes to model.Response and back."""

from __future__ import annotations

from appliance.formats import elements
from appliance.formats.elements import KSKM_SKR, Layout, Writer
from appliance.formats.xmlread import Element
from appliance.formats.xmlsafe import DEFAULT_MAX_SIZE, parse_xml
from appliance.model import Response


def parse_response(data: bytes, max_size: int = DEFAULT_MAX_SIZE) -> Response:
    """A Response from SKR XML bytes, or one FormatError naming the line and element."""
    root = Element(parse_xml(data, max_size))
    response_id, serial, domain, body = elements.read_root(root, "Response")
    timestamp = elements.read_timestamp(body)
    policy = body.child("ResponsePolicy")
    policy.attributes(required=())
    ksk_policy = elements.read_policy(policy.child("KSK"))
    zsk_policy = elements.read_policy(policy.child("ZSK"))
    policy.end()
    bundles = tuple(elements.read_bundle(bundle, with_signers=False) for bundle in body.children("ResponseBundle"))
    body.end()
    return Response(
        id=response_id,
        serial=serial,
        domain=domain,
        ksk_policy=ksk_policy,
        zsk_policy=zsk_policy,
        bundles=bundles,
        timestamp=timestamp,
    )


def write_response(response: Response, layout: Layout = KSKM_SKR) -> bytes:
    """SKR XML byte-identical in layout to ICANN's kskm responses (or in another producer's `layout`).

    Response bundles carry no <Signer> elements (ksr.rnc has none), so Bundle.signers is not written.
    """
    writer = Writer(layout)
    root = writer.root(response.id, response.domain, response.serial)
    body = writer.body(root, "Response", response.timestamp)
    policy = writer.add(body, "ResponsePolicy")
    writer.policy(policy, "KSK", response.ksk_policy)
    writer.policy(policy, "ZSK", response.zsk_policy)
    for bundle in response.bundles:
        writer.bundle(body, "ResponseBundle", bundle, with_signers=False)
    return writer.serialize(root)
