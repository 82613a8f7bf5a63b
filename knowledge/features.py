"""What the verifier sees of one (question, candidate entry) pair: numbers only, no entry ids.

Every feature is knowledge-base agnostic (similarities, gaps, overlaps,
shares, counts), so a model trained on one knowledge folder applies to any
other. `EntryProfile`s are computed once per index build; `candidate_features`
costs well under a millisecond for five candidates.

The question-type lexicon below is written from general knowledge of what
people ask a service desk (how long, how much, where, when, which documents,
on someone's behalf, cancel, lost, foreigners, ...), in Chinese and English.
It is deliberately generic: no word in it comes from an evaluation query.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from .index import ANSWER_VIEWS, VIEWS, KnowledgeIndex, Ranked
from .lexical import tokens
from .normalize import normalize

# question type -> cue words (matched as substrings of normalised text; Latin cues on word starts)
QUESTION_TYPES: dict[str, tuple[str, ...]] = {
    "duration": (
        "多久",
        "多长时间",
        "几天",
        "多少天",
        "工作日",
        "时限",
        "期限",
        "时效",
        "how long",
        "how many days",
        "how soon",
        "days",
        "deadline",
    ),
    "cost": (
        "多少钱",
        "收费",
        "费用",
        "价格",
        "免费",
        "付费",
        "要钱",
        "花钱",
        "交钱",
        "fee",
        "cost",
        "price",
        "charge",
        "how much",
        "free",
        "pay for",
    ),
    "location": (
        "在哪",
        "哪里",
        "哪儿",
        "地址",
        "位置",
        "地点",
        "怎么去",
        "怎么走",
        "地铁",
        "停车",
        "where",
        "address",
        "location",
        "directions",
        "parking",
    ),
    "time": (
        "几点",
        "什么时候",
        "时间",
        "开门",
        "关门",
        "营业",
        "上班",
        "下班",
        "周末",
        "节假日",
        "假期",
        "午休",
        "when",
        "hours",
        "open",
        "close",
        "weekend",
        "holiday",
    ),
    "materials": (
        "材料",
        "资料",
        "证件",
        "带什么",
        "需要什么",
        "身份证",
        "复印件",
        "原件",
        "照片",
        "表格",
        "document",
        "material",
        "bring",
        "id card",
        "form",
        "copy",
        "copies",
    ),
    "proxy": (
        "代办",
        "代理",
        "委托",
        "帮别人",
        "替别人",
        "帮家人",
        "代领",
        "代取",
        "授权",
        "本人不能",
        "本人来不了",
        "on behalf",
        "proxy",
        "someone else",
        "authoris",
        "authoriz",
        "family member",
        "for my",
    ),
    "cancel": ("取消", "撤回", "撤销", "退掉", "不办了", "不想办", "作废", "cancel", "withdraw", "revoke", "call off"),
    "change": (
        "修改",
        "更改",
        "变更",
        "改一下",
        "改成",
        "换成",
        "更正",
        "填错",
        "写错",
        "change",
        "modify",
        "update",
        "correct",
        "edit",
        "wrong",
    ),
    "lost": ("丢", "遗失", "找不到", "忘了", "忘记", "弄坏", "损坏", "lost", "lose", "forgot", "missing", "damaged"),
    "foreign": (
        "外国",
        "外籍",
        "护照",
        "境外",
        "国外",
        "海外",
        "出国",
        "英文",
        "英语",
        "翻译",
        "foreign",
        "passport",
        "overseas",
        "abroad",
        "english",
        "translat",
        "visa",
        "expat",
    ),
    "progress": (
        "进度",
        "状态",
        "到哪一步",
        "到哪了",
        "结果",
        "审核",
        "审批",
        "进展",
        "progress",
        "status",
        "result",
        "approved",
        "review",
    ),
    "complaint": (
        "投诉",
        "举报",
        "不满意",
        "差评",
        "态度",
        "反映",
        "complain",
        "complaint",
        "report",
        "unhappy",
        "rude",
    ),
    "online": (
        "网上",
        "线上",
        "在线",
        "app",
        "网站",
        "官网",
        "小程序",
        "公众号",
        "手机上",
        "online",
        "website",
        "internet",
        "portal",
        "web",
    ),
    "payment": (
        "支付",
        "付款",
        "缴费",
        "刷卡",
        "微信支付",
        "支付宝",
        "现金",
        "发票",
        "退款",
        "pay",
        "payment",
        "card",
        "cash",
        "invoice",
        "refund",
        "receipt",
    ),
    "appointment": ("预约", "排队", "取号", "叫号", "号码", "appointment", "book", "queue", "ticket", "slot"),
    "mail": ("邮寄", "快递", "寄到", "寄回", "送到", "上门", "mail", "post", "deliver", "courier", "ship"),
    "privacy": (
        "隐私",
        "个人信息",
        "数据",
        "泄露",
        "注销",
        "删除",
        "privacy",
        "personal data",
        "personal information",
        "delete",
        "leak",
    ),
    "certificate": (
        "证书",
        "证明",
        "补办",
        "补发",
        "换证",
        "续期",
        "延期",
        "到期",
        "certificate",
        "reissue",
        "renew",
        "expire",
        "proof",
    ),
    "account": (
        "账号",
        "账户",
        "密码",
        "登录",
        "登陆",
        "注册",
        "实名",
        "验证码",
        "account",
        "password",
        "login",
        "log in",
        "sign up",
        "register",
        "verification code",
    ),
    "contact": (
        "电话",
        "热线",
        "客服",
        "联系",
        "人工",
        "邮箱",
        "phone",
        "hotline",
        "contact",
        "call",
        "email",
        "human",
        "agent",
    ),
    "urgent": ("加急", "着急", "急用", "加快", "快点", "尽快", "urgent", "expedite", "faster", "asap", "rush"),
    "refusal": ("不通过", "被拒", "驳回", "不予受理", "不受理", "没通过", "reject", "refuse", "denied", "declined"),
    "howto": (
        "怎么办",
        "怎么弄",
        "流程",
        "步骤",
        "如何办理",
        "怎么申请",
        "怎么办理",
        "how do i",
        "how to",
        "how can i",
        "process",
        "steps",
        "procedure",
    ),
}
_TYPE_NAMES = tuple(QUESTION_TYPES)
_LATIN = re.compile(r"[a-z]")
_CJK = re.compile(r"[\u3400-\u9fff]")
_NUM = re.compile(r"\d+(?:\.\d+)?")


def _type_patterns():
    out = []
    for name in _TYPE_NAMES:
        parts = []
        for cue in QUESTION_TYPES[name]:
            parts.append(r"\b" + re.escape(cue) if _LATIN.match(cue) else re.escape(cue))
        out.append(re.compile("|".join(parts)))
    return out


_TYPE_RE = _type_patterns()


def question_types(text: str) -> frozenset[str]:
    """The question types (`QUESTION_TYPES`) a normalised text asks about or covers."""
    return frozenset(n for n, rx in zip(_TYPE_NAMES, _TYPE_RE) if rx.search(text))


def numbers(text: str) -> frozenset[str]:
    return frozenset(_NUM.findall(text))


def zh_share(text: str) -> float:
    """Share of Chinese characters among the letters and characters of a text (0: all Latin)."""
    cjk = len(_CJK.findall(text))
    lat = len(_LATIN.findall(text))
    return cjk / (cjk + lat / 4) if cjk + lat else 0.5  # ~4 Latin letters carry what one character does


def _split(toks) -> tuple[frozenset, frozenset]:
    words = frozenset(t for t in toks if not t.startswith("#"))
    bigrams = frozenset(t for t in toks if t.startswith("#"))
    return words, bigrams


@dataclass(frozen=True)
class EntryProfile:
    words_q: frozenset  # words of the question and alternates
    bigrams_q: frozenset
    words_all: frozenset  # ... and of the answer
    bigrams_all: frozenset
    types_q: frozenset
    types_all: frozenset
    nums: frozenset
    zh: float  # 1.0 for a Chinese entry
    qlen: int  # characters of the question


class Profiles:
    """Per-entry text profiles and word IDF over the entries (built with the index)."""

    def __init__(self, index: KnowledgeIndex):
        self.items: list[EntryProfile] = []
        df: dict[str, int] = {}
        for e in index.entries:
            phr = [normalize(x) for x in e.phrasings]
            ans = [normalize(a) for a in e.answer.values()]
            tq = [t for p in phr for t in tokens(p)]
            ta = [t for a in ans for t in tokens(a[:2000])]
            wq, bq = _split(tq)
            wa, ba = _split(ta)
            qtext = " ".join(phr)
            self.items.append(
                EntryProfile(
                    wq,
                    bq,
                    wq | wa,
                    bq | ba,
                    question_types(qtext),
                    question_types(qtext + " " + " ".join(ans)),
                    numbers(qtext + " " + " ".join(ans)),
                    1.0 if e.lang == "zh" else 0.0,
                    len(normalize(e.question)),
                )
            )
            for w in wq | wa:
                df[w] = df.get(w, 0) + 1
        n = len(index.entries)
        self.max_idf = math.log((n + 1) / 0.5)
        self.idf = {w: math.log((n + 1) / (c + 0.5)) / self.max_idf for w, c in df.items()}

    def word_idf(self, w: str) -> float:
        return self.idf.get(w, 1.0)  # a word no entry uses weighs most


DENSE_VIEWS = (*VIEWS, *ANSWER_VIEWS)
FEATURES: tuple[str, ...] = (
    *(f"sim_{v}" for v in DENSE_VIEWS),
    *(f"gap_{v}" for v in DENSE_VIEWS),
    "dense",
    "dense_gap",
    "fused_gap",
    "fused_behind_top",
    "fused_ahead_next",
    "logp",
    "logp_gap",
    "p_clf",
    "bm25",
    "bm25_gap",
    "bigram_cover_q",
    "bigram_cover_all",
    "word_cover_q",
    "word_cover_all",
    "idf_uncovered_q",
    "idf_uncovered_all",
    "idf_unknown_to_kb",
    "n_qtypes",
    "qtypes_in_entry_q",
    "qtypes_missing",
    "entry_qtypes_not_asked",
    "nums_missing",
    "q_zh",
    "lang_mismatch",
    "len_ratio",
    "q_len",
    "q_words",
    "rank",
)
# within the verified list: each signal's rank (0 = highest) and softmax share (temperature 0.1)
LIST_SIGNALS = ("sim_qp", "sim_qa", "sim_u", "sim_ua", "logp", "bm25", "word_cover_all", "idf_uncovered_all")
FEATURES = FEATURES + tuple(f"{kind}_{name}" for name in LIST_SIGNALS for kind in ("listrank", "listshare"))
# language mismatch times the signals whose meaning changes across languages (a linear model needs them spelt out)
XLANG_SIGNALS = (
    "sim_u",
    "sim_ua",
    "sim_qp",
    "sim_qa",
    "dense",
    "logp",
    "gap_u",
    "dense_gap",
    "word_cover_all",
    "idf_uncovered_all",
)
FEATURES = FEATURES + tuple(f"xlang_{name}" for name in XLANG_SIGNALS)


_COL = {f: i for i, f in enumerate(FEATURES)}


def _gaps(vals: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Value of each chosen candidate minus the best value among all OTHER candidates."""
    if len(vals) < 2:
        return np.zeros(len(pos), dtype=np.float32)
    top2 = np.partition(vals, len(vals) - 2)[-2:]
    best, second = float(top2.max()), float(top2.min())
    v = vals[pos]
    return v - np.where(v >= best, second, best)


