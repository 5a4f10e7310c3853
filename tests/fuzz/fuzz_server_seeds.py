#!/usr/bin/env python3
"""Writes fuzz_server's seed corpus (tests/fuzz/corpus/server): etcd requests encoded by hand in protobuf's
wire format, framed as fuzz_server.cpp reads them: [kind][length, 2 bytes little-endian][payload].
Run from anywhere; it rewrites the seeds in place."""
import os
import struct

# Kinds, in fuzz_server.cpp's order.
RANGE, PUT, DELETE, TXN, COMPACT, GRANT, REVOKE, TTL, LEASES, KEEP_ALIVE, WATCH, ADVANCE = range(12)


def varint(n):
    n &= (1 << 64) - 1  # negative int64 as protobuf encodes it
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def i(field, n):  # varint field (int64, bool, enum)
    return varint(field << 3) + varint(n)


def b(field, data):  # length-delimited field (bytes, string, message)
    if isinstance(data, str):
        data = data.encode()
    return varint(field << 3 | 2) + varint(len(data)) + data


def rec(kind, payload=b""):
    return bytes([kind]) + struct.pack("<H", len(payload)) + payload


def put(key, value, lease=0, prev_kv=False, ignore_value=False, ignore_lease=False):
    return (b(1, key) + b(2, value) + (i(3, lease) if lease else b"") + (i(4, 1) if prev_kv else b"")
            + (i(5, 1) if ignore_value else b"") + (i(6, 1) if ignore_lease else b""))


def rng(key, end="", revision=0, limit=0, count_only=False):
    return (b(1, key) + (b(2, end) if end else b"") + (i(3, limit) if limit else b"")
            + (i(4, revision) if revision else b"") + (i(9, 1) if count_only else b""))


def watch_create(key, end="", start=0, prev_kv=False, progress=False, fragment=False, watch_id=0, filters=()):
    c = b(1, key) + (b(2, end) if end else b"") + (i(3, start) if start else b"")
    c += (i(4, 1) if progress else b"") + b"".join(i(5, f) for f in filters) + (i(6, 1) if prev_kv else b"")
    c += (i(7, watch_id) if watch_id else b"") + (i(8, 1) if fragment else b"")
    return b(1, c)


seeds = {
    "kv": [
        rec(PUT, put("a", "1")), rec(PUT, put("b", "2", prev_kv=True)), rec(PUT, put("a", "3", prev_kv=True)),
        rec(RANGE, rng("a", "c")), rec(RANGE, rng("a", "\0", revision=2, limit=1)), rec(RANGE, rng("a", "z", count_only=True)),
        rec(DELETE, b(1, "a") + b(2, "b") + i(3, 1)), rec(RANGE, rng("a", revision=3)),
    ],
    "txn": [
        rec(PUT, put("k", "v")),
        rec(TXN, b(1, i(1, 0) + i(2, 0) + b(3, "k") + i(4, 1))  # version(k) == 1
            + b(2, b(2, put("k", "w"))) + b(2, b(1, rng("k")))
            + b(2, b(4, b(2, b(3, b(1, "x")))))  # a nested txn deleting x
            + b(3, b(3, b(1, "k")))),
        rec(TXN, b(1, i(1, 1) + i(2, 2) + b(3, "k") + i(6, 1)) + b(2, b(2, put("m", "1"))) + b(3, b(1, rng("k", "\0")))),
        rec(COMPACT, i(1, 2)), rec(RANGE, rng("k", revision=1)),
    ],
    "lease": [
        rec(GRANT, i(1, 5)), rec(GRANT, i(1, 10) + i(2, 7)), rec(PUT, put("l", "v", lease=7)),
        rec(TTL, i(1, 7) + i(2, 1)), rec(KEEP_ALIVE, i(1, 7)), rec(LEASES), rec(ADVANCE, b"\x0b"),
        rec(TTL, i(1, 7)), rec(KEEP_ALIVE, i(1, 7)), rec(GRANT, i(1, 30) + i(2, 8)), rec(REVOKE, i(1, 8)),
        rec(RANGE, rng("l")),
    ],
    "watch": [
        rec(WATCH, watch_create("w", "x", prev_kv=True, progress=True, fragment=True)),
        rec(PUT, put("w1", "a")), rec(PUT, put("w1", "b")), rec(DELETE, b(1, "w1")),
        rec(WATCH, watch_create("w", "x", start=1, filters=(1,))),
        rec(WATCH, watch_create("w1", watch_id=5)), rec(WATCH, watch_create("w1", watch_id=5)),
        rec(WATCH, b(3, b"")), rec(ADVANCE, b"\x02"), rec(WATCH, b(2, i(1, 0))),
        rec(COMPACT, i(1, 3)), rec(WATCH, watch_create("w", start=2)), rec(PUT, put("w2", "c")),
    ],
    "errors": [
        rec(PUT, put("", "x")), rec(PUT, put("k", "x", ignore_value=True)), rec(PUT, put("k", "x", lease=99)),
        rec(RANGE, rng("k", revision=100)), rec(COMPACT, i(1, 100)), rec(GRANT, i(1, 9000000001)),
        rec(REVOKE, i(1, 1234)), rec(TXN, b(2, b"")), rec(WATCH, watch_create("b", "a")),
        rec(WATCH, watch_create("k", start=-1)), rec(RANGE, i(5, 9)), rec(PUT, b"\xff\xff\xff"),
        rec(GRANT, i(1, 5) + i(2, 1)), rec(GRANT, i(1, 5) + i(2, 1)),
    ],
}

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "server")
os.makedirs(here, exist_ok=True)
for name, records in seeds.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(b"".join(records))
