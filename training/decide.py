"""Fit the answer decision (qa/decide.py: LightGBM) and choose its thresholds, end to end through the engine.

    .venv/bin/python -m training.decide            # `make reader` runs it after export (about 8 min on 2 cores)
    .venv/bin/python -m training.decide --refit    # fit again from the options cached in var/decide/

Questions are asked through the real engine and reader; every option the reader finds is one row, labelled by
whether its sentence holds a gold answer and whether its span is one (`qa eval`'s rules, in a gold article).
- SQuAD's tuning split (qa/squad.py: four articles the reader never trained on), over the 36 non-evaluation articles
  where the corpus holds the answers, and over the 32 training articles where it does not;
- news questions written over Reuters stories 2,000-3,999 (training/data/news_questions_*.jsonl), over an index of
  those stories; the frozen sets use stories 0-1,999 and are never read here;
- on-topic unanswerable questions: each answerable question above with a name, number or date swapped for another
  from its corpus (training/perturb.py);
- the multi-source tuning sets (tests/multisource/dev and dev_v2), where every outlet's own figure counts as stating the answer.
The source model (qa/reports.py) learns whether an option states the answer in its own article, wherever that is:
a news story other than the one a question was written on states it too.
Thresholds come from out-of-fold probabilities (5 folds by question), so they are chosen on predictions the model
did not fit: `answered` at >= 0.90 precision of the answer sentence, `uncertain` keeping 88% of the answerable news
questions in view, and the short answer shown at >= 0.85 precision. SQuAD's evaluation split is never read.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from benchmarks.common import PROJECT, reuters_article, reuters_stories
from index.build import build_index
from index.documents import safe_id
from qa.decide import DECISION_FILE, FEATURES, MODELS, Decision, alone
from qa.engine import Engine
from qa.evaluate import Question, _contains, load_questions, reliability, span_right
from qa.settings import Settings
from qa.squad import squad_articles, write_corpus

from .export import TARGET
from .perturb import Pools, perturb
from .reader import SQUAD

WORK = PROJECT / "var" / "decide"
NEWS = Path(__file__).resolve().parent / "data"
NEWS_STORIES = (2000, 4000)
MULTISOURCE = [PROJECT / "tests" / "multisource" / name for name in ("dev", "dev_v2")]
ANSWERED_PRECISION = 0.90
KEEP_ANSWERABLE = 0.88
SPAN_PRECISION = 0.85
FOLDS = 5


@dataclass
class Asked:
    """One question's options: their features, labels, and where the question came from."""

    source: str
    answerable: bool
    rows: np.ndarray
    sentence_ok: np.ndarray
    span_ok: np.ndarray
    margin: np.ndarray
    stated_ok: np.ndarray  # the sentence states the answer, in whichever article: what the source model learns


def label(engine: Engine, question: str, source: str, answerable: bool, gold: Callable[[str], list[str]],
          stated: Callable[[str], list[str]] | None = None) -> Asked:
    """One question's options, labelled by `qa eval`'s rules: gold(article id) gives the answers that count in that
    article (none outside the gold ones), stated(article id) those that count for the source model (gold's if not
    given)."""
    stated = stated or gold
    picked, options, rows = engine.options(question)
    sentence_ok, span_ok, stated_ok = [], [], []
    for o in options:
        record = picked[o.pick].record
        article, text = record["source"]["id"], record["text"]
        sentence = text[o.sentence[0] : o.sentence[1]]
        sentence_ok.append(_contains(sentence, gold(article)))
        stated_ok.append(_contains(sentence, stated(article)))
        span_ok.append(span_right(text[o.start : o.end], gold(article)))
    return Asked(source, answerable, rows, np.array(sentence_ok, bool), np.array(span_ok, bool),
                 np.array([o.reading.margin for o in options]), np.array(stated_ok, bool))


