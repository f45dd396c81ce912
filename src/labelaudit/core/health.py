"""Dataset-level summaries: per-class label quality, overlapping class pairs, the overall health score.

Tables are returned as dicts of equal-length numpy columns (no pandas in core), already sorted.
"""

from __future__ import annotations

from collections.abc import Sized
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from labelaudit.core import confident as kn
from labelaudit.core.context import BaseContext, Context
from labelaudit.core.count import calibrate_cells, estimate_joint, estimate_latent_cells, sparse_sums
from labelaudit.core.report import Report, head, named_classes, score_gate

EPS_DS = 1e-6  # lower clip of denominators in the dataset tables

CLASS_COLUMNS = (
    "class_index",
    "label_issues",
    "inverse_label_issues",
    "label_noise",
    "inverse_label_noise",
    "label_quality_score",
)
PAIR_COLUMNS = ("class_a", "class_b", "n_overlapping", "joint_probability")


def _joint_and_count(
    labels: ArrayLike | None,
    pred_probs: NDArray[np.floating[Any]] | None,
    joint: ArrayLike | None,
    num_examples: int | None,
    confident_joint: ArrayLike | None,
    batch_size: int | None,
) -> tuple[NDArray[np.float64], int]:
    if joint is None:
        if confident_joint is not None and labels is None:
            joint = estimate_joint(None, None, confident_joint=confident_joint)
        else:
            joint = estimate_joint(labels, pred_probs, confident_joint=confident_joint, batch_size=batch_size)
    j = np.asarray(joint, dtype=np.float64)
    if num_examples is None:
        if labels is not None:
            num_examples = len(labels) if isinstance(labels, Sized) else len(np.asarray(labels))
        elif confident_joint is not None:
            num_examples = int(np.asarray(confident_joint).sum())
        else:
            raise ValueError("num_examples is needed when only a joint is given")
    return j, int(num_examples)


def class_table(joint: NDArray[np.float64], num_examples: int) -> dict[str, np.ndarray]:
    """Per-class label issues and noise from a (K, K) joint (rows = given label), sorted by label quality
    score ascending, ties by class index."""
    return _class_table(np.diagonal(joint), joint.sum(axis=1), joint.sum(axis=0), num_examples)


def _class_table(
    diag: np.ndarray, given: np.ndarray, true: np.ndarray, num_examples: int
) -> dict[str, np.ndarray]:
    """class_table from the joint's diagonal, row totals and column totals (K,)."""
    noise = (given - diag) / np.maximum(given, EPS_DS)
    table = {
        "class_index": np.arange(len(diag)),
        "label_issues": np.rint((given - diag) * num_examples).astype(np.int64),
        "inverse_label_issues": np.rint((true - diag) * num_examples).astype(np.int64),
        "label_noise": noise,
        "inverse_label_noise": (true - diag) / np.maximum(true, EPS_DS),
        "label_quality_score": 1 - noise,
    }
    order = np.argsort(table["label_quality_score"], kind="stable")
    return {k: v[order] for k, v in table.items()}


def pair_table(
    joint: NDArray[np.float64], num_examples: int, *, asymmetric: bool = False
) -> dict[str, np.ndarray]:
    """Class pairs by joint probability of confusion, largest first, ties in row-major pair order.

    Symmetric: pairs a < b with J[a, b] + J[b, a]. Asymmetric: every a != b with J[a, b]."""
    k = len(joint)
    a, b = np.nonzero(~np.eye(k, dtype=bool)) if asymmetric else np.triu_indices(k, 1)
    value = joint[a, b] if asymmetric else joint[a, b] + joint[b, a]
    # Descending with ties in enumeration order: a stable sort of the negated values.
    order = np.argsort(-value, kind="stable")
    return {
        "class_a": a[order].astype(np.int64),
        "class_b": b[order].astype(np.int64),
        "n_overlapping": np.rint(value[order] * num_examples).astype(np.int64),
        "joint_probability": value[order],
    }


def rank_classes_by_label_quality(
    labels: ArrayLike | None = None,
    pred_probs: NDArray[np.floating[Any]] | None = None,
    *,
    num_examples: int | None = None,
    joint: ArrayLike | None = None,
    confident_joint: ArrayLike | None = None,
    batch_size: int | None = None,
) -> dict[str, np.ndarray]:
    """Per-class table (columns CLASS_COLUMNS), most problematic class first."""
    j, nx = _joint_and_count(labels, pred_probs, joint, num_examples, confident_joint, batch_size)
    return class_table(j, nx)


