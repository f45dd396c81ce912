"""Token classification: one label per token, sentences of varying length.

Tokens are held flat, in reading order: labels (T,), pred_probs (T, K) and sentence lengths (S,) that sum
to T. Detection is the multi-class engine on the flat tokens; results map back to (sentence, token).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from labelaudit.core.checks import check_inputs
from labelaudit.core.context import Context
from labelaudit.core.filter import issue_rows
from labelaudit.core.rank import check_method, order_rows, scores_for_rows
from labelaudit.core.report import Columns, Detection, Listing, Report, issue_gates, rate_line, score_gate
from labelaudit.errors import InputError, LabelauditWarning

SENTENCE_METHODS = ("min", "softmin")


def check_lengths(lengths: ArrayLike, n_tokens: int) -> NDArray[np.int64]:
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
    labels: ArrayLike,
    pred_probs: NDArray[np.floating[Any]],
    lengths: ArrayLike,
    *,
    return_indices_ranked_by: str = "self_confidence",
    adjust_pred_probs: bool = False,
    filter_by: str = "prune_by_noise_rate",
    frac_noise: float = 1.0,
    num_to_remove_per_class: ArrayLike | None = None,
    min_examples_per_class: int = 1,
    batch_size: int | None = None,
) -> NDArray[np.int64]:
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
    **filter_options: Any,
) -> NDArray[np.int64]:
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
    labels: ArrayLike,
    pred_probs: NDArray[np.floating[Any]],
    lengths: ArrayLike,
    *,
    token_score_method: str = "self_confidence",
    sentence_score_method: str = "min",
    temperature: float = 0.05,
    batch_size: int | None = None,
) -> tuple[NDArray[np.floating[Any]], NDArray[np.floating[Any]]]:
    """(sentence scores (S,), token scores (T,)), lower = more likely to hold a label error."""
    check_method(token_score_method)
    y, p = check_inputs(labels, pred_probs, batch_size=batch_size)
    sentence_lengths = check_lengths(lengths, len(y))
    tokens = scores_for_rows(Context(y, p, batch_size), None, token_score_method)
    return sentence_scores(tokens, sentence_lengths, sentence_score_method, temperature), tokens


def common_label_issues(
    issues: np.ndarray,
    token_strings: list[str],
    *,
    labels: np.ndarray | None = None,
    predicted: np.ndarray | None = None,
    lengths: ArrayLike | None = None,
) -> list[tuple[Any, ...]]:
    """Token strings most often flagged. Without labels: (token, count) rows; with labels and predicted
    classes per flat token: (token, given, predicted, count) rows, one per token and (given, predicted)
    pair. Sorted by count descending, ties in order of first appearance."""
    if labels is not None and predicted is None:
        raise InputError("common_label_issues needs the predicted classes along with the labels")
    counts: dict[tuple[Any, ...], int] = {}
    flat = np.empty(0, dtype=np.int64)  # without lengths no issue maps to a token
    if lengths is not None:
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        flat = starts[issues[:, 0]] + issues[:, 1] if len(issues) else np.empty(0, dtype=np.int64)
    for q, word in enumerate(token_strings[i] for i in flat):
        key = (
            (word,)
            if labels is None or predicted is None
            else (word, int(labels[flat[q]]), int(predicted[flat[q]]))
        )
        counts[key] = counts.get(key, 0) + 1
    if labels is not None:
        # within one token, (given, predicted) pairs ascending, tokens in first-appearance order
        order: dict[Any, list[tuple[Any, ...]]] = {}
        for key in counts:
            order.setdefault(key[0], []).append(key)
        keys = [k for w in order for k in sorted(order[w], key=lambda x: (x[1], x[2]))]
    else:
        keys = list(counts)
    rows = [(*k, counts[k]) for k in keys]
    return sorted(rows, key=lambda r: -r[-1])


def filter_by_token(
    token: str, issues: np.ndarray, token_strings: list[str], lengths: ArrayLike
) -> NDArray[np.int64]:
    """The (sentence, token) issues whose token string equals `token`, case-insensitively, in input order."""
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    want = token.lower()
    keep = [
        i
        for i, (s, j) in enumerate(np.asarray(issues).tolist())
        if token_strings[starts[s] + j].lower() == want
    ]
    return np.asarray(issues, dtype=np.int64).reshape(-1, 2)[keep]


# ---------------------------------------------------------------------------- reports


def _flat(lengths: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    return (starts[pairs[:, 0]] + pairs[:, 1]).astype(np.int64) if len(pairs) else np.empty(0, dtype=np.int64)


def _names(class_names: list[str] | None, idx: NDArray[np.integer]) -> list[str] | list[int]:
    return [class_names[i] for i in idx] if class_names else [int(i) for i in idx]


def _token_rows(
    ctx: Context,
    lengths: np.ndarray,
    pairs: NDArray[np.integer],
    scores: np.ndarray,
    class_names: list[str] | None,
    tokens: list[str] | None,
) -> Columns:
    flat = _flat(lengths, pairs)
    cols: Columns = {
        "sentence": pairs[:, 0],
        "token": pairs[:, 1],
        "given_label": ctx.labels[flat].astype(np.int64),
        "predicted_label": ctx.predicted(flat) if len(flat) else np.empty(0, dtype=np.int64),
        "label_quality": np.asarray(scores[flat], dtype=np.float64),
        "is_label_issue": np.ones(len(flat), dtype=bool),
    }
    if class_names:
        cols["given_name"] = _names(class_names, cols["given_label"])
        cols["predicted_name"] = _names(class_names, cols["predicted_label"])
    if tokens is not None:
        cols["text"] = [tokens[i] for i in flat]
    return cols


def _sentences(lengths: np.ndarray, tokens: list[str] | None, pairs: NDArray[np.integer]) -> list[list[str]]:
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    return (
        [list(tokens[starts[s] : starts[s] + lengths[s]]) for s in pairs[:, 0]] if tokens is not None else []
    )


def find_report(
    ctx: Context,
    lengths: np.ndarray,
    detection: Detection = Detection(),
    listing: Listing = Listing(),
    *,
    tokens: list[str] | None = None,
    by: str = "token",
    class_names: list[str] | None = None,
) -> Report:
    """find-issues --task token: flagged tokens (sentence, token) most severe first, or, by="sentence",
    the sentences in order of their most severe token. Gates count the listed unit."""
    if by not in ("token", "sentence"):
        raise InputError(f"--by must be 'token' or 'sentence', got {by!r}")
    d, top, mask = detection, listing.top, listing.mask
    check_method(d.rank_by, d.adjust_pred_probs)
    pairs = issue_pairs(
        ctx,
        lengths,
        return_indices_ranked_by=d.rank_by,
        adjust_pred_probs=d.adjust_pred_probs,
        filter_by=d.filter_by,
        frac_noise=d.frac_noise,
        num_to_remove_per_class=d.num_to_remove_per_class,
        min_examples_per_class=d.min_examples_per_class,
    )
    scores = scores_for_rows(ctx, None, d.rank_by, d.adjust_pred_probs)
    n_sent = len(lengths)
    view_data: dict[str, Any] = {}
    if by == "sentence":
        if len(pairs):
            sent, first = np.unique(pairs[:, 0], return_index=True)
            sent = sent[np.argsort(first, kind="stable")]  # sentences in order of their most severe token
        else:
            sent = np.empty(0, dtype=np.int64)
        counts = np.bincount(pairs[:, 0], minlength=n_sent)[sent] if len(pairs) else sent
        listed = sent if top is None else sent[:top]
        cols: Columns = {
            "sentence": listed.astype(np.int64),
            "n_issues": np.asarray(counts[: len(listed)], np.int64),
        }
        npy = _unit_mask(listed, n_sent) if mask else listed.astype(np.int64)
        counted, total, unit, views = len(sent), n_sent, "sentences", ("plain:issues",)
    else:
        listed = pairs if top is None else pairs[:top]
        cols = _token_rows(ctx, lengths, listed, scores, class_names, tokens)
        npy = _unit_mask(_flat(lengths, listed), ctx.n) if mask else listed.astype(np.int64)
        counted, total, unit, views = len(pairs), ctx.n, "tokens", ("tokens",)
        view_data["sentences"] = _sentences(lengths, tokens, listed)
    params = {**d.params(), "top": top, "task": "token", "by": by}
    return Report(
        command="find-issues",
        params=params,
        n=ctx.n,
        k=ctx.k,
        class_names=class_names,
        headline=rate_line(counted, total, f"{unit} with label issues", unit),
        tables={"issues": cols},
        results={"n_issues": counted, "issue_rate": counted / total, "n_sentences": n_sent},
        gates=issue_gates(counted, total, listing.max_issues, listing.max_issue_rate),
        npy=npy,
        views=views,
        total=counted,
        view_data=view_data,
    )


def _unit_mask(rows: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[rows] = True
    return out


def rank_report(
    ctx: Context,
    lengths: np.ndarray,
    *,
    method: str = "self_confidence",
    adjust_pred_probs: bool = False,
    sentence_method: str = "min",
    temperature: float = 0.05,
    top: int | None = None,
    class_names: list[str] | None = None,
) -> Report:
    """rank --task token: every sentence's score (the minimum or softmin of its token scores), lowest
    first; empty sentences score NaN and come last."""
    check_method(method, adjust_pred_probs)
    token_scores = scores_for_rows(ctx, None, method, adjust_pred_probs)
    sent = sentence_scores(token_scores, lengths, sentence_method, temperature)
    order = np.argsort(np.where(np.isnan(sent), np.inf, sent), kind="stable")
    listed = order if top is None else order[:top]
    cols: Columns = {
        "sentence": listed.astype(np.int64),
        "n_tokens": lengths[listed],
        "sentence_quality": np.asarray(sent[listed], dtype=np.float64),
    }
    params = {
        "method": method,
        "adjust_pred_probs": adjust_pred_probs,
        "top": top,
        "task": "token",
        "sentence_method": sentence_method,
        "temperature": temperature,
    }
    return Report(
        command="rank",
        params=params,
        n=ctx.n,
        k=ctx.k,
        class_names=class_names,
        headline=f"scored {len(sent)} sentences (lowest quality first)",
        tables={"issues": cols},
        results={
            "n_sentences": len(sent),
            "sentence_scores": sent.astype(float).tolist(),
            "token_scores": np.asarray(token_scores, dtype=float).tolist(),
        },
        npy=sent.astype(np.float64),
        file_table={"sentence": np.arange(len(sent)), "sentence_quality": sent.astype(np.float64)},
        views=("plain:issues",),
        total=len(sent),
    )


def _pair_counts(codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(given, predicted, count) of every (given, predicted) pair in `codes` (given * K + predicted), in
    row-major order: a (K, K) bincount below confident.SPARSE_MIN_K classes, the distinct codes from it on
    (the same three int64 columns)."""
    from labelaudit.core import confident as kn

    if k >= kn.SPARSE_MIN_K:
        u, count = np.unique(codes, return_counts=True)
        g, pr = np.divmod(u.astype(np.int64), k)
        return g, pr, count.astype(np.int64)
    cells = np.bincount(codes, minlength=k * k).reshape(k, k)
    g, pr = np.nonzero(cells)
    return g, pr, cells[g, pr]