def _retrieval_signals(X: np.ndarray, r: Ranked, pos: np.ndarray) -> None:
    """Each view's similarity and gap, the fused score's gaps, the classifier and BM25."""
    col, m = _COL, len(pos)
    for v in DENSE_VIEWS:
        if r.sims and v in r.sims:
            X[:, col[f"sim_{v}"]] = r.sims[v][pos]
            X[:, col[f"gap_{v}"]] = _gaps(r.sims[v], pos)
    X[:, col["dense"]] = r.dense_all[pos]
    X[:, col["dense_gap"]] = _gaps(r.dense_all, pos)
    X[:, col["fused_gap"]] = _gaps(r.fused, pos)
    f = r.fused[pos]
    X[:, col["fused_behind_top"]] = f[0] - f
    X[:, col["fused_ahead_next"]] = np.concatenate([f[:-1] - f[1:], [0.0]]) if m > 1 else 0.0
    if r.logp is not None:
        X[:, col["logp"]] = r.logp[pos]
        X[:, col["logp_gap"]] = _gaps(r.logp, pos)
        X[:, col["p_clf"]] = np.exp(r.logp[pos])
    X[:, col["bm25"]] = r.lex[pos] if r.lex is not None else 0.0
    X[:, col["bm25_gap"]] = _gaps(r.lex, pos) if r.lex is not None else 0.0