def ask_all(engine: Engine, questions: list[Question], source: str, any_article: bool = False) -> list[Asked]:
    """Every option of every question, labelled. An answer must come from a gold article; with any_article, a
    sentence of another article that states the answer counts as stating it (stated_ok): news wires report one event
    in many stories, and the source model must learn that each of them states it, not only the story the question
    was written on. SQuAD's articles are apart, where an answer's words in another article are a coincidence."""
    out = []
    for q in questions:
        gold = lambda article, q=q: q.answers if not q.docs or article in q.docs else []  # noqa: E731
        out.append(label(engine, q.q, source, bool(q.answers), gold, (lambda _, q=q: q.answers) if any_article else None))
    print(f"{source}: {len(out)} questions, {sum(len(a.rows) for a in out)} options", flush=True)
    return out


def squad_sets(tmp: Path, rng: random.Random) -> list[Asked]:
    train, tune = squad_articles(SQUAD, "train"), squad_articles(SQUAD, "tune")
    questions, contexts = [], []
    for article in tune:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                questions.append(Question(qa["question"], list(dict.fromkeys(a["text"] for a in qa["answers"])), [safe_id(article["title"])]))
                contexts.append(paragraph["context"])
    pools = Pools.of(p["context"] for a in train + tune for p in a["paragraphs"])
    swapped = [Question(s, [], []) for q, c in zip(questions, contexts) if (s := perturb(q.q, pools, rng, avoid=c))]
    asked = []
    for name, articles, qs in (("squad", train + tune, questions), ("squad-absent", train, questions),
                               ("squad-perturbed", train + tune, rng.sample(swapped, min(400, len(swapped))))):
        index = tmp / f"index-{len(articles)}"
        if not index.exists():
            write_corpus(articles, tmp / f"squad-{len(articles)}.jsonl")
            build_index([tmp / f"squad-{len(articles)}.jsonl"], index)
        asked += ask_all(Engine.open(Settings.from_env(index=index), decision=Decision.untrained()), qs, name)
    return asked


def news_sets(tmp: Path, rng: random.Random) -> list[Asked]:
    stories = [reuters_article(s) for s in reuters_stories(NEWS_STORIES[1])][NEWS_STORIES[0] :]
    source = tmp / "news.jsonl"
    source.write_text("".join(json.dumps(s) + "\n" for s in stories))
    build_index([source], tmp / "news-index")
    engine = Engine.open(Settings.from_env(index=tmp / "news-index"), decision=Decision.untrained())
    questions = [q for path in sorted(NEWS.glob("news_questions_*.jsonl")) for q in load_questions(path)]
    texts = {s["id"]: s["text"] for s in stories}
    pools = Pools.of(texts.values())
    answerable = [q for q in questions if q.answers]
    swapped = [Question(s, [], []) for q in answerable if (s := perturb(q.q, pools, rng, avoid=" ".join(texts.get(d, "") for d in q.docs)))]
    return (ask_all(engine, answerable, "news", any_article=True) + ask_all(engine, [q for q in questions if not q.answers], "news-absent")
            + ask_all(engine, swapped, "news-perturbed"))


def multisource_sets(tmp: Path) -> list[Asked]:
    """The multi-source tuning sets' questions (tests/multisource/dev and dev_v2: invented events told by several
    outlets with different figures), labelled per article: an option states the answer when its article is one the
    set lists and its sentence holds that article's own value. This is where the source model learns that an outlet
    reporting another figure still states an answer. The frozen sets never enter."""
    out = []
    for folder in MULTISOURCE:
        questions = [json.loads(line) for line in (folder / "questions.jsonl").read_text().splitlines() if line.strip()]
        index = tmp / f"multisource-{folder.name}"
        if not index.exists():
            build_index([folder / "articles"], index)
        engine = Engine.open(Settings.from_env(index=index), decision=Decision.untrained())
        for q in questions:
            values = {Path(s["file"]).stem: [s["value"]] for s in q["sources"]}
            out.append(label(engine, q["q"], "multisource" if values else "multisource-absent", bool(values),
                             lambda article, values=values: values.get(article, [])))
    print(f"multisource: {len(out)} questions, {sum(len(a.rows) for a in out)} options", flush=True)
    return out


