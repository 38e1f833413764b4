#!/usr/bin/env python3
"""Writes the seed and regression corpus of the transport's decoders (corpus/).

The protobuf encoding is written out by hand (see proto/raft.proto for the field
numbers) so that the corpus needs nothing but Python, and so that it can hold the
malformed inputs no protobuf library would produce. A file's name says what
corpus_test.cc expects of it:
  batch_ok_*   decode_batch accepts it (cluster 1);
  batch_err_*  decode_batch refuses it;
  chunk_ok_*   decode_snapshot_chunk accepts it (cluster 1);
  chunk_err_*  decode_snapshot_chunk refuses it;
  any_*        only that nothing crashes.
Inputs the fuzzer finds worth keeping are added as any_<what>.bin.
Run: python3 tests/transport/make_corpus.py
"""
import os


def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def field_varint(number, value):
    return varint(number << 3) + varint(value)


def field_bytes(number, payload):
    return varint((number << 3) | 2) + varint(len(payload)) + payload


def message(frm=1, to=2, term=3, cluster=1, body=None):
    out = b""
    if frm:
        out += field_varint(1, frm)
    if to:
        out += field_varint(2, to)
    if term:
        out += field_varint(3, term)
    if cluster:
        out += field_varint(4, cluster)
    if body is not None:
        out += body
    return out


def heartbeat(commit=5):
    return field_bytes(9, field_varint(1, commit))


def append(entries=1, data=b"x" * 16):
    entry = field_varint(1, 3) + field_varint(2, 1) + field_bytes(4, data)
    request = field_varint(1, 0) + field_varint(2, 0) + b"".join(field_bytes(3, entry) for _ in range(entries))
    return field_bytes(7, request)


def batch(messages, cluster=1):
    out = field_varint(1, cluster) if cluster else b""
    return out + b"".join(field_bytes(2, m) for m in messages)


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def chunk(data=b"snapshot", offset=0, size=None, done=True, index=10, frm=1, cluster=1, crc=None):
    total = size if size is not None else offset + len(data)
    metadata = field_varint(1, index) + field_varint(2, 2) + field_varint(4, total)
    metadata += field_varint(5, crc if crc is not None else crc32c(data))
    request = field_bytes(1, metadata)
    if offset:
        request += field_varint(2, offset)
    request += field_bytes(3, data)
    if done:
        request += field_varint(4, 1)
    return message(frm=frm, cluster=cluster, body=field_bytes(11, request))


CORPUS = {
    "batch_ok_heartbeat.bin": batch([message(body=heartbeat())]),
    "batch_ok_three.bin": batch([message(body=heartbeat(i)) for i in range(1, 4)]),
    "batch_ok_append.bin": batch([message(body=append(entries=4))]),
    "batch_ok_empty_body_message.bin": batch([message(body=field_bytes(12, b""))]),  # TimeoutNow
    "batch_err_empty.bin": batch([]),
    "batch_err_no_cluster.bin": batch([message(body=heartbeat())], cluster=0),
    "batch_err_foreign_batch.bin": batch([message(cluster=7, body=heartbeat())], cluster=7),
    "batch_err_foreign_message.bin": batch([message(cluster=7, body=heartbeat())]),
    "batch_err_no_sender.bin": batch([message(frm=0, body=heartbeat())]),
    "batch_err_no_recipient.bin": batch([message(to=0, body=heartbeat())]),
    "batch_err_no_body.bin": batch([message()]),
    "batch_err_snapshot_inside.bin": batch([chunk()]),
    "batch_err_truncated.bin": batch([message(body=heartbeat())])[:-3],
    "batch_err_length_past_end.bin": field_varint(1, 1) + varint((2 << 3) | 2) + varint(1 << 30) + b"abc",
    "batch_err_bad_wire_type.bin": field_varint(1, 1) + bytes([(2 << 3) | 7, 0]),
    "batch_err_overlong_varint.bin": field_varint(1, 1) + bytes([0x08] + [0xFF] * 11),
    "chunk_ok_whole.bin": chunk(),
    "chunk_ok_middle.bin": chunk(data=b"middle", offset=100, size=1000, done=False),
    "chunk_ok_empty_snapshot.bin": chunk(data=b"", size=0),
    "chunk_err_beyond_size.bin": chunk(data=b"0123456789", offset=995, size=1000, done=False),
    "chunk_err_offset_past_size.bin": chunk(data=b"", offset=2000, size=1000, done=False),
    "chunk_err_offset_overflow.bin": chunk(data=b"abc", offset=(1 << 64) - 2, size=(1 << 64) - 1, done=False),
    "chunk_err_short_last.bin": chunk(data=b"abc", offset=0, size=1000, done=True),
    "chunk_err_no_index.bin": chunk(index=0),
    "chunk_err_no_sender.bin": chunk(frm=0),
    "chunk_err_foreign.bin": chunk(cluster=9),
    "chunk_err_heartbeat.bin": message(body=heartbeat()),
    "any_empty.bin": b"",
    "any_http_request.bin": b"POST /raft/messages HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    "any_garbage.bin": bytes(range(256)),
    "any_deep_groups.bin": bytes([(15 << 3) | 3] * 200),
}


def main():
    directory = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    os.makedirs(directory, exist_ok=True)
    for name, data in sorted(CORPUS.items()):
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(CORPUS)} files to {directory}")


if __name__ == "__main__":
    main()
