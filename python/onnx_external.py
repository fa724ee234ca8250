"""Move chosen initializers of an ONNX graph into an external data file (issue #17).

ONNX Runtime copies every initializer kept inside the graph into its own memory, but maps one kept
as external data (TensorProto.data_location EXTERNAL) from its file: a table read only by a Gather
(a word-embedding table) then costs the pages the texts touch, not the whole table
(internal/model/onnx/advise_linux.go). mlserve accepts external data only in files inside the
version folder, named relative to the graph (internal/model/onnx/external.go).

    .venv/bin/python python/onnx_external.py GRAPH OUT TENSOR [TENSOR...]

writes OUT (the graph) and OUT.data (the tensors' bytes, in the order named, each at an offset that
is a multiple of 4096 so ONNX Runtime can map it), byte for byte the same on every run. GRAPH may be
OUT. Used by scripts/fetch-models.sh (sentiment/v3) and python/train_torch.py (spam/v2).
"""

from __future__ import annotations

import sys
from pathlib import Path

ALIGN = 4096


def externalize(graph: Path, out: Path, names: list[str]) -> None:
    import onnx
    from onnx import numpy_helper

    m = onnx.load(str(graph), load_external_data=False)
    by_name = {t.name: t for t in m.graph.initializer}
    missing = [n for n in names if n not in by_name]
    if missing:
        sys.exit(f"onnx_external.py: {graph} has no initializer {missing}")
    location = out.name + ".data"
    data = bytearray()
    for name in names:
        t = by_name[name]
        if t.data_location == onnx.TensorProto.EXTERNAL:
            sys.exit(f"onnx_external.py: {name} in {graph} is already external")
        raw = t.raw_data if t.HasField("raw_data") else numpy_helper.to_array(t).tobytes()
        data += b"\0" * (-len(data) % ALIGN)
        offset = len(data)
        data += raw
        for field in ("raw_data", "float_data", "int32_data", "int64_data", "double_data", "uint64_data"):
            t.ClearField(field)
        del t.external_data[:]
        for k, v in (("location", location), ("offset", str(offset)), ("length", str(len(raw)))):
            e = t.external_data.add()
            e.key, e.value = k, v
        t.data_location = onnx.TensorProto.EXTERNAL
    graph_bytes = m.SerializeToString(deterministic=True)
    tmp, tmp_data = out.with_name(out.name + ".tmp"), out.with_name(location + ".tmp")
    tmp_data.write_bytes(bytes(data))
    tmp.write_bytes(graph_bytes)
    tmp_data.replace(out.with_name(location))
    tmp.replace(out)


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    externalize(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:])