PARAMS = {"objective": "binary", "learning_rate": 0.05, "num_leaves": 15, "min_data_in_leaf": 20, "lambda_l2": 1.0,
          "num_threads": 1, "deterministic": True, "force_row_wise": True, "seed": 13, "verbosity": -1}
ROUNDS = 200


def fit(asked: list[Asked]) -> dict:
    """One gradient-boosted model per label, over every option of the questions given."""
    import lightgbm

    x = np.vstack([a.rows for a in asked if len(a.rows)])
    models = {}
    for label in MODELS:
        # The source model sees each option as if it were the only one read (qa/reports.py scores sources so), and
        # learns whether its sentence states the answer from the option alone.
        rows, target = (alone(x), "stated") if label == "source" else (x, label)
        y = np.concatenate([getattr(a, f"{target}_ok") for a in asked if len(a.rows)]).astype(float)
        models[label] = lightgbm.train(PARAMS, lightgbm.Dataset(rows, y, feature_name=list(FEATURES)), ROUNDS)
    return models


def decision_of(models: dict) -> Decision:
    config = {"features": list(FEATURES), "thresholds": {"answered": 1.0, "uncertain": 1.0, "span": 1.0}}
    return Decision(config, {name: (lambda rows, m=m: m.predict(rows, num_threads=1)) for name, m in models.items()})


def out_of_fold(asked: list[Asked], rng: random.Random) -> tuple[list[dict], np.ndarray, np.ndarray]:
    """Each question's chosen option as a model fitted without its fold saw it; and every option's source-model
    probability (read alone) with whether its sentence is right."""
    order = list(range(len(asked)))
    rng.shuffle(order)
    fold = {q: i % FOLDS for i, q in enumerate(order)}
    chosen, source_p, source_ok = [], [], []
    for f in range(FOLDS):
        decision = decision_of(fit([a for i, a in enumerate(asked) if fold[i] != f]))
        for i, a in enumerate(asked):
            if fold[i] != f:
                continue
            if not len(a.rows):
                chosen.append({"source": a.source, "answerable": a.answerable, "p": 0.0, "q": 0.0, "sentence_ok": False,
                               "span_ok": False, "margin": -99.0, "margin_ok": False})
                continue
            p, q = decision.probabilities(a.rows, "sentence"), decision.probabilities(a.rows, "span")
            source_p.append(decision.probabilities(alone(a.rows), "source"))
            source_ok.append(a.stated_ok)
            best, by_margin = int(np.argmax(p)), int(np.argmax(a.margin))
            chosen.append({"source": a.source, "answerable": a.answerable, "p": float(p[best]), "q": float(q[best]),
                           "sentence_ok": bool(a.sentence_ok[best]), "span_ok": bool(a.span_ok[best]),
                           "margin": float(a.margin[by_margin]), "margin_ok": bool(a.sentence_ok[by_margin])})
    return chosen, np.concatenate(source_p), np.concatenate(source_ok)


def lowest_at_precision(scores: np.ndarray, right: np.ndarray, precision: float, support: int = 20) -> float:
    """The lowest threshold above which at least `support` answers are right >= precision of the time (infinity
    when none is)."""
    for t in np.unique(scores):
        above = scores >= t
        if above.sum() >= support and right[above].mean() >= precision:
            return float(t)
    return math.inf