def health_report(
    ctx: Context,
    lengths: np.ndarray,
    *,
    tokens: list[str] | None = None,
    num_examples: int | None = None,
    fail_under: float | None = None,
    class_names: list[str] | None = None,
) -> Report:
    """health --task token: the multi-class health of the tokens, the most common (given -> predicted)
    issues and, with token strings, the tokens most often flagged."""
    from labelaudit.core.health import HealthReport
    from labelaudit.core.report import named_classes

    rep = HealthReport(ctx, num_examples)
    pairs = issue_pairs(ctx, lengths)  # the same Context as the health report: no second pass
    flat = _flat(lengths, pairs)
    k = ctx.k
    g, pr, count = _pair_counts(ctx.labels[flat].astype(np.int64) * k + ctx.predicted(flat), k)
    order = np.argsort(-count, kind="stable")
    common: Columns = {"given_label": g[order], "predicted_label": pr[order], "n_issues": count[order]}
    if class_names:
        common["given_name"] = _names(class_names, common["given_label"])
        common["predicted_name"] = _names(class_names, common["predicted_label"])
    tables: dict[str, Columns] = {"common_issues": common}
    views = ["score", "plain:common_issues:Most common issues (given tag -> predicted tag)"]
    if tokens is not None:
        rows = common_label_issues(pairs, tokens, lengths=lengths)
        tables["tokens"] = {"token": [r[0] for r in rows], "n_issues": [r[1] for r in rows]}
        views.append("plain:tokens:Tokens most often flagged")
    views.append("classes:Tags, most problematic first")
    tables["classes"] = named_classes(rep.classes, class_names)
    return Report(
        command="health",
        params={"task": "token", "num_examples": num_examples, "fail_under": fail_under},
        n=ctx.n,
        k=k,
        class_names=class_names,
        headline=(
            f"token label health score {rep.health_score:.4f} ({len(pairs)} token issues in {ctx.n} tokens, "
            f"{len(lengths)} sentences)"
        ),
        tables=tables,
        results={"health_score": rep.health_score, "n_issues": len(pairs)},
        gates=score_gate("fail_under", "health score {}", rep.health_score, fail_under, below=True),
        views=tuple(views),
    )