def find_overlapping_classes(
    labels: ArrayLike | None = None,
    pred_probs: NDArray[np.floating[Any]] | None = None,
    *,
    asymmetric: bool = False,
    num_examples: int | None = None,
    joint: ArrayLike | None = None,
    confident_joint: ArrayLike | None = None,
    batch_size: int | None = None,
) -> dict[str, np.ndarray]:
    """Class pairs the labels confuse most (columns PAIR_COLUMNS), largest joint probability first."""
    j, nx = _joint_and_count(labels, pred_probs, joint, num_examples, confident_joint, batch_size)
    return pair_table(j, nx, asymmetric=asymmetric)


def overall_label_health_score(
    labels: ArrayLike | None = None,
    pred_probs: NDArray[np.floating[Any]] | None = None,
    *,
    num_examples: int | None = None,
    joint: ArrayLike | None = None,
    confident_joint: ArrayLike | None = None,
    batch_size: int | None = None,
) -> float:
    """1 - (off_diagonal number of label issues) / N with labels and pred_probs; trace of the joint
    otherwise."""
    if labels is not None and pred_probs is not None:
        ctx = Context.validated(labels, pred_probs, batch_size)
        nx = ctx.n if num_examples is None else int(num_examples)
        return 1.0 - ctx.num_issues("off_diagonal") / nx
    j, _ = _joint_and_count(labels, pred_probs, joint, num_examples, confident_joint, batch_size)
    return float(np.trace(j))


class HealthReport:
    """Everything `labelaudit health` reports, from one confident joint (thresholds and one row pass).

    Attributes: health_score (float), classes (dict of columns, CLASS_COLUMNS plus n_examples),
    confident_joint (K, K) int64 calibrated, joint (K, K), noise_matrix P(given | true) (K, K),
    inverse_noise_matrix P(true | given) (K, K), prior P(true) (K,), num_issues (off_diagonal count).

    For a sparse context (K >= confident.SPARSE_MIN_K) the four matrices are their non-zero Cells,
    with the dense values bit for bit, and no (K, K) array is formed.
    """

    confident_joint: np.ndarray | kn.Cells
    joint: np.ndarray | kn.Cells
    noise_matrix: np.ndarray | kn.Cells
    inverse_noise_matrix: np.ndarray | kn.Cells

    def __init__(self, ctx: BaseContext, num_examples: int | None = None) -> None:
        from labelaudit.core.count import estimate_latent

        nx = ctx.n if num_examples is None else int(num_examples)
        self.num_examples = nx
        self.num_issues = ctx.num_issues("off_diagonal")
        self.health_score = 1.0 - self.num_issues / nx
        if ctx.sparse:
            self._from_cells(ctx, nx)
            return
        self.confident_joint = ctx.confident_joint
        self.joint = estimate_joint(ctx.labels, None, confident_joint=self.confident_joint)
        self.prior, self.noise_matrix, self.inverse_noise_matrix = estimate_latent(
            self.confident_joint, ctx.labels, converge_latent_estimates=True
        )
        table = class_table(self.joint, nx)
        self.classes = {"class_index": table.pop("class_index")}
        self.classes["n_examples"] = ctx.counts[self.classes["class_index"]]
        self.classes.update(table)

    def _from_cells(self, ctx: BaseContext, nx: int) -> None:
        """The same report from the calibrated joint's cells: the joint re-calibrated as estimate_joint
        does, its totals summed in the dense arrays' order (rows pairwise, columns down the rows)."""
        k = ctx.k
        cj = ctx.confident_cells
        again = calibrate_cells(cj, ctx.counts, column_major=False)
        joint = kn.Cells(k, again.codes, again.values / max(float(again.values.sum()), 1e-100))
        self.confident_joint, self.joint = cj, joint
        self.prior, self.noise_matrix, self.inverse_noise_matrix = estimate_latent_cells(
            cj, ctx.counts, converge_latent_estimates=True
        )
        rows, cols = joint.rows, joint.cols
        given, true = np.zeros(k), np.zeros(k)
        if len(rows):
            given[np.unique(rows)] = sparse_sums(rows, cols, joint.values, k)
        np.add.at(true, cols, joint.values)
        table = _class_table(joint.diagonal(), given, true, nx)
        self.classes = {"class_index": table.pop("class_index")}
        self.classes["n_examples"] = ctx.counts[self.classes["class_index"]]
        self.classes.update(table)

    def matrices(self) -> dict[str, Any]:
        """The four matrices for a JSON report: nested lists, or for Cells (many classes) their non-zero
        cells as {"shape", "given", "true", "value"} lists (rows = given label for the joints and
        P(true | given) columns for the inverse noise matrix, each as the matrix is indexed)."""
        out: dict[str, Any] = {}
        for name in ("confident_joint", "joint", "noise_matrix", "inverse_noise_matrix"):
            m = getattr(self, name)
            if isinstance(m, kn.Cells):
                out[name] = {
                    "shape": [m.k, m.k],
                    "row": m.rows.tolist(),
                    "col": m.cols.tolist(),
                    "value": m.values.tolist(),
                }
            else:
                out[name] = m.tolist()
        return out

    def pairs(self, asymmetric: bool = False) -> dict[str, np.ndarray]:
        if isinstance(self.joint, kn.Cells):
            return pair_cells(self.joint, self.num_examples, asymmetric=asymmetric)
        return pair_table(self.joint, self.num_examples, asymmetric=asymmetric)


