"""Export the trained reader to int8 ONNX in qa/models/reader, with a record of the torch model's own logits.

    .venv/bin/python -m training.export [--checkpoint var/reader/torch]

The int8 model (dynamic quantisation: MatMul weights per channel, embeddings per tensor) is what ships: about 23 MB
against 90 MB in float32. `check.npz` keeps the torch logits for a sample of windows from the tuning split, so
tests/test_reader.py can check the shipped model against the model it came from without torch weights in the repo.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from qa.reader import CONFIG_FILE, MODEL_FILE, TOKENIZER_FILE, best_span
from qa.squad import squad_articles

from .reader import CHECKPOINT, PROJECT, SQUAD, base_model, encode, questions

TARGET = PROJECT / "qa" / "models" / "reader"
CHECK_FILE = "check.npz"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_float(checkpoint: Path, target: Path) -> None:
    import torch
    from transformers import AutoModelForQuestionAnswering

    model = AutoModelForQuestionAnswering.from_pretrained(str(checkpoint)).eval()

    class Logits(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.start_logits, out.end_logits

    dummy = torch.ones(2, 16, dtype=torch.long)
    dynamic = {n: {0: "batch", 1: "tokens"} for n in INPUTS}
    with torch.no_grad():
        torch.onnx.export(
            Logits(), (dummy, dummy, torch.zeros_like(dummy)), str(target), input_names=list(INPUTS),
            output_names=["start_logits", "end_logits"],
            dynamic_axes={**dynamic, "start_logits": {0: "batch", 1: "tokens"}, "end_logits": {0: "batch", 1: "tokens"}},
            opset_version=17, dynamo=False,
        )


def quantize(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul", "Gather"])


def sample(squad: Path, tokenizer, n: int, max_length: int) -> list[dict]:
    """Padded windows of the tuning split: the first window of every k-th question."""
    records = questions(squad_articles(squad, "tune"))
    step = max(1, len(records) // n)
    out = []
    for record in records[::step][:n]:
        enc = encode(tokenizer, record["question"], record["context"], max_length, 32)
        out.append({"input_ids": enc["input_ids"][0], "token_type_ids": enc["token_type_ids"][0]})
    return out


def torch_logits(checkpoint: Path, feed: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    import torch
    from transformers import AutoModelForQuestionAnswering

    model = AutoModelForQuestionAnswering.from_pretrained(str(checkpoint)).eval()
    with torch.no_grad():
        out = model(**{k: torch.from_numpy(v) for k, v in feed.items()})
    return out.start_logits.numpy(), out.end_logits.numpy()


def padded(windows: list[dict]) -> dict[str, np.ndarray]:
    width = max(len(w["input_ids"]) for w in windows)
    feed = {name: np.zeros((len(windows), width), dtype=np.int64) for name in INPUTS}
    for r, w in enumerate(windows):
        n = len(w["input_ids"])
        feed["input_ids"][r, :n] = w["input_ids"]
        feed["token_type_ids"][r, :n] = w["token_type_ids"]
        feed["attention_mask"][r, :n] = 1
    return feed


def agreement(session_file: Path, feed: dict[str, np.ndarray], start: np.ndarray, end: np.ndarray) -> dict[str, float]:
    """How close an ONNX model's logits are to torch's, and how often the best span is the same."""
    import onnxruntime as ort

    s, e = ort.InferenceSession(str(session_file), providers=["CPUExecutionProvider"]).run(None, feed)
    same = 0
    for r in range(len(s)):
        context = (feed["token_type_ids"][r] == 1) & (feed["attention_mask"][r] == 1)
        same += best_span(s[r], e[r], context, 30)[:2] == best_span(start[r], end[r], context, 30)[:2]
    mask = feed["attention_mask"] == 1
    return {"max_abs": float(max(np.abs(s - start)[mask].max(), np.abs(e - end)[mask].max())), "same_span": same / len(s)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=CHECKPOINT)
    parser.add_argument("--squad", type=Path, default=SQUAD)
    parser.add_argument("--target", type=Path, default=TARGET)
    parser.add_argument("--sample", type=int, default=64)
    args = parser.parse_args()

    from transformers import AutoTokenizer

    # Per-epoch checkpoints hold only the weights; the tokenizer is the base model's either way.
    has_tokenizer = (args.checkpoint / "tokenizer.json").is_file()
    tokenizer = AutoTokenizer.from_pretrained(str(args.checkpoint if has_tokenizer else base_model()))
    args.target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        float_file = Path(tmp) / "reader-float.onnx"
        export_float(args.checkpoint, float_file)
        quantize(float_file, args.target / MODEL_FILE)
        feed = padded(sample(args.squad, tokenizer, args.sample, 128))
        start, end = torch_logits(args.checkpoint, feed)
        print("float32 ONNX vs torch:", agreement(float_file, feed, start, end))
    print("int8 ONNX vs torch:", agreement(args.target / MODEL_FILE, feed, start, end))
    np.savez_compressed(args.target / CHECK_FILE, **feed, start_logits=start, end_logits=end)
    shutil.copy2(base_model() / "tokenizer.json", args.target / TOKENIZER_FILE)
    config_file = args.target / CONFIG_FILE
    config = json.loads(config_file.read_text()) if config_file.is_file() else {}
    training = json.loads((args.checkpoint / "training.json").read_text()) if (args.checkpoint / "training.json").is_file() else {}
    config.update({"max_length": 128, "max_answer_tokens": 30, "training": training})
    config_file.write_text(json.dumps(config, indent=2) + "\n")
    print(f"wrote {args.target / MODEL_FILE} ({(args.target / MODEL_FILE).stat().st_size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
