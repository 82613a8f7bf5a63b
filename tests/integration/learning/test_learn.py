"""`kb learn`: the verifier refitted with a desk's labels is kept only when it does at least as well on
the labels it did not train on (the real models over the shipped sample knowledge)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from bot.cli import main
from bot.config import SAMPLE_KNOWLEDGE_DIR
from domain import labels
from knowledge.runtime import KnowledgeRuntime
from knowledge.training import NotEnoughLabels, held_out_groups, label_rows, learn
from knowledge.verifier import Verifier, deployment_verifier_file, load_verifier, preferred_verifier
from storage.db import Database


@dataclass(frozen=True)
class L:
    text: str
    entry_id: str | None
    fits: bool = True


@pytest.fixture(scope="module")
def kb(embedding_cache) -> KnowledgeRuntime:
    return KnowledgeRuntime(SAMPLE_KNOWLEDGE_DIR, embedding_cache)


def right_labels(kb: KnowledgeRuntime) -> list[L]:
    """Each alternate of the sample labelled with its own entry: what a careful desk would say."""
    return [L(a, e.id) for e in kb.entries for a in e.alternates]


def run(kb: KnowledgeRuntime, found, **kw):
    return learn(kb._snap.index, kb._snap.profiles, found, kb.verifier, kb.utility, **kw)


@pytest.mark.slow
def test_a_model_that_does_better_on_unseen_labels_is_kept(kb):
    res = run(kb, right_labels(kb))
    assert res.kept and res.held_out >= 5 and res.trained_on > res.held_out
    assert res.new.cost <= res.old.cost and res.new.n == res.held_out
    assert Verifier(res.spec).thresholds(kb.utility) != (0.5, 0.3)  # thresholds chosen anew on out-of-fold scores


@pytest.mark.slow
def test_a_model_taught_contradictory_labels_is_refused(kb):
    good = right_labels(kb)
    held = held_out_groups(label_rows(kb._snap.index, kb._snap.profiles, good), 0.3, 0)
    # outside the held-out entries, every label names the wrong entry for its question (the entry stays, so
    # the same entries are held out): a desk whose labels contradict what the held-out labels say
    texts = [x.text for x in good]
    bad = [
        x
        if x.entry_id in held
        else L(
            next(t for t, o in zip(texts[i + 1 :] + texts, good[i + 1 :] + good) if o.entry_id != x.entry_id),
            x.entry_id,
        )
        for i, x in enumerate(good)
    ]
    res = run(kb, bad, weight=50.0)
    assert set(held) == {x.entry_id for x in bad if x.entry_id in held} and res.held_out == sum(
        x.entry_id in held for x in bad
    )
    assert not res.kept and res.new.cost > res.old.cost


@pytest.mark.slow
def test_too_few_labels_or_entries_are_refused_with_a_reason(kb):
    with pytest.raises(NotEnoughLabels, match="at least 20"):
        run(kb, right_labels(kb)[:10])
    one_entry = [L(a, "hall-hours") for e in kb.entries for a in e.alternates][:30]
    with pytest.raises(NotEnoughLabels, match="too few entries"):
        run(kb, one_entry)
    with pytest.raises(NotEnoughLabels, match="^0 usable labels"):  # labels of entries no longer there
        run(kb, [L(x.text, "gone-entry") for x in right_labels(kb)])


@pytest.mark.slow
def test_kb_learn_writes_the_deployments_verifier_which_the_runtime_prefers(
    kb, tmp_path, monkeypatch, capsys, embedding_cache, database_url
):
    data = tmp_path / "data"
    monkeypatch.setenv("BOT_DATA_DIR", str(data))
    monkeypatch.setenv("BOT_DATABASE_URL", database_url)
    cli = ["kb", "learn", "--kb", str(SAMPLE_KNOWLEDGE_DIR), "--cache", str(embedding_cache)]
    assert main(cli) == 1
    assert "not enough labels to learn from: 0, at least 20" in capsys.readouterr().out
    db = Database(database_url)
    db.upgrade()
    with db.session() as s:
        for x in right_labels(kb):
            labels.record(s, x.text, x.entry_id, "try", None)
    db.dispose()
    assert main(cli) == 0
    out = capsys.readouterr().out
    assert "old model on the held-out labels: mean cost" in out and "new model on the held-out labels" in out
    assert "kept: written to" in out
    written = deployment_verifier_file(data)
    spec = json.loads(written.read_text(encoding="utf-8"))[kb.profile]
    assert spec["notes"]["learned"]["labels"] > 0
    assert preferred_verifier(kb.profile, written).spec["notes"]["learned"] == spec["notes"]["learned"]
    assert "learned" not in preferred_verifier(kb.profile, tmp_path / "none.json").spec["notes"]
    assert "learned" not in load_verifier(kb.profile).spec["notes"], "the installed package is left alone"


@pytest.mark.slow
def test_waiting_questions_are_grouped_by_meaning_with_the_live_encoder(kb):
    texts = [
        "推荐一部好看的电影吧",
        "我家的猫不吃饭",
        "有什么好看的电影推荐",
        "附近哪里能停车",
        "猫咪不吃东西怎么办",
        "最近有啥电影值得看",
        "停车场在哪里",
    ]
    assert kb.group_questions(texts) == [[0, 2, 5], [1, 4], [3, 6]]
    assert kb.group_questions([]) == []


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [("--holdout", "1.5", "not a share between 0 and 1"), ("--label-weight", "0", "not a positive number")],
)
def test_kb_learn_refuses_bad_options_with_a_reason(option, value, said, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["kb", "learn", option, value])
    assert exit_.value.code == 2 and said in capsys.readouterr().err
