"""Writes the decompression bombs that Go cannot compress quickly itself.

Each file is a pickle that inflates to 256 MiB, compressed the way
joblib.dump(compress=...) does with bz2, xz and lzma (Go has no bz2 writer,
and its xz/lzma writers take seconds for 256 MiB). zlib, gzip and lz4 bombs
are built by the tests themselves. Only the standard library is needed:

    python3 internal/joblib/testdata/bombs/make_bombs.py

Payloads (opcodes written by hand, protocol 4):
  bytes: a list of 256 BINBYTES8 of 1 MiB of zeros
  str:   a list of 256 BINUNICODE8 of 1 MiB of NULs
  dicts: 256 Mi EMPTY_DICT opcodes
"""
import bz2
import lzma
import os
import struct

MiB = 1 << 20
HERE = os.path.dirname(os.path.abspath(__file__))


def chunks(kind):
    yield b"\x80\x04"
    if kind == "dicts":
        block = b"}" * MiB
        for _ in range(256):
            yield block
        yield b"."
        return
    op = {"bytes": b"\x8e", "str": b"\x8d"}[kind]
    zeros = bytes(MiB)
    yield b"]"
    for _ in range(256):
        yield op + struct.pack("<Q", MiB)
        yield zeros
        yield b"a"
    yield b"."


COMPRESSORS = {
    "bz2": lambda: bz2.BZ2Compressor(9),
    "xz": lambda: lzma.LZMACompressor(format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64),
    "lzma": lambda: lzma.LZMACompressor(format=lzma.FORMAT_ALONE),
}

for cname, make in COMPRESSORS.items():
    for kind in ("bytes", "str", "dicts"):
        c = make()
        out = bytearray()
        for ch in chunks(kind):
            out += c.compress(ch)
        out += c.flush()
        with open(os.path.join(HERE, f"{kind}_256m.{cname}"), "wb") as f:
            f.write(out)
