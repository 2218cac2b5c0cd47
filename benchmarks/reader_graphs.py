"""The reader's graph four ways: speed, agreement with the torch model, SQuAD EM, and the logits on another CPU.

    .venv/bin/python -m benchmarks.reader_graphs [--questions 600]     # speed, torch agreement, tuning-split EM
    .venv/bin/python -m benchmarks.reader_graphs --fingerprint native.npz
    qemu-x86_64 -cpu Haswell .venv/bin/python -m benchmarks.reader_graphs --fingerprint haswell.npz   # AVX2 only
    .venv/bin/python -m benchmarks.reader_graphs --compare native.npz haswell.npz

- unsigned: what the reader runs (qa/reader_graph.py): the int8 weights moved to uint8, one window per run;
- signed: the shipped int8 file as it is, one window per run (u8s8 kernels, which saturate on AVX2 without VNNI);
- float: every integer MatMul rewritten as a float one with the weight dequantized (the reader before this);
- seven_bit: the weights requantized to 7 bits, which keeps u8s8 pair sums under the int16 limit.
Every graph reads one window per run here, so batch effects play no part; check.npz holds the torch model's logits
on 64 tuning-split windows (training/export.py). SQuAD's tuning split only: its evaluation split is never read.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from qa.reader import MODEL_FILE, MODELS, Reader, best_span
from qa.reader_graph import unsigned_reader

from .common import SQUAD, machine, table


def _chains(model):
    """Each DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul chain of the export: its nodes, the name of its
    float input, and its weight dequantized."""
    from onnx import numpy_helper

    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    for matmul in [n for n in graph.node if n.op_type == "MatMulInteger"]:
        (cast,) = consumers[matmul.output[0]]
        (rescale,) = consumers[cast.output[0]]
        scales = producer[rescale.input[1]]
        w_scale = next(n for n in scales.input if n in inits)
        q, zero, scale = (numpy_helper.to_array(inits[n]).astype(np.float32) for n in (matmul.input[1], matmul.input[3], w_scale))
        yield (matmul, cast, rescale, scales), producer[matmul.input[0]].input[0], w_scale, (q - zero) * scale


def float_graph(path) -> bytes:
    """Each chain as one float MatMul with the weight dequantized."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    dropped, replaced, weights = set(), {}, []  # by first output: protobuf hands out new node objects
    for (matmul, cast, rescale, scales), source, _, weight in list(_chains(model)):
        name = f"{matmul.input[1]}_dequantized"
        weights.append(numpy_helper.from_array(weight, name))
        replaced[rescale.output[0]] = onnx.helper.make_node("MatMul", [source, name], [rescale.output[0]])
        dropped.update(n.output[0] for n in (matmul, cast, scales))
    nodes = [replaced.get(n.output[0], n) for n in graph.node if n.output[0] not in dropped]
    used = {name for node in nodes for name in node.input}
    nodes = [n for n in nodes if n.op_type != "DynamicQuantizeLinear" or n.output[0] in used]
    used = {name for node in nodes for name in node.input}
    del graph.node[:]
    graph.node.extend(nodes)
    live = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(live + weights)
    return model.SerializeToString()


def seven_bit_graph(path) -> bytes:
    """The weights requantized to 7 bits, symmetric per output channel, in the same integer graph."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    inits = {t.name: t for t in model.graph.initializer}
    for (matmul, *_), _, w_scale, weight in list(_chains(model)):
        scale = np.maximum(np.abs(weight).max(axis=0), 1e-12) / 63
        q = np.clip(np.round(weight / scale), -63, 63).astype(np.int8)
        inits[matmul.input[1]].CopyFrom(numpy_helper.from_array(q, matmul.input[1]))
        inits[matmul.input[3]].CopyFrom(numpy_helper.from_array(np.zeros_like(q[0]), matmul.input[3]))
        inits[w_scale].CopyFrom(numpy_helper.from_array(scale.astype(np.float32), w_scale))
    return model.SerializeToString()


GRAPHS = {
    "unsigned": unsigned_reader,
    "signed": lambda path: path.read_bytes(),
    "float": float_graph,
    "seven_bit": seven_bit_graph,
}


def reader_with(graph: bytes, threads: int = 2) -> Reader:
    import onnxruntime as ort

    reader = Reader(MODELS, threads)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    reader._session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    return reader


def _window_logits(reader: Reader, check, r: int) -> tuple[np.ndarray, np.ndarray]:
    n = int(check["attention_mask"][r].sum())
    feed = {name: check[name][r : r + 1, :n] for name in ("input_ids", "attention_mask", "token_type_ids")}
    starts, ends = reader._session.run(None, feed)
    return starts[0], ends[0]


def measure(name: str, reader: Reader, check, questions: int) -> dict:
    from qa.evaluate import exact_match, f1_score
    from qa.squad import squad_articles

    same, rounds = 0, []
    for r in range(len(check["input_ids"])):
        starts, ends = _window_logits(reader, check, r)
        n = len(starts)
        context = check["token_type_ids"][r, :n] == 1
        same += best_span(starts, ends, context, 30)[:2] == best_span(check["start_logits"][r, :n], check["end_logits"][r, :n], context, 30)[:2]
    for _ in range(20):
        started = time.perf_counter()
        for r in range(4):
            _window_logits(reader, check, r)
        rounds.append((time.perf_counter() - started) * 1000)
    em = f1 = asked = 0
    for article in squad_articles(SQUAD, "tune"):
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"][: max(0, questions - asked)]:
                context, question = paragraph["context"], qa["question"]
                windows = reader.windows(reader.question_tokens(question), context)
                readings = reader.read(question, [context[a:b] for a, b in windows])
                best = max(range(len(readings)), key=lambda i: readings[i].score)
                text = context[windows[best][0] + readings[best].start : windows[best][0] + readings[best].end]
                golds = [g["text"] for g in qa["answers"]]
                em += max(exact_match(text, g) for g in golds)
                f1 += max(f1_score(text, g) for g in golds)
                asked += 1
    return {"graph": name, "4 windows ms (p50 of 20)": round(statistics.median(rounds), 1),
            "torch spans kept (of 64)": same, "tuning EM": round(em / max(asked, 1), 3),
            "tuning F1": round(f1 / max(asked, 1), 3), "questions": asked}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=600, help="SQuAD tuning-split questions read per graph")
    parser.add_argument("--fingerprint", help="save each graph's logits on check.npz's windows to this .npz")
    parser.add_argument("--compare", nargs=2, help="two --fingerprint files: how far each graph's logits moved")
    args = parser.parse_args()
    if args.compare:
        a, b = (np.load(f) for f in args.compare)
        rows = [{"graph": g, "max |diff|": round(float(np.abs(a[g] - b[g]).max()), 4),
                 "mean |diff|": round(float(np.abs(a[g] - b[g]).mean()), 5)} for g in GRAPHS if g in a and g in b]
        print(table([tuple(r.values()) for r in rows], ("graph", "max |diff|", "mean |diff|")))
        return
    check = np.load(MODELS / "check.npz")
    readers = {name: reader_with(make(MODELS / MODEL_FILE)) for name, make in GRAPHS.items()}
    if args.fingerprint:
        np.savez(args.fingerprint, **{name: np.concatenate([np.concatenate(_window_logits(reader, check, r))
                                                            for r in range(len(check["input_ids"]))])
                                      for name, reader in readers.items()})
        return
    print(machine())
    rows = [measure(name, reader, check, args.questions) for name, reader in readers.items()]
    print(table([tuple(r.values()) for r in rows], tuple(rows[0])))


if __name__ == "__main__":
    main()