def coverage(scores: np.ndarray, right: np.ndarray, precision: float) -> float:
    """Share of questions answered at the lowest threshold reaching the precision."""
    return float((scores >= lowest_at_precision(scores, right, precision)).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=Path, default=TARGET, help="the exported reader's folder")
    parser.add_argument("--refit", action="store_true", help="reuse the options cached in var/decide/options.npz")
    args = parser.parse_args()
    rng = random.Random(13)
    cache = WORK / "options.npz"
    if args.refit and cache.is_file():
        saved = np.load(cache, allow_pickle=False)
        meta = json.loads(str(saved["meta"]))
        asked = [Asked(m["source"], m["answerable"], saved[f"rows{i}"], saved[f"sentence{i}"], saved[f"span{i}"], saved[f"margin{i}"],
                       saved[f"stated{i}"])
                 for i, m in enumerate(meta)]
    else:
        WORK.mkdir(parents=True, exist_ok=True)
        asked = squad_sets(WORK, rng) + news_sets(WORK, rng) + multisource_sets(WORK)
        arrays = {}
        for i, a in enumerate(asked):
            arrays.update({f"rows{i}": a.rows, f"sentence{i}": a.sentence_ok, f"span{i}": a.span_ok, f"margin{i}": a.margin, f"stated{i}": a.stated_ok})
        meta = json.dumps([{"source": a.source, "answerable": a.answerable} for a in asked])
        np.savez(cache, meta=np.array(meta), **arrays)
    chosen, source_p, source_ok = out_of_fold(asked, rng)
    p = np.array([c["p"] for c in chosen])
    q = np.array([c["q"] for c in chosen])
    right = np.array([c["sentence_ok"] for c in chosen])
    span_ok = np.array([c["span_ok"] for c in chosen])
    answered = min(1.0, lowest_at_precision(p, right, ANSWERED_PRECISION))
    # The uncertain band keeps KEEP_ANSWERABLE of the answerable news questions in view: news is what users ask, and
    # SQuAD's answerable questions score higher than news ones for the same rightness.
    news = np.array([c["source"] == "news" for c in chosen])
    uncertain = min(answered, float(np.quantile(p[news], 1 - KEEP_ANSWERABLE)))
    shown = p >= uncertain
    span = min(1.0, lowest_at_precision(q[shown], span_ok[shown], SPAN_PRECISION))
    # A source is reported when its sentence more likely states the answer than not, and counts as confident (for
    # "sources differ") at the same 0.90 precision as an answered question.
    source_kept = min(1.0, lowest_at_precision(source_p, source_ok, 0.5))
    source_answered = min(1.0, lowest_at_precision(source_p, source_ok, ANSWERED_PRECISION))
    margins = np.array([c["margin"] for c in chosen])
    margin_right = np.array([c["margin_ok"] for c in chosen])
    models = fit(asked)
    config = {"features": list(FEATURES), "models": {name: f"decision-{name}.txt" for name in MODELS},
              "thresholds": {"answered": round(answered, 4), "uncertain": round(uncertain, 4), "span": round(span, 4),
                             "source_kept": round(source_kept, 4), "source_answered": round(source_answered, 4)},
              "params": {**PARAMS, "rounds": ROUNDS}}
    table, ece = reliability(p, right)
    by_source = {}
    for source in dict.fromkeys(c["source"] for c in chosen):
        mask = np.array([c["source"] == source for c in chosen])
        by_source[source] = {
            "questions": int(mask.sum()), "answered": round(float((p[mask] >= answered).mean()), 3),
            "uncertain": round(float(((p[mask] >= uncertain) & (p[mask] < answered)).mean()), 3),
            "declined": round(float((p[mask] < uncertain).mean()), 3),
            "answered_right": round(float(right[mask & (p >= answered)].mean()) if (mask & (p >= answered)).any() else 0.0, 3),
        }
    config["tuning"] = {
        "note": "out-of-fold figures on the training questions (5 folds by question); never evaluation data",
        "questions": len(chosen), "by_source": by_source, "ece": round(ece, 4),
        "coverage_at_0.90": {"decision": round(coverage(p, right, 0.90), 3), "margin_alone": round(coverage(margins, margin_right, 0.90), 3)},
        "span_shown_right": round(float(span_ok[shown & (q >= span)].mean()) if (shown & (q >= span)).any() else 0.0, 3),
    }
    print(json.dumps(config["thresholds"]), json.dumps(config["tuning"], indent=1), sep="\n")
    for row in table:
        print("  ", row)
    for name, model in models.items():
        (args.target / config["models"][name]).write_text(model.model_to_string())
    (args.target / DECISION_FILE).write_text(json.dumps(config, indent=1) + "\n")
    Decision.load(args.target)  # fails here, not at serving time, if the files drift
    print(f"wrote {args.target / DECISION_FILE}")


if __name__ == "__main__":
    main()
