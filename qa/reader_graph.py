"""The shipped int8 reader, made to read a window the same beside any other windows and on any x86 CPU.

The file on disk is a dynamically quantized export (training/export.py): each MatMul became
DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul. Two things made a window's scores move:
- DynamicQuantizeLinear picks one activation scale for the whole padded batch, so a window's scores depended on
  the windows read beside it. The reader now reads one window per run (qa/reader.py).
- ONNX Runtime's u8s8 kernels saturate on AVX2 without VNNI, so scores depended on the CPU too.

A float rewrite (each chain a float MatMul with the weight dequantized) fixed both, but cost 1.6-2x the integer
graph. The integer graph with unsigned weights keeps the speed and settles the second to float rounding: the same
spans, scores within 0.08 (BENCHMARKS.md, issue 17).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def unsigned_reader(path: Path) -> bytes:
    """The shipped int8 reader with its weights and their zero points moved to uint8 (q + 128): the same numbers,
    so the same model, but run by ONNX Runtime's u8u8 kernels, which widen both sides to 16 bits and never
    saturate; its u8s8 kernels saturate on AVX2 without VNNI. Read one window per run (Reader.read), the activation
    scale comes from that window alone. Against AVX2 (qemu -cpu Haswell, benchmarks/reader_graphs.py): the same
    spans on 64 windows, span scores within 0.08; the signed graph changed 8 of the 64 spans."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    inits = {t.name: t for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "MatMulInteger":
            for name in (node.input[1], node.input[3]):
                signed = numpy_helper.to_array(inits[name])
                if signed.dtype != np.int8:
                    raise ValueError(f"{path}: expected int8 weights in {name}, found {signed.dtype}")
                inits[name].CopyFrom(numpy_helper.from_array((signed.astype(np.int16) + 128).astype(np.uint8), name))
    return model.SerializeToString()
