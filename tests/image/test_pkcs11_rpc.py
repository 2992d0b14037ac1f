"""image.pkcs11_rpc: the calls on a p11-kit RPC stream, however the bytes are cut."""

from image.pkcs11_rpc import CallReader


def message(call: int, body: bytes = b"", options: bytes = b"") -> bytes:
    payload = call.to_bytes(4, "big") + body
    return (7).to_bytes(4, "big") + len(options).to_bytes(4, "big") + len(payload).to_bytes(4, "big") + options + payload


def test_calls_are_read_after_the_version_byte_in_pieces_of_any_size():
    stream = b"\x00" + message(1, b"\x00" * 9) + message(42, b"mech", b"opt") + message(43, b"x" * 300) + message(77)
    for size in (1, 5, 13, len(stream)):
        reader, calls = CallReader(), []
        for start in range(0, len(stream), size):
            calls += reader.feed(stream[start:start + size])
        assert calls == ["C_Initialize", "C_SignInit", "C_Sign", "call 77"]


def test_a_message_not_yet_whole_is_not_a_call():
    reader = CallReader()
    whole = b"\x00" + message(43, b"y" * 40)
    assert reader.feed(whole[:-1]) == []
    assert reader.feed(whole[-1:]) == ["C_Sign"]
