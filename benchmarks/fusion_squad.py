"""Fusion ablation on SQuAD v1.1 dev: passage size and scoring mixes, same index, same questions.

Usage: .venv/bin/python benchmarks/fusion_squad.py MAX_TOKENS
Reads ../shared/data/squad-v1.1-dev/dev-v1.1.json; research scratch kept so the figures in BENCHMARKS.md reproduce.
"""
import json, random, tempfile, time, numpy as np
from pathlib import Path
from qa.evaluate import squad_questions
from index.build import build_index
from index.store import IndexReader
from index.encoder import open_encoder
from index.terms import terms
from index.lexical import bm25_scores
from index.passages import sentences, PassageSpec
import sys
mt=int(sys.argv[1])
tmp=Path(tempfile.mkdtemp()); (tmp/'docs').mkdir()
qs=squad_questions(Path('/work/shared/data/squad-v1.1-dev/dev-v1.1.json'), tmp/'docs', 400)
build_index([tmp/'docs'], tmp/'idx', spec=PassageSpec(max_tokens=mt))
r=IndexReader(tmp/'idx'); enc=open_encoder(r.model_folder,'all-MiniLM-L6-v2')
N=len(r); print('passages',N)
RV=np.concatenate([np.asarray(s.vectors) for s in r.segments])  # a fresh build: no deleted rows
# sentence vectors
sent_rows=[]; sent_texts=[]
for i in range(N):
    t=r.passage(i)['text']
    for a,b in sentences(t): sent_rows.append(i); sent_texts.append(t[a:b])
t0=time.time(); SV=enc.encode(sent_texts,batch_size=64); print('sent enc',time.time()-t0, len(sent_texts))
sent_rows=np.array(sent_rows)
Q=enc.encode([q.q for q in qs])
PV=np.zeros((N,SV.shape[1]),np.float32); np.add.at(PV,sent_rows,SV); PV/=np.linalg.norm(PV,axis=1,keepdims=True)
texts=[r.passage(i)['text'].casefold() for i in range(N)]
src=[r.passage(i)['source']['id'] for i in range(N)]
def hit(q,i): return src[i].startswith(q.docs[0]) and any(a.casefold() in texts[i] for a in q.answers)
def ranks_of(order): pass
res={}
for qi,q in enumerate(Q):
    qq=qs[qi]
    dp=RV@q; mp=PV@q
    ss=SV@q; smax=np.full(N,-1.0); np.maximum.at(smax,sent_rows,ss)
    qt=terms(qq.q); w=r.idf(qt)  # BM25 of every passage, with the statistics bm25_search uses
    bm=np.concatenate([bm25_scores(s.postings,qt,w,r.avgdl) for s in r.segments]) if w else np.zeros(N)
    bmn=bm/(bm.max()+1e-9)
    def rrfrank(*arrs, w=None):
        w=w or [1]*len(arrs); s=np.zeros(N)
        for a,ww in zip(arrs,w):
            rk=np.empty(N); rk[np.argsort(-a)]=np.arange(1,N+1); s+=ww/(60+rk)
        return s
    variants={
      'dense':dp,'smax':smax,'bm25':bm,'rrf_d_b':rrfrank(dp,bm),'rrf_d_s_b':rrfrank(dp,smax,bm),'rrf_s_b':rrfrank(smax,bm),
      'cvx.5d':0.5*dp+0.5*bmn,'cvx_s':0.5*smax+0.5*bmn,'cvx_ds':0.3*dp+0.3*smax+0.4*bmn,'cvx_ds2':0.25*dp+0.25*smax+0.5*bmn,
      'cvx_ds3':0.2*dp+0.4*smax+0.4*bmn,'mean':mp,'cvx_ms3':0.2*mp+0.4*smax+0.4*bmn,'cvx_ms4':0.3*mp+0.3*smax+0.4*bmn,'cvx_ms5':0.15*mp+0.35*smax+0.5*bmn,
    }
    for name,s in variants.items():
        order=np.argsort(-s)[:5]
        rk=next((j+1 for j,i in enumerate(order) if hit(qq,i)),None)
        res.setdefault(name,[]).append(rk)
for name,rks in res.items():
    n=len(rks); print(f"{name:12s} R1={sum(r==1 for r in rks)/n:.3f} R3={sum(r is not None and r<=3 for r in rks)/n:.3f} R5={sum(r is not None for r in rks)/n:.3f}")
