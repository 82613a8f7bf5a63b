"""Questions grouped by meaning: the console's "suggested new entries" are the declined questions
grouped this way, with their counts.

Average-linkage agglomerative clustering over cosine similarity, stopped when the two closest
groups are less similar than `threshold`: every pair of groups left is further apart than that on
average, and a group's questions are, on average, at least that close to one another.
"""

from __future__ import annotations

import numpy as np

#: cosine similarity of the main encoder's query vectors above which two questions ask the same thing
SAME_QUESTION = 0.88


def group_similar(vectors: np.ndarray, threshold: float = SAME_QUESTION) -> list[list[int]]:
    """Indices of the rows of `vectors` (any norm) in groups, largest first (ties: first asked first)."""
    n = len(vectors)
    if n == 0:
        return []
    v = np.asarray(vectors, np.float64)
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    groups = [[i] for i in range(n)]
    total = v @ v.T  # summed similarity between groups (rows / columns: current groups)
    np.fill_diagonal(total, 0.0)
    while len(groups) > 1:
        sizes = np.array([len(g) for g in groups], np.float64)
        mean = total / np.outer(sizes, sizes)
        np.fill_diagonal(mean, -np.inf)
        a, b = np.unravel_index(int(np.argmax(mean)), mean.shape)
        if mean[a, b] < threshold:
            break
        a, b = min(a, b), max(a, b)
        groups[a] += groups.pop(b)
        total[a, :] += total[b, :]
        total[:, a] += total[:, b]
        total[a, a] = 0.0
        total = np.delete(np.delete(total, b, axis=0), b, axis=1)
    return sorted((sorted(g) for g in groups), key=lambda g: (-len(g), g[0]))
