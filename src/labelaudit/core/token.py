"""Token classification: one label per token, sentences of varying length.

Tokens are held flat, in reading order: labels (T,), pred_probs (T, K) and sentence lengths (S,) that sum
to T. Detection is the multi-class engine on the flat tokens; results map back to (sentence, token).
"""

from __future__ import annotations

import warnings

import numpy as np

from labelaudit.core.checks import check_inputs
from labelaudit.core.context import Context
from labelaudit.core.filter import issue_rows
from labelaudit.core.rank import check_method, order_rows, scores_for_rows
from labelaudit.errors import InputError, LabelauditWarning

SENTENCE_METHODS = ("min", "softmin")


def check_lengths(lengths, n_tokens: int) -> np.ndarray:
    """Sentence lengths as int64 (S,), non-negative, summing to the number of tokens."""
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or lengths.dtype.kind not in "iu":
        raise InputError(f"sentence lengths must be a 1-D integer array, got {lengths.dtype} {lengths.shape}")
    if len(lengths) and lengths.min() < 0:
        raise InputError(
            f"sentence lengths must be >= 0; sentence {int(np.argmin(lengths))} has {int(lengths.min())}"
        )
    if int(lengths.sum()) != n_tokens:
        raise InputError(f"sentence lengths sum to {int(lengths.sum())} but there are {n_tokens} tokens")
    return lengths.astype(np.int64)


def positions(flat: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """(M, 2) int64 (sentence, token) of flat token indices."""
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    s = np.searchsorted(starts, flat, side="right") - 1
    # empty sentences share a start with the next one: searchsorted(right) already skips them
    return np.column_stack([s, flat - starts[s]]).astype(np.int64)


def find_label_issues(
    labels,
    pred_probs,
    lengths,
    *,
    return_indices_ranked_by: str = "self_confidence",
    adjust_pred_probs: bool = False,
    filter_by: str = "prune_by_noise_rate",
    frac_noise: float = 1.0,
    num_to_remove_per_class=None,
    min_examples_per_class: int = 1,
    batch_size: int | None = None,
) -> np.ndarray:
    """(M, 2) int64 (sentence, token) pairs of likely label errors, most severe first."""
    check_method(return_indices_ranked_by, adjust_pred_probs)
    ctx = Context.validated(labels, pred_probs, batch_size)
    return issue_pairs(
        ctx,
        check_lengths(lengths, ctx.n),
        return_indices_ranked_by=return_indices_ranked_by,
        adjust_pred_probs=adjust_pred_probs,
        filter_by=filter_by,
        frac_noise=frac_noise,
        num_to_remove_per_class=num_to_remove_per_class,
        min_examples_per_class=min_examples_per_class,
    )


def issue_pairs(
    ctx: Context,
    lengths: np.ndarray,
    *,
    return_indices_ranked_by: str = "self_confidence",
    adjust_pred_probs: bool = False,
    **filter_options,
) -> np.ndarray:
    """find_label_issues on an already-validated flat-token Context (its thresholds and row pass are
    reused by whatever else the caller asks of the same Context)."""
    flagged = issue_rows(ctx, **filter_options)
    return positions(order_rows(ctx, flagged, return_indices_ranked_by, adjust_pred_probs), lengths)


def sentence_scores(
    token_scores: np.ndarray, lengths: np.ndarray, method: str = "min", temperature: float = 0.05
) -> np.ndarray:
    """(S,) one score per sentence: the minimum of its token scores, or a softmin (sum of scores weighted
    by softmax((1 - s) / T); T = 0 is the minimum, T = inf the mean). Empty sentences get NaN (warned)."""
    if method not in SENTENCE_METHODS:
        raise InputError(
            f"sentence score method must be one of {', '.join(SENTENCE_METHODS)}; got {method!r}"
        )
    s = np.asarray(token_scores)
    out = np.full(len(lengths), np.nan, dtype=s.dtype if s.dtype.kind == "f" else np.float64)
    nonempty = lengths > 0
    if not nonempty.all():
        warnings.warn(
            f"{int((~nonempty).sum())} empty sentence(s) get a NaN sentence score",
            LabelauditWarning,
            stacklevel=2,
        )
    if not nonempty.any():
        return out
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))[nonempty]
    if method == "min" or temperature == 0:
        out[nonempty] = np.minimum.reduceat(s, starts)
        return out
    if np.isinf(temperature):
        out[nonempty] = np.add.reduceat(s, starts) / lengths[nonempty]
        return out
    seg = np.repeat(np.arange(len(starts)), lengths[nonempty])
    x = (1 - s) / s.dtype.type(max(temperature, 1e-6))
    e = np.exp(x - np.maximum.reduceat(x, starts)[seg])
    w = e / np.add.reduceat(e, starts)[seg]
    out[nonempty] = np.add.reduceat(s * w, starts)
    return out


def get_label_quality_scores(
    labels,
    pred_probs,
    lengths,
    *,
    token_score_method: str = "self_confidence",
    sentence_score_method: str = "min",
    temperature: float = 0.05,
    batch_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(sentence scores (S,), token scores (T,)), lower = more likely to hold a label error."""
    check_method(token_score_method)
    y, p = check_inputs(labels, pred_probs, batch_size=batch_size)
    lengths = check_lengths(lengths, len(y))
    tokens = scores_for_rows(Context(y, p, batch_size), None, token_score_method)
    return sentence_scores(tokens, lengths, sentence_score_method, temperature), tokens


def common_label_issues(
    issues: np.ndarray, token_strings: list[str], *, labels=None, predicted=None, lengths=None
) -> list[tuple]:
    """Token strings most often flagged. Without labels: (token, count) rows; with labels and predicted
    classes per flat token: (token, given, predicted, count) rows, one per token and (given, predicted)
    pair. Sorted by count descending, ties in order of first appearance."""
    counts: dict = {}
    flat = None
    if lengths is not None:
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        flat = starts[issues[:, 0]] + issues[:, 1] if len(issues) else np.empty(0, dtype=np.int64)
    for q, word in enumerate(token_strings[i] for i in (flat if flat is not None else [])):
        key = (word,) if labels is None else (word, int(labels[flat[q]]), int(predicted[flat[q]]))
        counts[key] = counts.get(key, 0) + 1
    if labels is not None:
        # within one token, (given, predicted) pairs ascending, tokens in first-appearance order
        order = {}
        for key in counts:
            order.setdefault(key[0], []).append(key)
        keys = [k for w in order for k in sorted(order[w], key=lambda x: (x[1], x[2]))]
    else:
        keys = list(counts)
    rows = [(*k, counts[k]) for k in keys]
    return sorted(rows, key=lambda r: -r[-1])


def filter_by_token(token: str, issues: np.ndarray, token_strings: list[str], lengths) -> np.ndarray:
    """The (sentence, token) issues whose token string equals `token`, case-insensitively, in input order."""
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    want = token.lower()
    keep = [
        i
        for i, (s, j) in enumerate(np.asarray(issues).tolist())
        if token_strings[starts[s] + j].lower() == want
    ]
    return np.asarray(issues, dtype=np.int64).reshape(-1, 2)[keep]