def pair_cells(joint: kn.Cells, num_examples: int, *, asymmetric: bool = False) -> dict[str, np.ndarray]:
    """pair_table of a joint held as Cells, listing only the pairs with a non-zero value (the others,
    all 0, would follow in row-major pair order); the same values and order as the dense table's head."""
    k = joint.k
    rows, cols, v = joint.rows, joint.cols, joint.values
    off = rows != cols
    rows, cols, v = rows[off], cols[off], v[off]
    if asymmetric:
        a, b, value = rows, cols, v
    else:  # J[a, b] + J[b, a] for a < b, summed in that order as the dense table does
        lo, hi = np.minimum(rows, cols), np.maximum(rows, cols)
        up, inv = np.unique(lo * k + hi, return_inverse=True)
        upper, lower = np.zeros(len(up)), np.zeros(len(up))
        is_upper = rows < cols
        upper[inv[is_upper]] = v[is_upper]
        lower[inv[~is_upper]] = v[~is_upper]
        a, b, value = up // k, up % k, upper + lower
    order = np.argsort(-value, kind="stable")
    return {
        "class_a": a[order].astype(np.int64),
        "class_b": b[order].astype(np.int64),
        "n_overlapping": np.rint(value[order] * num_examples).astype(np.int64),
        "joint_probability": value[order],
    }


def health(
    ctx: BaseContext,
    *,
    num_examples: int | None = None,
    fail_under: float | None = None,
    class_names: list[str] | None = None,
) -> Report:
    """health: the overall score, the per-class table (most problematic first) and the matrices, with
    the --fail-under gate. The class table is the listing (csv and table outputs)."""
    rep = HealthReport(ctx, num_examples)
    # Two counts, both named: the score counts the off-diagonal of the confident joint (examples whose
    # label loses to a confident class); the class table splits the calibrated joint, whose off-diagonal
    # sum is the estimate find-issues' default filter prunes to. (What find-issues finally flags needs the
    # margins of its candidates, one more pass over pred_probs: health leaves that to find-issues.)
    classes = named_classes(rep.classes, class_names)
    tables = {"classes": classes}
    total = int(rep.classes["label_issues"].sum())
    title = f"classes:Classes, most problematic first (label issues: {total} in all, the calibrated estimate)"
    views: tuple[str, ...] = ("score", title, "noise_matrix")
    if ctx.k > HEATMAP_MAX_K:  # too many classes for a heatmap: its largest off-diagonal cells
        tables["noise_cells"] = largest_off_diagonal(rep.noise_matrix, class_names)
        views = (
            "score",
            title,
            f"plain:noise_cells:Noise matrix P(given | true): largest off-diagonal cells (K={ctx.k})",
        )
    return Report(
        command="health",
        params={"num_examples": num_examples, "fail_under": fail_under},
        n=ctx.n,
        k=ctx.k,
        class_names=class_names,
        headline=(
            f"label health score {rep.health_score:.4f} ({rep.num_issues} estimated issues in "
            f"{ctx.n} examples, K={ctx.k}; calibrated estimate {total})"
        ),
        tables=tables,
        results={
            "n_issues": rep.num_issues,
            "issue_rate": rep.num_issues / ctx.n,
            "n_issues_calibrated": total,
            "health_score": rep.health_score,
            **rep.matrices(),
            "prior": rep.prior.tolist(),
        },
        gates=score_gate("fail_under", "health score {}", rep.health_score, fail_under, below=True),
        views=views,
    )