def _text_signals(X: np.ndarray, r: Ranked, pos: np.ndarray, profiles: Profiles) -> None:
    """Lexical coverage, question types, numbers, languages and lengths of the question vs each candidate."""
    col = _COL
    qw, qb = _split(r.toks)
    qtypes, qnums, qzh = question_types(r.text), numbers(r.text), zh_share(r.text)
    idf = {w: profiles.word_idf(w) for w in qw}
    idf_total = sum(idf.values()) or 1.0

    def share(covered, of) -> float:
        return len(of & covered) / len(of) if of else 0.0

    def uncovered(words) -> float:
        return sum(x for w, x in idf.items() if w not in words) / idf_total if qw else 0.0

    unknown = sum(x for w, x in idf.items() if w not in profiles.idf) / idf_total if qw else 0.0
    for j, ci in enumerate(r.cand[pos]):
        p = profiles.items[int(ci)]
        row = X[j]
        row[col["bigram_cover_q"]], row[col["bigram_cover_all"]] = share(p.bigrams_q, qb), share(p.bigrams_all, qb)
        row[col["word_cover_q"]], row[col["word_cover_all"]] = share(p.words_q, qw), share(p.words_all, qw)
        row[col["idf_uncovered_q"]], row[col["idf_uncovered_all"]] = uncovered(p.words_q), uncovered(p.words_all)
        row[col["idf_unknown_to_kb"]] = unknown
        row[col["n_qtypes"]] = len(qtypes)
        row[col["qtypes_in_entry_q"]] = len(qtypes & p.types_q)
        row[col["qtypes_missing"]] = len(qtypes - p.types_all)
        row[col["entry_qtypes_not_asked"]] = len(p.types_q - qtypes)
        row[col["nums_missing"]] = len(qnums - p.nums)
        row[col["q_zh"]] = qzh
        row[col["lang_mismatch"]] = abs(qzh - p.zh)
        row[col["len_ratio"]] = math.log((len(r.text) + 1) / (p.qlen + 1))
        row[col["q_len"]] = math.log(len(r.text) + 1)
        row[col["q_words"]] = len(qw)
        row[col["rank"]] = j


