"""Data labelled by several annotators: consensus labels, their quality, each annotator's quality
(CROWDLAB, Goh, Gupta and Mueller 2022) and active-learning scores (ActiveLab).

The labels are an (N, M) float array, one column per annotator, NaN where an annotator did not label an
example (an integer array means everyone labelled everything). They are read once, in row chunks, into
one index list per annotator (the examples it labelled, increasing, and its labels), so memory grows
with the number of labels given, not with N x M: every later step is a loop over the M annotators (or
the K classes) of vectorised work over their examples, plus (N, K) arrays for the votes and the
posterior. 1M examples x 50 annotators with 3 labels each is 3M labels.

Parity target: cleanlab 2.9.0's `cleanlab.multiannotator` with stable sorts (tests/golden). Reproduced
on purpose because they decide its numbers: the "agreement" quality method and the temperature search
use vote fractions packed into the first positions (the distinct classes of an example in increasing
order, not at their class positions). Deliberate differences: a majority-vote tie that survives every
tie-break goes to the smallest class with a warning (cleanlab draws from numpy's global generator, or
fails when no example is untied); annotator quality always uses the chosen score method (cleanlab
switches to self-confidence when the detailed per-label qualities are not asked for).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from labelaudit.core.checks import check_pred_probs, check_shape
from labelaudit.core.rank import SCORE_METHODS, scores_of_block
from labelaudit.core.report import Columns, Gate, Report, head
from labelaudit.errors import InputError, LabelauditWarning

LOW = 1e-6  # lower clip of the most-likely-class error, of annotator weights and of the model factor
SMALL = 1e-30  # lower clip of probabilities before logarithms in temperature scaling
T_EPS = 1e-6  # lower clip of a temperature
COARSE_TEMPERATURES = (0.1, 0.2, 0.5, 0.8, 1.0, 2.0, 3.0, 5.0, 8.0)
CONSENSUS_METHODS = ("best_quality", "majority_vote")
QUALITY_METHODS = ("crowdlab", "agreement")
_CHUNK_CELLS = 1 << 22  # cells of the (N, M) labels converted at a time

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class Annotations:
    """Validated labels: for each annotator j, the examples it labelled (increasing) and its labels."""

    n: int
    k: int
    rows: tuple[NDArray[np.intp], ...]
    labels: tuple[NDArray[np.intp], ...]
    num: I64  # (N,) labels per example
    votes: NDArray[np.int32]  # (N, K) how many annotators gave each class

    @property
    def m(self) -> int:
        return len(self.rows)

    @property
    def multi(self) -> NDArray[np.bool_]:
        """(N,) the examples with at least two labels: everything estimated from agreement uses these."""
        return self.num >= 2


@dataclass(frozen=True, eq=False)
class MultiannotatorResult:
    """What get_label_quality_multiannotator found. Per example (N,): consensus_label int64,
    consensus_quality_score, annotator_agreement float64, num_annotations int64. Per annotator (M,), in
    input column order: annotator_quality (NaN for one who shares no example with another),
    agreement_with_consensus, worst_class int64, num_examples_labeled int64; `annotator_order` lists
    them worst first. model_weight and annotator_weight (M,) are None for quality_method="agreement";
    detailed_label_quality (N, M), NaN where not labelled, only when asked for."""

    consensus_label: I64
    consensus_quality_score: F64
    annotator_agreement: F64
    num_annotations: I64
    annotator_quality: F64
    agreement_with_consensus: F64
    worst_class: I64
    num_examples_labeled: I64
    model_weight: float | None
    annotator_weight: F64 | None
    consensus_method: str
    quality_method: str
    detailed_label_quality: F64 | None = None

    @property
    def annotator_order(self) -> I64:
        """(M,) annotators by ascending quality, then agreement with consensus; NaN last; stable."""
        return np.lexsort((self.agreement_with_consensus, self.annotator_quality)).astype(np.int64)


# --------------------------------------------------------------------------------------------- input rules


def _as_label_matrix(labels_multiannotator: object) -> np.ndarray:
    x: Any = labels_multiannotator
    if hasattr(x, "to_numpy") and not isinstance(x, np.ndarray):
        x = x.to_numpy()
    if isinstance(x, np.memmap):
        x = x.view(np.ndarray)
    elif not isinstance(x, np.ndarray):
        x = np.asarray(x)
    if x.dtype.kind in "OUS":
        try:
            x = x.astype(np.float64)
        except (TypeError, ValueError):
            raise InputError(
                "labels_multiannotator must hold class ids (NaN where not labelled), not strings; "
                "map class names to 0..K-1 first"
            ) from None
    if x.ndim != 2:
        raise InputError(f"labels_multiannotator must be 2-D (N examples, M annotators), got shape {x.shape}")
    if x.dtype.kind not in "fiub":
        raise InputError(f"labels_multiannotator must be numbers, got dtype {x.dtype}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise InputError(f"labels_multiannotator is empty (shape {x.shape})")
    return x


def check_annotations(
    labels_multiannotator: object, k: int, *, n: int | None = None, allow_single: bool = False
) -> Annotations:
    """The input rules of multi-annotator labels for K classes (and N examples when given): labels are
    integers in 0..K-1 or NaN (not labelled); every example and every annotator has at least one label;
    unless `allow_single`, at least two annotators and at least one example with two labels. Raises
    InputError naming the rule and the first offending value. Annotations checked before (for the same
    K and N) are taken as they are: the rules are not read again from the labels."""
    if isinstance(labels_multiannotator, Annotations):
        ann = labels_multiannotator
        if ann.k != k or (n is not None and ann.n != n):
            raise InputError(
                f"these annotations were checked for N={ann.n}, K={ann.k}; pred_probs has "
                f"N={ann.n if n is None else n}, K={k}"
            )
        if not allow_single:
            _check_multi(ann.m, ann.num, ann.votes)
        return ann
    x = _as_label_matrix(labels_multiannotator)
    nx, m = x.shape
    if n is not None and nx != n:
        raise InputError(
            f"labels_multiannotator has {nx} rows but pred_probs has {n} (N must match: one row per example)"
        )
    step = max(1, _CHUNK_CELLS // m)
    rows: list[list[np.ndarray]] = [[] for _ in range(m)]
    labs: list[list[np.ndarray]] = [[] for _ in range(m)]
    for s in range(0, nx, step):
        block = np.asarray(x[s : s + step])
        if block.dtype.kind == "f":
            seen = ~np.isnan(block)
            with np.errstate(invalid="ignore"):
                bad = seen & ((block != np.floor(block)) | (block < 0) | (block >= k))
        else:
            seen = np.ones(block.shape, dtype=bool)
            bad = (block < 0) | (block >= k)
        if bad.any():
            r, j = np.argwhere(bad)[0]
            v = block[r, j].item()
            rule = (
                "labels must be integers (NaN where not labelled)"
                if isinstance(v, float) and np.isfinite(v) and v != np.floor(v)
                else f"labels must be in 0..{k - 1} (K={k} from pred_probs)"
            )
            shown = int(v) if float(v).is_integer() else v
            raise InputError(f"{rule}; example {s + r}, annotator {j} holds {shown!r}")
        for j in range(m):
            hit = np.flatnonzero(seen[:, j])
            rows[j].append(hit + s)
            labs[j].append(block[hit, j].astype(np.intp))
    rows_j = tuple(np.concatenate(r).astype(np.intp) for r in rows)
    labels_j = tuple(np.concatenate(v) for v in labs)
    counts = np.array([len(r) for r in rows_j])
    if (counts == 0).any():
        empty = np.flatnonzero(counts == 0)
        raise InputError(
            f"every annotator must label at least one example; annotator column(s) {empty[:20].tolist()} "
            f"are entirely empty ({len(empty)} such)"
        )
    num = np.zeros(nx, dtype=np.int64)
    votes = np.zeros((nx, k), dtype=np.int32)
    flat = votes.reshape(-1)
    for r, y in zip(rows_j, labels_j, strict=True):
        num[r] += 1
        flat[r * k + y] += 1
    if (num == 0).any():
        nobody = np.flatnonzero(num == 0)
        raise InputError(
            f"every example must have at least one label; example(s) {nobody[:20].tolist()} were labelled "
            f"by nobody ({len(nobody)} such)"
        )
    if not allow_single:
        _check_multi(m, num, votes)
    return Annotations(nx, k, rows_j, labels_j, num, votes)


def _check_multi(m: int, num: I64, votes: NDArray[np.int32]) -> None:
    if m < 2:
        raise InputError("multi-annotator data needs at least two annotator columns, got 1")
    if not (num >= 2).any():
        raise InputError(
            "every example has only one label: there is no agreement to learn from; "
            "score single labels with get_label_quality_scores instead"
        )
    if not (votes >= 2).any():
        warnings.warn(
            "annotators do not agree on any example (no class was given twice to one example)",
            LabelauditWarning,
            stacklevel=4,
        )


def _check_probs(pred_probs: object, name: str = "pred_probs") -> np.ndarray:
    try:
        p = check_shape(pred_probs)
    except InputError as exc:
        raise InputError(str(exc).replace("pred_probs", name, 1)) from None
    return check_pred_probs(p, source=name if name != "pred_probs" else None)


def _check_choice(value: str, choices: Sequence[str], what: str) -> None:
    if value not in choices:
        raise InputError(f"{what} must be one of {', '.join(choices)}; got {value!r}")


# ---------------------------------------------------------------------------------------- majority vote


def _first_true(mask: NDArray[np.bool_]) -> I64:
    return np.argmax(mask, axis=1).astype(np.int64)


def _majority_vote(ann: Annotations, p: np.ndarray | None) -> I64:
    votes = ann.votes
    vmax = votes.max(axis=1)
    top = votes == vmax[:, None]
    untied = top.sum(axis=1) == 1
    vote = np.argmax(votes, axis=1).astype(np.int64)
    tied = np.flatnonzero(~untied)
    if len(tied) == 0:
        return vote
    cand = top[tied]
    if p is not None:  # 1: the most probable candidate
        pc = np.where(cand, np.asarray(p[tied]), -np.inf)
        cand &= pc == pc.max(axis=1, keepdims=True)
    # 2: the rarer class over all votes of the data set
    totals = votes.sum(axis=0, dtype=np.int64).astype(np.float64)
    fc = np.where(cand, totals, np.inf)
    cand &= fc == fc.min(axis=1, keepdims=True)
    left = np.flatnonzero(cand.sum(axis=1) > 1)
    if len(left):  # 3: the candidate of the annotators who agree most with the untied votes
        q = np.full(ann.m, np.nan)
        for j, (r, y) in enumerate(zip(ann.rows, ann.labels, strict=True)):
            u = untied[r]
            if u.any():
                q[j] = np.mean(y[u] == vote[r[u]])
        defined = ~np.isnan(q)
        if defined.any():
            q[~defined] = np.mean(q[defined])
        sub = tied[left]
        pos = np.full(ann.n, -1, dtype=np.intp)
        pos[sub] = np.arange(len(sub))
        ssum = np.zeros((len(sub), ann.k))
        scnt = np.zeros((len(sub), ann.k))
        for j, (r, y) in enumerate(zip(ann.rows, ann.labels, strict=True)):
            t = pos[r]
            sel = t >= 0
            ssum[t[sel], y[sel]] += q[j]
            scnt[t[sel], y[sel]] += 1
        c = cand[left]
        with np.errstate(invalid="ignore", divide="ignore"):
            score = np.where(c & (scnt > 0), ssum / np.where(scnt > 0, scnt, 1), -np.inf)
        best = score.max(axis=1, keepdims=True)
        keep = c & (score == best)
        keep[~keep.any(axis=1)] = c[~keep.any(axis=1)]  # scores undefined: all candidates stay
        cand[left] = keep
        still = left[keep.sum(axis=1) > 1]
        if len(still):
            shown = tied[still][:20].tolist()
            warnings.warn(
                f"{len(still)} majority-vote tie(s) survive every tie-break and go to the smallest class "
                f"(examples {shown})",
                LabelauditWarning,
                stacklevel=3,
            )
    vote[tied] = _first_true(cand)
    return vote


def get_majority_vote_label(labels_multiannotator: object, pred_probs: object | None = None) -> I64:
    """(N,) int64 majority-vote labels of (N, M) labels (NaN = not labelled). Ties go to the class
    with the largest pred_probs, then the rarer class over all votes, then the class given by the
    annotators who agree most with the untied votes, then the smallest class. K is pred_probs.shape[1],
    else the largest label + 1."""
    p: np.ndarray | None = None
    if pred_probs is not None:
        p = _check_probs(pred_probs)
        k = p.shape[1]
    elif isinstance(labels_multiannotator, Annotations):
        k = labels_multiannotator.k
    else:
        x = _as_label_matrix(labels_multiannotator)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            top = np.nanmax(x) if x.dtype.kind == "f" else x.max()
        k = int(top) + 1 if np.isfinite(top) and top >= 0 else 1
    n = None if p is None else p.shape[0]
    ann = check_annotations(labels_multiannotator, max(k, 1), n=n)
    return _majority_vote(ann, p)


# ----------------------------------------------------------------------------------- CROWDLAB statistics


@dataclass(frozen=True, eq=False)
class _Pass:
    agreement: F64  # (N,) a_i
    quality: F64  # (N,) consensus quality score
    posterior: F64  # (N, K)
    model_weight: float | None
    annotator_weight: F64 | None


def _packed_fractions(ann: Annotations) -> F64:
    """The vote fractions of each example's distinct classes (increasing) in positions 0..r-1, the
    layout the reference uses for the agreement method and the temperature search."""
    votes = ann.votes
    given = votes > 0
    pos = np.cumsum(given, axis=1) - 1
    out = np.zeros(votes.shape)
    r, c = np.nonzero(given)
    out[r, pos[r, c]] = votes[r, c] / ann.num[r]
    return out


def _scores(q: np.ndarray, labels: np.ndarray, method: str) -> F64:
    return np.asarray(scores_of_block(q, labels, method), dtype=np.float64)


def _crowdlab_pass(ann: Annotations, p: np.ndarray, c: I64, method: str) -> _Pass:
    n, k = ann.n, ann.k
    idx = np.arange(n)
    num = ann.num
    agreement = ann.votes[idx, c] / num
    multi = ann.multi
    likelihood = float(np.mean(agreement[multi]))
    wrong = (1 - likelihood) / (k - 1)
    cs = c[multi]
    most = int(np.argmax(np.bincount(cs, minlength=k)))
    e_mlc = max(float(np.mean(cs != most)), LOW)
    agree_others = np.full(ann.m, np.nan)
    for j, (r, y) in enumerate(zip(ann.rows, ann.labels, strict=True)):
        others = num[r] - 1
        sel = others > 0
        if sel.any():
            w = others[sel].astype(np.float64)
            frac = (ann.votes[r[sel], y[sel]] - 1) / w
            agree_others[j] = np.multiply(frac, w).sum() / w.sum()
    undefined = np.isnan(agree_others)
    if undefined.any():
        agree_others[undefined] = np.mean(agree_others[~undefined])
    weights = np.maximum(1 - (1 - agree_others) / e_mlc, LOW)
    predicted = np.argmax(p, axis=1)
    e_model = float(np.mean(predicted[multi] != cs))
    model_weight = max(1 - e_model / e_mlc, LOW) * float(np.sqrt(np.mean(num)))
    numer = np.multiply(p, model_weight, dtype=np.float64)  # one (N, K) float64 array, divided in place
    denom = np.zeros(n)
    for j, (r, y) in enumerate(zip(ann.rows, ann.labels, strict=True)):
        term = np.full((len(r), k), weights[j] * wrong)
        term[np.arange(len(r)), y] = weights[j] * likelihood
        numer[r] += term
        denom[r] += weights[j]
    denom += model_weight
    posterior = np.divide(numer, denom[:, None], out=numer)
    return _Pass(agreement, _scores(posterior, c, method), posterior, model_weight, weights)


def _agreement_pass(ann: Annotations, c: I64) -> _Pass:
    agreement = ann.votes[np.arange(ann.n), c] / ann.num
    return _Pass(agreement, agreement, _packed_fractions(ann), None, None)


def _worst_class(y: np.ndarray, c: np.ndarray, cq: np.ndarray, k: int) -> int:
    count = np.bincount(y, minlength=k)
    used = np.flatnonzero(count)
    right = np.bincount(y, weights=(y == c).astype(np.float64), minlength=k)
    acc = right[used] / count[used]
    # smallest accuracy, then largest count, then largest mean consensus quality, then smallest class
    left = used[acc == acc.min()]
    left = left[count[left] == count[left].max()]
    if len(left) == 1:
        return int(left[0])
    # Means of exact sums (math.fsum): a class whose examples hold the same qualities as another's in
    # another order ties with it, as with the reference's compensated (pandas) means.
    means = np.array([math.fsum(cq[y == cls].tolist()) / count[cls] for cls in left.tolist()])
    return int(left[np.argmax(means)])


def _temperature(ann: Annotations, p: np.ndarray) -> float:
    """The temperature that minimises the cross-entropy of scaled pred_probs against the packed vote
    fractions: a coarse grid, then 4 + 5 points around its best."""
    target = _packed_fractions(ann)
    with np.errstate(divide="ignore"):
        logp = np.log(np.asarray(p, dtype=np.float64))
    logk = np.log(ann.k)

    def loss(t: float) -> float:
        z = np.exp(logp / max(t, T_EPS))
        z = z / z.sum(axis=1, keepdims=True)
        return float(np.mean(-np.sum(target * np.log(np.maximum(z, SMALL)), axis=1) / logk))

    grid = COARSE_TEMPERATURES
    b = int(np.argmin([loss(t) for t in grid]))
    fine: list[float] = []
    if b > 0:
        fine += np.linspace(grid[b - 1], grid[b], 5)[:-1].tolist()
    if b < len(grid) - 1:
        fine += np.linspace(grid[b], grid[b + 1], 5).tolist()
    return float(fine[int(np.argmin([loss(t) for t in fine]))])


def temp_scale(pred_probs: np.ndarray, temperature: float) -> F64:
    """(N, K) float64 pred_probs rescaled by a temperature (clipped at 1e-30, rows renormalised)."""
    p = np.maximum(np.asarray(pred_probs, dtype=np.float64), SMALL)
    p = p / p.sum(axis=1, keepdims=True)
    z = np.exp(np.log(p) / max(temperature, T_EPS))
    z = z / z.sum(axis=1, keepdims=True)
    return z / z.sum(axis=1, keepdims=True)


def _stats(
    ann: Annotations, p: np.ndarray, consensus_method: str, quality_method: str, method: str
) -> tuple[I64, _Pass]:
    mv = _majority_vote(ann, p)

    def run(c: I64) -> _Pass:
        return _crowdlab_pass(ann, p, c, method) if quality_method == "crowdlab" else _agreement_pass(ann, c)

    first = run(mv)
    if consensus_method == "majority_vote":
        return mv, first
    q = first.posterior
    unique = (q == q.max(axis=1, keepdims=True)).sum(axis=1) == 1
    c = np.where(unique, np.argmax(q, axis=1), mv).astype(np.int64)
    del first, q  # the first posterior is not needed past here: one (N, K) array less at the peak
    return c, run(c)


def get_label_quality_multiannotator(
    labels_multiannotator: object,
    pred_probs: object,
    *,
    consensus_method: str = "best_quality",
    quality_method: str = "crowdlab",
    calibrate_probs: bool = False,
    return_detailed_quality: bool = False,
    score_method: str = "self_confidence",
) -> MultiannotatorResult:
    """Consensus labels and their quality, and each annotator's quality, from (N, M) labels (NaN where
    an annotator did not label an example) and out-of-sample pred_probs (N, K).

    consensus_method: "best_quality" (the posterior's unique argmax, else the majority vote) or
    "majority_vote". quality_method: "crowdlab" (model and annotators weighted by their estimated
    accuracy) or "agreement" (vote fractions only). calibrate_probs: rescale pred_probs by the
    temperature that best fits the votes first. score_method: how a label's quality is scored under
    the posterior (get_label_quality_scores' methods). return_detailed_quality: also the (N, M) quality
    of every given label.
    """
    _check_choice(consensus_method, CONSENSUS_METHODS, "consensus_method")
    _check_choice(quality_method, QUALITY_METHODS, "quality_method")
    _check_choice(score_method, SCORE_METHODS, "score_method")
    p = _check_probs(pred_probs)
    ann = check_annotations(labels_multiannotator, p.shape[1], n=p.shape[0])
    if calibrate_probs:
        p = temp_scale(p, _temperature(ann, p))
    c, st = _stats(ann, p, consensus_method, quality_method, score_method)
    m = ann.m
    lqs = np.empty(m)
    agr_all = np.empty(m)
    agr_multi = np.full(m, np.nan)
    worst = np.empty(m, dtype=np.int64)
    counts = np.empty(m, dtype=np.int64)
    detailed = np.full((ann.n, m), np.nan) if return_detailed_quality else None
    multi = ann.multi
    for j, (r, y) in enumerate(zip(ann.rows, ann.labels, strict=True)):
        if quality_method == "crowdlab":
            s = _scores(st.posterior[r], y, score_method)
        else:
            s = st.posterior[r, y]
        if detailed is not None:
            detailed[r, j] = s
        lqs[j] = np.mean(s)
        hit = y == c[r]
        agr_all[j] = np.mean(hit)
        sm = multi[r]
        if sm.any():
            agr_multi[j] = np.mean(hit[sm])
        worst[j] = _worst_class(y, c[r], st.quality[r], ann.k)
        counts[j] = len(r)
    if quality_method == "crowdlab":
        assert st.model_weight is not None and st.annotator_weight is not None
        wm = st.model_weight
        share = wm / (wm + np.sum(st.annotator_weight) * np.mean(ann.num) / m)
        quality = share * lqs + (1 - share) * agr_multi
    else:
        quality = agr_multi
    return MultiannotatorResult(
        consensus_label=c,
        consensus_quality_score=st.quality,
        annotator_agreement=st.agreement,
        num_annotations=ann.num,
        annotator_quality=quality,
        agreement_with_consensus=agr_all,
        worst_class=worst,
        num_examples_labeled=counts,
        model_weight=st.model_weight,
        annotator_weight=st.annotator_weight,
        consensus_method=consensus_method,
        quality_method=quality_method,
        detailed_label_quality=detailed,
    )


# --------------------------------------------------------------------------------------- active learning


def get_active_learning_scores(
    labels_multiannotator: object | None = None,
    pred_probs: object | None = None,
    pred_probs_unlabeled: object | None = None,
) -> tuple[F64, F64]:
    """ActiveLab scores (lower = more useful to label next): (scores of the N labelled examples, scores
    of the unlabelled ones), an empty array for a part not given. Labels may be single (M = 1 or one
    label per example); then pred_probs are used as they are, otherwise rescaled by the temperature
    that best fits the votes and combined with the annotators as in CROWDLAB."""
    if pred_probs is None and pred_probs_unlabeled is None:
        raise InputError("get_active_learning_scores needs pred_probs, pred_probs_unlabeled or both")
    p = None if pred_probs is None else _check_probs(pred_probs)
    u = None if pred_probs_unlabeled is None else _check_probs(pred_probs_unlabeled, "pred_probs_unlabeled")
    if p is not None and u is not None and p.shape[1] != u.shape[1]:
        raise InputError(
            f"pred_probs and pred_probs_unlabeled must have the same K, got {p.shape[1]} and {u.shape[1]}"
        )
    temperature, model_weight, mean_weight = 1.0, 1.0, 1.0
    labelled = np.empty(0)
    k = p.shape[1] if p is not None else u.shape[1] if u is not None else 0
    if p is not None:
        if labels_multiannotator is None:
            raise InputError("pred_probs of labelled examples need labels_multiannotator")
        ann = check_annotations(labels_multiannotator, k, n=p.shape[0], allow_single=True)
        if not ann.multi.any():
            c = _majority_vote(ann, p)
            quality = np.asarray(p[np.arange(ann.n), c], dtype=np.float64)
            weights = np.ones(ann.m)
        else:
            temperature = _temperature(ann, p)
            scaled = temp_scale(p, temperature)
            c, st = _stats(ann, scaled, "best_quality", "crowdlab", "self_confidence")
            assert st.model_weight is not None and st.annotator_weight is not None
            quality, model_weight, weights = st.quality, st.model_weight, st.annotator_weight
        mean_weight = float(np.mean(weights))
        total = np.zeros(ann.n)
        for j, r in enumerate(ann.rows):
            total[r] += weights[j]
        total = total + model_weight
        labelled = (quality * total + (1 / k) * mean_weight) / (total + mean_weight)
    unlabelled = np.empty(0)
    if u is not None:
        top = temp_scale(u, temperature).max(axis=1)
        unlabelled = (top * model_weight + (1 / k) * mean_weight) / (model_weight + mean_weight)
    return labelled, unlabelled


# ------------------------------------------------------------------------------------------------ report


def annotators_report(
    result: MultiannotatorResult,
    *,
    min_annotator_quality: float | None = None,
    top: int | None = None,
    class_names: Sequence[str] | None = None,
    annotator_ids: Sequence[Any] | None = None,
    ids: np.ndarray | None = None,
    active_learning_scores: np.ndarray | None = None,
    k: int | None = None,
    label_issues: NDArray[np.bool_] | None = None,
) -> Report:
    """The annotators Report: table `examples` (lowest consensus quality first; the file table holds
    every example in input order), table `annotators` (worst first), weights in the results, and the
    gate min_annotator_quality, which fails naming every annotator whose quality is below the limit
    (an annotator with undefined quality, who shares no example with another, is not judged).
    label_issues: the (N,) bool is_label_issue column (consensus_label_issues), when given."""
    r = result
    n, m = len(r.consensus_label), len(r.annotator_quality)
    aids = list(annotator_ids) if annotator_ids is not None else list(range(m))
    if len(aids) != m:
        raise InputError(f"{len(aids)} annotator ids for {m} annotators")
    names = np.asarray(class_names, dtype=object) if class_names is not None else None
    every: Columns = {"index": np.arange(n, dtype=np.int64)}
    if ids is not None:
        every["id"] = np.asarray(ids)
    every["consensus_label"] = r.consensus_label
    if names is not None:
        every["consensus_name"] = names[r.consensus_label]
    every["consensus_quality_score"] = r.consensus_quality_score
    every["annotator_agreement"] = r.annotator_agreement
    every["num_annotations"] = r.num_annotations
    if label_issues is not None:
        every["is_label_issue"] = np.asarray(label_issues, dtype=bool)
    if active_learning_scores is not None:
        every["active_learning_score"] = np.asarray(active_learning_scores, dtype=np.float64)
    order = np.argsort(r.consensus_quality_score, kind="stable")
    examples = head({key: np.asarray(v)[order] for key, v in every.items()}, top)
    ao = r.annotator_order
    annotators: Columns = {
        "annotator": [aids[j] for j in ao.tolist()],
        # None (JSON null) for an annotator who shares no example with another, in every output
        "annotator_quality": [None if q != q else q for q in r.annotator_quality[ao].tolist()],
        "agreement_with_consensus": r.agreement_with_consensus[ao],
        "worst_class": r.worst_class[ao],
    }
    if names is not None:
        annotators["worst_class_name"] = names[r.worst_class[ao]]
    annotators["num_examples_labeled"] = r.num_examples_labeled[ao]
    gates: tuple[Gate, ...] = ()
    if min_annotator_quality is not None:
        gates = (_quality_gate(r.annotator_quality, aids, float(min_annotator_quality)),)
    defined = ~np.isnan(r.annotator_quality)
    worst = int(ao[0])
    headline = f"consensus labels of {n} examples from {m} annotators"
    if label_issues is not None:
        headline += f"; {int(np.count_nonzero(label_issues))} consensus label issues"
    if defined.any():
        headline += f"; worst annotator {aids[worst]} (quality {r.annotator_quality[worst]:.4f})"
    results: dict[str, Any] = {
        "n_annotators": m,
        "n_label_issues": None if label_issues is None else int(np.count_nonzero(label_issues)),
        "mean_consensus_quality": float(np.mean(r.consensus_quality_score)),
        "model_weight": r.model_weight,
        "annotator_weights": None if r.annotator_weight is None else r.annotator_weight.tolist(),
    }
    return Report(
        command="annotators",
        params={
            "consensus_method": r.consensus_method,
            "quality_method": r.quality_method,
            "min_annotator_quality": min_annotator_quality,
            "active_learning": active_learning_scores is not None,
            "top": top,
        },
        n=n,
        k=int(k) if k is not None else int(max(r.consensus_label.max(), r.worst_class.max())) + 1,
        class_names=list(class_names) if class_names is not None else None,
        headline=headline,
        tables={"examples": examples, "annotators": annotators},
        results=results,
        gates=gates,
        npy=r.consensus_label,
        file_table=every,
        views=(
            "worst_annotators:Annotators, worst first",
            "consensus:Consensus labels, lowest quality first",
        ),
        total=n,
    )


def consensus_label_issues(consensus_label: ArrayLike, pred_probs: np.ndarray) -> NDArray[np.bool_]:
    """(N,) bool: the consensus labels that confident learning flags as label issues against pred_probs
    (find_label_issues with its defaults, filter_by="prune_by_noise_rate"): the consensus labels are
    treated as the given labels of a single-label data set, the way a data set whose labels came from
    several annotators is checked once its consensus is settled."""
    from labelaudit.core.filter import find_label_issues

    return find_label_issues(np.asarray(consensus_label, dtype=np.int64), pred_probs)


def audit_annotators(
    labels_multiannotator: object,
    pred_probs: object,
    *,
    consensus_method: str = "best_quality",
    quality_method: str = "crowdlab",
    active_learning: bool = False,
    min_annotator_quality: float | None = None,
    top: int | None = None,
    class_names: Sequence[str] | None = None,
    annotator_ids: Sequence[Any] | None = None,
    ids: np.ndarray | None = None,
) -> Report:
    """What `labelaudit annotators` reports, as a library call: CROWDLAB consensus and annotator
    quality (get_label_quality_multiannotator), the consensus labels' confident-learning issues
    (consensus_label_issues), ActiveLab scores when `active_learning`, and the min_annotator_quality
    gate (annotators_report)."""
    p = _check_probs(pred_probs)
    result = get_label_quality_multiannotator(
        labels_multiannotator, p, consensus_method=consensus_method, quality_method=quality_method
    )
    issues = consensus_label_issues(result.consensus_label, p)
    scores = None
    if active_learning:
        with warnings.catch_warnings():  # what the labels allow was said once, by the consensus
            warnings.simplefilter("ignore", LabelauditWarning)
            scores = get_active_learning_scores(labels_multiannotator, p)[0]
    return annotators_report(
        result,
        min_annotator_quality=min_annotator_quality,
        top=top,
        class_names=class_names,
        annotator_ids=annotator_ids,
        ids=ids,
        active_learning_scores=scores,
        k=p.shape[1],
        label_issues=issues,
    )


def _quality_gate(quality: F64, aids: list[Any], limit: float) -> Gate:
    what = "lowest annotator quality {}"
    defined = ~np.isnan(quality)
    if not defined.any():
        return Gate(
            "min_annotator_quality", what, limit, limit, below=True, text="no annotator quality is defined"
        )
    value = float(np.min(quality[defined]))
    below = np.flatnonzero(defined & (quality < limit))
    if not len(below):
        return Gate("min_annotator_quality", what, limit, value, below=True)
    below = below[np.argsort(quality[below], kind="stable")]
    shown = ", ".join(f"{aids[j]} ({quality[j]:.4g})" for j in below[:20].tolist())
    more = f" and {len(below) - 20} more" if len(below) > 20 else ""
    return Gate(
        "min_annotator_quality",
        what,
        limit,
        value,
        below=True,
        text=f"{len(below)} annotator(s) below the limit {limit:g}: {shown}{more}",
    )
