"""The shipped int8 reader, rewritten at load time to compute in float.

The file on disk is a dynamically quantized export (training/export.py): each MatMul became
DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul. DynamicQuantizeLinear picks one activation scale for the
whole padded batch, so a window's scores depended on the windows read beside it; and ONNX Runtime's u8s8 kernels
saturate on AVX2 without VNNI, so they depended on the CPU too. Here every such chain becomes a float MatMul with
the weight dequantized exactly ((q - zero_point) * scale, per output channel). The file stays 22 MB; the float
weights (~42 MB) live only in memory. The embedding tables keep their int8 Gather + DequantizeLinear: that is a
lookup, the same for any batch and any CPU.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def float_reader(path: Path) -> bytes:
    """The serialised float-compute graph of the int8 reader at path."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def only(name: str, op: str):
        (node,) = consumers[name]
        if node.op_type != op:
            raise ValueError(f"{path}: expected {op} after {name}, found {node.op_type}")
        return node

    dropped, replaced, weights = set(), {}, []
    for matmul in [n for n in graph.node if n.op_type == "MatMulInteger"]:
        quantize = producer[matmul.input[0]]
        cast = only(matmul.output[0], "Cast")
        rescale = only(cast.output[0], "Mul")
        scales = producer[rescale.input[1]]  # activation scale x weight scale
        w_scale = next(n for n in scales.input if n in inits)
        q = numpy_helper.to_array(inits[matmul.input[1]]).astype(np.float32)
        zero = numpy_helper.to_array(inits[matmul.input[3]]).astype(np.float32)
        weight = (q - zero) * numpy_helper.to_array(inits[w_scale]).astype(np.float32)
        name = f"{matmul.input[1]}_dequantized"
        weights.append(numpy_helper.from_array(weight, name))
        # The float MatMul takes the rescale's place: its input is computed earlier, its output read later.
        replaced[id(rescale)] = onnx.helper.make_node("MatMul", [quantize.input[0], name], [rescale.output[0]], name=f"{matmul.name}_float")
        dropped.update(id(n) for n in (matmul, cast, scales))
    nodes = [replaced.get(id(n), n) for n in graph.node if id(n) not in dropped]
    used = {name for node in nodes for name in node.input}
    nodes = [n for n in nodes if n.op_type != "DynamicQuantizeLinear" or n.output[0] in used]
    used = {name for node in nodes for name in node.input}
    del graph.node[:]
    graph.node.extend(nodes)
    live = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(live + weights)
    return model.SerializeToString()