def _list_signals(X: np.ndarray) -> None:
    """Within the verified list: each LIST_SIGNALS signal's rank and softmax share; language-mismatch products."""
    col = _COL
    for name in LIST_SIGNALS:
        v = X[:, col[name]]
        if np.isnan(v).all():
            continue
        v = np.nan_to_num(v.astype(np.float64), nan=-9.0)
        X[:, col[f"listrank_{name}"]] = np.argsort(np.argsort(-v, kind="stable"), kind="stable")
        e = np.exp((v - v.max()) * 10.0)
        X[:, col[f"listshare_{name}"]] = e / e.sum()
    mismatch = X[:, col["lang_mismatch"]]
    for name in XLANG_SIGNALS:
        v = X[:, col[name]]
        if not np.isnan(v).all():
            X[:, col[f"xlang_{name}"]] = mismatch * np.nan_to_num(v)


def candidate_features(r: Ranked, index: KnowledgeIndex, profiles: Profiles, k: int = 5) -> np.ndarray:
    """One feature row per candidate of `r.order[:k]` (FEATURES order; NaN where a signal is missing)."""
    pos = r.pos[:k]
    X = np.full((len(pos), len(FEATURES)), np.nan, dtype=np.float32)
    _retrieval_signals(X, r, pos)
    _text_signals(X, r, pos, profiles)
    _list_signals(X)
    return X