HEATMAP_MAX_K = 20  # a terminal heatmap up to this K; beyond, the largest off-diagonal cells
TOP_CELLS = 15


def largest_off_diagonal(
    matrix: np.ndarray | kn.Cells, class_names: list[str] | None, top: int = TOP_CELLS
) -> dict:
    """The `top` largest off-diagonal cells of a (K, K) matrix (or of its Cells), largest first (ties by
    row-major index)."""
    if isinstance(matrix, kn.Cells):
        given, true, value = _largest_cells(matrix, top)
        out_cells: dict = {"given": given, "true": true}
        if class_names is not None:
            names = np.asarray(class_names, dtype=object)
            out_cells = {"given": names[given], "true": names[true]}
        out_cells["probability"] = value
        return out_cells
    off = np.array(matrix, dtype=np.float64)
    np.fill_diagonal(off, -np.inf)
    given, true = np.divmod(np.argsort(-off, axis=None, kind="stable")[:top], len(off))
    out: dict = {"given": given, "true": true}
    if class_names is not None:
        names = np.asarray(class_names, dtype=object)
        out = {"given": names[given], "true": names[true]}
    out["probability"] = np.asarray(matrix, dtype=np.float64)[given, true]
    return out


def _largest_cells(cells: kn.Cells, top: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(given, true, value) of the `top` largest off-diagonal cells, as largest_off_diagonal orders the
    dense matrix: stored cells by value, then the zero cells in row-major order."""
    k = cells.k
    off = cells.rows != cells.cols
    codes, v = cells.codes[off], cells.values[off].astype(np.float64)
    order = np.argsort(-v, kind="stable")
    positive = order[v[order] > 0]
    chosen, values = codes[positive][:top], v[positive][:top]
    if len(chosen) < top:  # then the zero cells (stored or not), in row-major order
        positive_codes = set(codes[v > 0].tolist())
        fill: list[int] = []
        c = 0
        while len(fill) < top - len(chosen) and c < k * k:
            if c % (k + 1) and c not in positive_codes:
                fill.append(c)
            c += 1
        short = max(top - len(chosen) - len(fill), 0)  # then the diagonal (-inf in the dense sort)
        on = np.arange(min(short, k), dtype=np.int64)
        chosen = np.concatenate([chosen, np.asarray(fill, dtype=np.int64), on * (k + 1)])
        values = np.concatenate([values, np.zeros(len(fill)), cells.diagonal()[on].astype(np.float64)])
    given, true = np.divmod(chosen, k)
    return given, true, values


def overlap(
    ctx: BaseContext,
    *,
    asymmetric: bool = False,
    num_examples: int | None = None,
    top: int | None = None,
    fail_over: float | None = None,
    class_names: list[str] | None = None,
) -> Report:
    """overlap: class pairs the labels confuse most, largest joint probability first, with --fail-over."""
    pairs = HealthReport(ctx, num_examples).pairs(asymmetric)
    largest = float(pairs["joint_probability"][0]) if len(pairs["joint_probability"]) else 0.0
    total = len(pairs["class_a"])
    pairs = head(pairs, top)
    named_pairs = {"class_a": pairs["class_a"], "class_b": pairs["class_b"]}
    if class_names is not None:
        names = np.asarray(class_names, dtype=object)
        named_pairs["name_a"], named_pairs["name_b"] = names[pairs["class_a"]], names[pairs["class_b"]]
    named_pairs["n_overlapping"] = pairs["n_overlapping"]
    named_pairs["joint_probability"] = pairs["joint_probability"]
    kind = "ordered" if asymmetric else "unordered"
    return Report(
        command="overlap",
        params={"asymmetric": asymmetric, "num_examples": num_examples, "top": top, "fail_over": fail_over},
        n=ctx.n,
        k=ctx.k,
        class_names=class_names,
        headline=f"largest joint probability {largest:.6f}",
        tables={"pairs": named_pairs},
        results={"largest_joint_probability": largest},
        gates=score_gate("fail_over", "largest joint probability {}", largest, fail_over, below=False),
        views=(f"pairs:Most confused {kind} class pairs",),
        total=total,
    )
