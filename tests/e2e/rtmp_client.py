"""A deliberately small raw RTMP client for hostile-input tests.

It does just enough to reach the server's parsers: the simple (non-digest) handshake,
one message written as chunks (a type-0 header, then type-3 continuations), and AMF0
encoders. It never parses what the server sends back; the tests only look for bytes
such as b"_result" and for the connection being closed.
"""

import os
import socket
import struct

HANDSHAKE_SIZE = 1536
DEFAULT_CHUNK_SIZE = 128

# Message type ids (RTMP spec 5.4, 7.1).
MSG_SET_CHUNK_SIZE = 1
MSG_COMMAND_AMF0 = 20


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        data = sock.recv(n - len(buf))
        if not data:
            raise ConnectionError("peer closed after %d of %d bytes" % (len(buf), n))
        buf += data
    return bytes(buf)


def c0c1():
    """C0 (version 3) and C1: time 0, a zero version field (which selects the simple
    handshake), random filler."""
    return b"\x03" + struct.pack(">II", 0, 0) + os.urandom(HANDSHAKE_SIZE - 8)


def handshake(sock):
    """The simple handshake: send C0C1, read S0S1S2, answer C2 = S1."""
    sock.sendall(c0c1())
    s = recv_exact(sock, 1 + 2 * HANDSHAKE_SIZE)
    if s[0] != 3:
        raise ConnectionError("S0 version %d" % s[0])
    sock.sendall(s[1:1 + HANDSHAKE_SIZE])


# ---------------------------------------------------------------- AMF0

def amf0_number(x):
    return b"\x00" + struct.pack(">d", float(x))


def amf0_bool(b):
    return b"\x01" + (b"\x01" if b else b"\x00")


def amf0_string(s):
    data = s.encode("utf-8")
    return b"\x02" + struct.pack(">H", len(data)) + data


def amf0_null():
    return b"\x05"


def _amf0_key(k):
    data = k.encode("utf-8")
    return struct.pack(">H", len(data)) + data


OBJECT_END = b"\x00\x00\x09"


def amf0_object(d):
    return b"\x03" + b"".join(_amf0_key(k) + amf0_value(v) for k, v in d.items()) + OBJECT_END


def amf0_value(v):
    """Encodes a Python value; bytes are taken as already-encoded AMF0."""
    if isinstance(v, bytes):
        return v
    if v is None:
        return amf0_null()
    if isinstance(v, bool):
        return amf0_bool(v)
    if isinstance(v, (int, float)):
        return amf0_number(v)
    if isinstance(v, str):
        return amf0_string(v)
    if isinstance(v, dict):
        return amf0_object(v)
    raise TypeError("no AMF0 encoding for %r" % (v,))


def amf0_nested_object(depth):
    """{"a": {"a": ... {} ...}} with `depth` objects, built without recursion."""
    return b"\x03" + (_amf0_key("a") + b"\x03") * (depth - 1) + OBJECT_END * depth


# ---------------------------------------------------------------- chunks and messages

def chunk_message(csid, msg_type, payload, stream_id=0, timestamp=0,
                  chunk_size=DEFAULT_CHUNK_SIZE, length=None):
    """One message as chunks: a type-0 header, then type-3 headers every `chunk_size`
    bytes. `length` overrides the length field (to lie about it)."""
    if not 2 <= csid <= 63 or not 0 <= timestamp < 0xFFFFFF:
        raise ValueError("only one-byte chunk stream ids and short timestamps")
    length = len(payload) if length is None else length
    out = bytearray([csid])  # fmt 0
    out += timestamp.to_bytes(3, "big") + length.to_bytes(3, "big") + bytes([msg_type])
    out += struct.pack("<I", stream_id)
    out += payload[:chunk_size]
    for off in range(chunk_size, len(payload), chunk_size):
        out.append(0xC0 | csid)  # fmt 3
        out += payload[off:off + chunk_size]
    return bytes(out)


def set_chunk_size(size):
    return chunk_message(2, MSG_SET_CHUNK_SIZE, struct.pack(">I", size))


def command(name, txn, *args, csid=3, stream_id=0, chunk_size=DEFAULT_CHUNK_SIZE):
    payload = amf0_string(name) + amf0_number(txn) + b"".join(amf0_value(a) for a in args)
    return chunk_message(csid, MSG_COMMAND_AMF0, payload, stream_id, chunk_size=chunk_size)


def connect_command(app, tc_url, command_object=None, chunk_size=DEFAULT_CHUNK_SIZE):
    """`connect` with a normal command object, or `command_object` (bytes or dict)."""
    if command_object is None:
        command_object = {"app": app, "type": "nonprivate", "flashVer": "FMLE/3.0 (compatible)",
                          "tcUrl": tc_url}
    return command("connect", 1, command_object, chunk_size=chunk_size)


def open_connection(host, port, timeout=5.0):
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock
