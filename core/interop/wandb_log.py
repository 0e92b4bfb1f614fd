"""Reading a W&B ``.wandb`` transaction log (what an offline run leaves, what ``wandb sync`` uploads).

wandb (0.30 on) ships no Python reader for it: the old ``wandb/sdk/internal/datastore.py`` went
with the move to the Go core. The framing is small and fixed, so it is read here, strictly, and every
record is parsed with wandb's own protobuf classes (``wandb.proto.wandb_internal_pb2.Record``):

- a 7-byte file header: ``:W&B``, magic ``0xBEE1`` (u16 LE), version 0;
- 32 KiB blocks (the file header inside the first); each chunk has a 7-byte header
  ``{crc32: u32 LE, length: u16 LE, type: u8}`` with ``type`` FULL (1) or FIRST/MIDDLE/LAST (2/3/4)
  for a record split across blocks; fewer than 7 bytes left in a block are zero padding;
- ``crc32`` is zlib's CRC-32 of the type byte followed by the chunk's data.

A torn tail (a run killed mid-write) ends the log quietly; a bad checksum anywhere else is an error.
"""

from __future__ import annotations

import os
import struct
import time
import zlib
from typing import Any, Iterator

from .peers import need
from .units import InteropError

BLOCK = 32768
HEADER = 7
FILE_HEADER = b":W&B" + struct.pack("<HB", 0xBEE1, 0)
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def payloads(path: str) -> Iterator[bytes]:
    """The raw records of the log, in order."""
    with open(path, "rb") as f:
        data = f.read(len(FILE_HEADER))
        if data != FILE_HEADER:
            raise InteropError(f"{path!r} is not a W&B transaction log (header {data!r}, expected {FILE_HEADER!r})")
        pos = len(FILE_HEADER)
        parts: list[bytes] = []
        while True:
            room = BLOCK - pos % BLOCK
            if room < HEADER:
                if len(f.read(room)) < room:
                    return
                pos += room
                continue
            head = f.read(HEADER)
            if len(head) < HEADER:
                return  # end of log (or a torn chunk header)
            crc, length, kind = struct.unpack("<IHB", head)
            if crc == 0 and length == 0 and kind == 0:
                # zero padding: the rest of the block is empty
                skip = room - HEADER
                if len(f.read(skip)) < skip:
                    return
                pos += room
                continue
            body = f.read(length)
            if len(body) < length:
                return  # torn tail
            if zlib.crc32(bytes([kind]) + body) & 0xFFFFFFFF != crc:
                if not f.read(1):
                    return  # the very last chunk was torn: stop, as wandb sync does
                raise InteropError(f"{path!r}: checksum mismatch at byte {pos}: the log is corrupt")
            pos += HEADER + length
            if kind == FULL:
                yield body
            elif kind == FIRST:
                parts = [body]
            elif kind == MIDDLE and parts:
                parts.append(body)
            elif kind == LAST and parts:
                parts.append(body)
                yield b"".join(parts)
                parts = []
            else:
                raise InteropError(f"{path!r}: chunk type {kind} out of order at byte {pos}: the log is corrupt")


def records(path: str) -> Iterator[Any]:
    """The log's records as ``wandb_internal_pb2.Record`` messages."""
    pb = need("wandb.proto.wandb_internal_pb2", "wandb")
    for raw in payloads(path):
        rec = pb.Record()
        rec.ParseFromString(raw)
        yield rec


def wait_complete(run_dir: str, timeout: float = 60.0) -> str:
    """The run's log once wandb has written it whole (its ``exit`` record is in it).

    ``wandb.finish()`` can return before wandb's core process has flushed the log (offline, wandb
    0.31: the file may still hold only its header), so a reader right after ``finish`` waits here."""
    deadline = time.monotonic() + timeout
    while True:
        logs = [os.path.join(run_dir, f) for f in os.listdir(run_dir) if f.endswith(".wandb")] \
            if os.path.isdir(run_dir) else []
        if len(logs) == 1 and any(r.WhichOneof("record_type") == "exit" for r in records(logs[0])):
            return logs[0]
        if time.monotonic() > deadline:
            raise InteropError(f"wandb did not finish writing the run log in {run_dir!r} within {timeout:.0f} s")
        time.sleep(0.05)
