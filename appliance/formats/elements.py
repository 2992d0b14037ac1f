"""The parts KSR and SKR files share (ksr.rnc): the <KSR> root, policies, keys, signatures, bundles.

Readers take an `xmlread.Element` and return model objects; writers add lxml elements to a parent.
`Layout` records how a producer lays its files out, so that what we write is byte-identical to
what the real tools wrote (the tests compare with the real files).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from datetime import datetime

from lxml import etree

from appliance.formats import timefmt
from appliance.formats.xmlread import Element
from appliance.model import AlgorithmPolicy, Bundle, Key, KeyPolicy, Signature

U8 = 0xFF
U16 = 0xFFFF
DNSKEY_PROTOCOL = 3  # RFC 4034 2.1.2; ksr.rnc fixes <Protocol> to 3
U32 = 0xFFFFFFFF

_DURATIONS = (
    ("PublishSafety", "publish_safety"),
    ("RetireSafety", "retire_safety"),
    ("MaxSignatureValidity", "max_signature_validity"),
    ("MinSignatureValidity", "min_signature_validity"),
    ("MaxValidityOverlap", "max_validity_overlap"),
    ("MinValidityOverlap", "min_validity_overlap"),
)


@dataclass(frozen=True)
class Layout:
    """Byte-level habits of one producer of KSR/SKR files."""

    declaration: bool  # <?xml version="1.0" encoding="UTF-8"?> first
    indent: str  # per nesting level; "" still puts every element on its own line
    final_newline: bool
    bundle_time_suffix: str  # after <Inception>/<Expiration> times: "" or "+00:00"
    signature_time_suffix: str  # after RRSIG inception/expiration times
    sorted_attributes: bool = False  # alphabetical, as a round trip through some tools leaves them
    zero_padded_key_tags: bool = False  # "05017", as the legacy C ksrsigner wrote them


# ICANN's kskm writes responses like this (dnssec-keytools skr-*.xml).
KSKM_SKR = Layout(
    declaration=True, indent="", final_newline=True, bundle_time_suffix="+00:00", signature_time_suffix="+00:00"
)
# A later kskm indents by four spaces (skr-root-2018-q1-0-d_to_e).
KSKM_SKR_INDENTED = replace(KSKM_SKR, indent="    ")
# The legacy C ksrsigner (dnssec-keytools-legacy skr-*.xml): the same, with five-digit key tags.
LEGACY_SKR = replace(KSKM_SKR, zero_padded_key_tags=True)
# Verisign's requests from 2016 on (ksr-root-2016-q3-0, ksr-root-2017-q2-0).
VERISIGN_KSR = Layout(
    declaration=False, indent="  ", final_newline=False, bundle_time_suffix="", signature_time_suffix="+00:00"
)
# The same request after a tool that sorts attributes (ksr-root-2018-q1-0-d_to_e).
SORTED_KSR = replace(VERISIGN_KSR, sorted_attributes=True)


# -- reading


def read_root(root: Element, body_tag: str) -> tuple[str, int, str, Element]:
    """(id, serial, domain, body) of <KSR>; a request where a response is expected is an error."""
    if root.tag != "KSR":
        raise root.error("the root element must be <KSR>")
    values = root.attributes(required=("id", "serial", "domain"))
    serial = root.integer_attribute(values, "serial", U32)
    other = {"Request": "Response", "Response": "Request"}[body_tag]
    if root.next_tag() == other:
        wanted, given = ("request (KSR)", "response (SKR)") if body_tag == "Request" else ("response (SKR)", "request (KSR)")
        raise root.error(f"this file is a {given}, but a {wanted} was expected")
    body = root.child(body_tag)
    root.end()
    return values["id"], serial, values["domain"], body


def read_timestamp(body: Element) -> datetime | None:
    """The optional timestamp attribute of <Request> or <Response>."""
    values = body.attributes(required=(), optional=("timestamp",))
    if "timestamp" not in values:
        return None
    return body.convert(values["timestamp"], timefmt.parse_datetime, "attribute timestamp")


def read_policy(policy: Element) -> KeyPolicy:
    policy.attributes(required=())
    durations = {field: policy.child(tag).duration() for tag, field in _DURATIONS}
    algorithms = tuple(read_algorithm(algorithm) for algorithm in policy.children("SignatureAlgorithm"))
    policy.end()
    return KeyPolicy(algorithms=algorithms, **durations)


def read_algorithm(element: Element) -> AlgorithmPolicy:
    values = element.attributes(required=("algorithm",))
    algorithm = element.integer_attribute(values, "algorithm", U8)
    if element.next_tag() == "ECDSA":
        ecdsa = element.child("ECDSA")
        size = ecdsa.integer_attribute(ecdsa.attributes(required=("size",)), "size", U16)
        ecdsa.empty()
        element.end()
        return AlgorithmPolicy(algorithm=algorithm, ecdsa_size=size)
    rsa = element.child("RSA")
    rsa_values = rsa.attributes(required=("size", "exponent"))
    size = rsa.integer_attribute(rsa_values, "size", U16)
    exponent = rsa.integer_attribute(rsa_values, "exponent")
    rsa.empty()
    element.end()
    return AlgorithmPolicy(algorithm=algorithm, rsa_size=size, rsa_exponent=exponent)


def read_key(element: Element) -> Key:
    values = element.attributes(required=("keyIdentifier", "keyTag"))
    key = Key(
        key_identifier=values["keyIdentifier"],
        key_tag=element.integer_attribute(values, "keyTag", U16),
        ttl=element.child("TTL").integer(U32),
        flags=element.child("Flags").integer(U16),
        protocol=element.child("Protocol").fixed_integer(DNSKEY_PROTOCOL),
        algorithm=element.child("Algorithm").integer(U8),
        public_key=element.child("PublicKey").base64(),
    )
    element.end()
    return key


def read_signature(element: Element) -> Signature:
    values = element.attributes(required=("keyIdentifier",))
    signature = Signature(
        key_identifier=values["keyIdentifier"],
        ttl=element.child("TTL").integer(U32),
        type_covered=element.child("TypeCovered").string(),
        algorithm=element.child("Algorithm").integer(U8),
        labels=element.child("Labels").integer(U8),
        original_ttl=element.child("OriginalTTL").integer(U32),
        expiration=element.child("SignatureExpiration").datetime(),
        inception=element.child("SignatureInception").datetime(),
        key_tag=element.child("KeyTag").integer(U16),
        signers_name=element.child("SignersName").string(),
        signature_data=element.child("SignatureData").base64(),
    )
    element.end()
    return signature


def read_bundle(element: Element, with_signers: bool) -> Bundle:
    """A <RequestBundle> (which may name <Signer>s) or a <ResponseBundle>."""
    values = element.attributes(required=("id",))
    inception = element.child("Inception").datetime()
    expiration = element.child("Expiration").datetime()
    signers = ()
    if with_signers:
        signers = tuple(_read_signer(signer) for signer in element.children("Signer", minimum=0))
    keys = tuple(read_key(key) for key in element.children("Key"))
    signatures = tuple(read_signature(signature) for signature in element.children("Signature"))
    element.end()
    return Bundle(
        id=values["id"], inception=inception, expiration=expiration, keys=keys, signatures=signatures, signers=signers
    )


def _read_signer(element: Element) -> str:
    identifier = element.attributes(required=("keyIdentifier",))["keyIdentifier"]
    element.empty()
    return identifier


# -- writing


class Writer:
    """Builds the element tree in one Layout and serialises it."""

    def __init__(self, layout: Layout):
        self.layout = layout

    def add(self, parent, tag: str, text: str | None = None, **attributes: str) -> etree._Element:
        """A child element; keyword order is the schema's attribute order."""
        items = sorted(attributes.items()) if self.layout.sorted_attributes else attributes.items()
        element = etree.Element(tag) if parent is None else etree.SubElement(parent, tag)
        for name, value in items:
            element.set(name, value)
        if text is not None:
            element.text = text
        return element

    def key_tag(self, tag: int) -> str:
        return f"{tag:05d}" if self.layout.zero_padded_key_tags else str(tag)

    def root(self, id: str, domain: str, serial: int) -> etree._Element:
        return self.add(None, "KSR", id=id, domain=domain, serial=str(serial))

    def body(self, root, tag: str, timestamp) -> etree._Element:
        if timestamp is None:
            return self.add(root, tag)
        return self.add(root, tag, timestamp=timefmt.format_datetime(timestamp))

    def policy(self, parent, tag: str, policy: KeyPolicy) -> None:
        element = self.add(parent, tag)
        for child, field in _DURATIONS:
            self.add(element, child, timefmt.format_duration(getattr(policy, field)))
        for algorithm in policy.algorithms:
            self.algorithm(element, algorithm)

    def algorithm(self, parent, algorithm: AlgorithmPolicy) -> None:
        element = self.add(parent, "SignatureAlgorithm", algorithm=str(algorithm.algorithm))
        if algorithm.rsa_size is not None:
            self.add(element, "RSA", size=str(algorithm.rsa_size), exponent=str(algorithm.rsa_exponent))
        elif algorithm.ecdsa_size is not None:
            self.add(element, "ECDSA", size=str(algorithm.ecdsa_size))
        else:
            raise ValueError(f"algorithm {algorithm.algorithm} policy has neither RSA nor ECDSA parameters")

    def bundle(self, parent, tag: str, bundle: Bundle, with_signers: bool) -> None:
        suffix = self.layout.bundle_time_suffix
        element = self.add(parent, tag, id=bundle.id)
        self.add(element, "Inception", timefmt.format_datetime(bundle.inception, suffix))
        self.add(element, "Expiration", timefmt.format_datetime(bundle.expiration, suffix))
        if with_signers:
            for signer in bundle.signers:
                self.add(element, "Signer", keyIdentifier=signer)
        for key in bundle.keys:
            self.key(element, key)
        for signature in bundle.signatures:
            self.signature(element, signature)

    def key(self, parent, key: Key) -> None:
        element = self.add(parent, "Key", keyIdentifier=key.key_identifier, keyTag=self.key_tag(key.key_tag))
        self.add(element, "TTL", str(key.ttl))
        self.add(element, "Flags", str(key.flags))
        self.add(element, "Protocol", str(key.protocol))
        self.add(element, "Algorithm", str(key.algorithm))
        self.add(element, "PublicKey", base64_text(key.public_key))

    def signature(self, parent, signature: Signature) -> None:
        suffix = self.layout.signature_time_suffix
        element = self.add(parent, "Signature", keyIdentifier=signature.key_identifier)
        self.add(element, "TTL", str(signature.ttl))
        self.add(element, "TypeCovered", signature.type_covered)
        self.add(element, "Algorithm", str(signature.algorithm))
        self.add(element, "Labels", str(signature.labels))
        self.add(element, "OriginalTTL", str(signature.original_ttl))
        self.add(element, "SignatureExpiration", timefmt.format_datetime(signature.expiration, suffix))
        self.add(element, "SignatureInception", timefmt.format_datetime(signature.inception, suffix))
        self.add(element, "KeyTag", self.key_tag(signature.key_tag))
        self.add(element, "SignersName", signature.signers_name)
        self.add(element, "SignatureData", base64_text(signature.signature_data))

    def serialize(self, root: etree._Element) -> bytes:
        etree.indent(root, space=self.layout.indent)
        text = etree.tostring(root, encoding="unicode")
        if self.layout.declaration:
            text = '<?xml version="1.0" encoding="UTF-8"?>\n' + text
        if self.layout.final_newline:
            text += "\n"
        return text.encode("utf-8")


def base64_text(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
