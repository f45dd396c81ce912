"""Comparison of a flagged set with the flagged set of an earlier report (a baseline)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class BaselineDiff:
    is_new: np.ndarray  # (M,) bool, aligned with the current flagged keys
    fixed: np.ndarray  # keys flagged in the baseline and not now, in baseline order
    matched_by: str = "index"  # "id" or "index"

    @property
    def n_new(self) -> int:
        return int(np.count_nonzero(self.is_new))

    @property
    def n_persisting(self) -> int:
        return int(len(self.is_new) - self.n_new)


def compare_with_baseline(current_keys: ArrayLike, baseline_keys: ArrayLike) -> BaselineDiff:
    """Which current issues are new (key absent from the baseline) and which baseline issues are fixed.

    Keys are example indices or ids (any type numpy can compare); order is preserved."""
    cur = np.asarray(current_keys)
    base = np.asarray(baseline_keys)
    if cur.dtype.kind != base.dtype.kind and not (cur.dtype.kind in "iu" and base.dtype.kind in "iu"):
        cur, base = cur.astype(str), base.astype(str)
    return BaselineDiff(is_new=~np.isin(cur, base), fixed=base[~np.isin(base, cur)])


REPORT_KEYS = ("command", "params", "n_classes", "issues", "n_issues")


def _kind(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "a number"
    )


def _shown(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def report_problem(doc: object, command: str | None = None) -> str | None:
    """What makes `doc` (a parsed JSON document) unusable as a `--format json` report of `command`: the
    rule and the value, or None when its structure is sound (values a comparison uses, typed)."""
    if not isinstance(doc, dict):
        return (
            f"baseline is not a labelaudit --format json report; it must be a JSON object, got {_kind(doc)}"
        )
    if command is not None and isinstance(doc.get("command"), str) and doc["command"] != command:
        return f"baseline comes from '{doc['command']}', not '{command}'"
    missing = [k for k in REPORT_KEYS if k not in doc]
    if missing:
        return f"baseline is not a labelaudit --format json report; it lacks {', '.join(missing)}"
    checks = (
        ("command", isinstance(doc["command"], str), "a string"),
        ("params", isinstance(doc["params"], dict), "an object"),
        ("n_classes", _is_int(doc["n_classes"]), "an integer"),
        ("n_issues", _is_int(doc["n_issues"]) and doc["n_issues"] >= 0, "an integer >= 0"),
        ("issues", isinstance(doc["issues"], list), "a list of issue objects"),
        ("n_examples", doc.get("n_examples") is None or _is_int(doc["n_examples"]), "an integer"),
        (
            "class_names",
            doc.get("class_names") is None
            or (isinstance(doc["class_names"], list) and all(isinstance(c, str) for c in doc["class_names"])),
            "a list of strings",
        ),
    )
    for key, ok, rule in checks:
        if not ok:
            return f"baseline {key!r} must be {rule}; got {_shown(doc[key])}"
    for i, issue in enumerate(doc["issues"]):
        if not isinstance(issue, dict) or not _is_int(issue.get("index")):
            return f"baseline issue {i} must be an object with an integer 'index'; got {_shown(issue)}"
        if "given_label" in issue and not _is_int(issue["given_label"]):
            return f"baseline issue {i}: 'given_label' must be an integer; got {_shown(issue['given_label'])}"
        if "id" in issue and isinstance(issue["id"], (list, dict)):
            return f"baseline issue {i}: 'id' must be a string or a number; got {_shown(issue['id'])}"
    return None


# Parameters that decide which examples are flagged: a baseline must agree on all of them.
SET_PARAMS = ("filter_by", "frac_noise", "num_to_remove_per_class", "min_examples_per_class")


@dataclass(frozen=True)
class Baseline:
    """The flagged set of an earlier `--format json` report (`doc`, read from `path`), checked against
    the current run: same command and classes, the same set-deciding parameters, every issue listed, and
    the same data (README, "Gates for CI"); `any_data` turns the data check into a warning."""

    path: str
    doc: dict
    id_column: str | None = None  # the run's --id-column: then matching must be by id
    any_data: bool = False  # --baseline-any-data

    def check(
        self,
        command: str,
        k: int,
        class_names: list[str] | None,
        *,
        n: int | None = None,
        ids: np.ndarray | None = None,
        labels: np.ndarray | None = None,
    ) -> None:
        """Refuse (InputError) a baseline this run cannot be compared with. This run's `n`, `ids` (N,) and
        `labels` (N,) ints decide whether it comes from the same data (unchecked when n is None)."""
        from labelaudit.errors import InputError

        doc = self.doc
        if doc.get("command") != command:
            raise InputError(f"{self.path}: baseline comes from '{doc.get('command')}', not '{command}'")
        names = doc.get("class_names")
        if doc.get("n_classes") != k or (names and class_names and names != class_names):
            raise InputError(
                f"{self.path}: baseline has different classes (K={doc.get('n_classes')}, names {names}) "
                f"than the input (K={k}, names {class_names})"
            )
        if len(doc["issues"]) != doc["n_issues"]:
            raise InputError(
                f"{self.path}: baseline lists {len(doc['issues'])} of its {doc['n_issues']} issues (made with "
                "--top?); make the baseline without --top"
            )
        if n is not None:
            self._check_same_data(n, ids, labels)

    def _key(self, ids: np.ndarray | None) -> str:
        """The matching key: "id" when both sides carry ids, else "index". Refused: --id-column without ids
        on both sides, and a baseline with ids against a run without (by row index its issues would pair
        with the wrong rows as soon as a row moved)."""
        from labelaudit.errors import InputError

        issues, id_column = self.doc["issues"], self.id_column
        carries_ids = all("id" in r for r in issues)
        if id_column and ids is None:
            raise InputError(
                f"{self.path}: --id-column {id_column!r} given but the input has no such id column to match by"
            )
        if id_column and not carries_ids:
            raise InputError(
                f"{self.path}: --id-column {id_column!r} given but the baseline's issues carry no 'id'"
            )
        if issues and carries_ids and ids is None:
            raise InputError(
                f"{self.path}: the baseline's issues carry ids but this run's input has none to match them "
                "by; give the input with its id column (--id-column NAME), or make a new baseline from this "
                "input"
            )
        return "id" if ids is not None and carries_ids else "index"

    def _check_same_data(self, n: int, ids: np.ndarray | None, labels: np.ndarray | None) -> None:
        """Refuse a baseline from other data (a warning with any_data). Matched by id, at least one of its
        issue ids must be an id of this run. Matched by row index, N must agree, and the given labels at its
        issue rows must mostly be the same: rows that stayed in place keep their label unless relabelled,
        rows that moved keep it only by chance (1 - sum(prior^2) of them change), so more than half that
        share changing means the rows moved or the data is another."""
        import warnings

        from labelaudit.errors import InputError

        doc, other = self.doc, []
        issues = doc["issues"]
        if self._key(ids) == "id":  # rows may move, come and go: the ids say which is which
            base_ids = [r["id"] for r in issues]
            if base_ids and compare_with_baseline(base_ids, np.asarray(ids)).is_new.all():
                other.append(f"none of its {len(base_ids)} issue ids is an id of this input")
            todo = "pass --baseline-any-data to compare anyway"
        else:
            if doc.get("n_examples") is not None and doc["n_examples"] != n:
                other.append(f"{doc['n_examples']} examples, this input has {n}")
            rows = [
                (r["index"], r["given_label"])
                for r in issues
                if 0 <= r.get("index", -1) < n and "given_label" in r
            ]
            if labels is not None and rows:
                index, given = np.array(rows, dtype=np.int64).T
                changed = int(np.count_nonzero(np.asarray(labels)[index] != given))
                prior = np.bincount(np.asarray(labels, dtype=np.int64), minlength=doc["n_classes"]) / n
                if changed > len(rows) * (1 - float(prior @ prior)) / 2:
                    other.append(f"{changed} of its {len(rows)} issue rows have another given label now")
            todo = (
                "issues are matched by row index, which pairs the right rows only if none moved: give both "
                "runs an id column to match by id, or pass --baseline-any-data to compare anyway"
            )
        if not other:
            return
        message = f"{self.path}: baseline comes from other data ({'; '.join(other)})"
        if not self.any_data:
            raise InputError(f"{message}; {todo}")
        warnings.warn(f"{message}; compared anyway (--baseline-any-data)", stacklevel=2)

    def compare(self, index: np.ndarray, ids: np.ndarray | None, params: dict) -> BaselineDiff:
        """The diff of the current flagged rows `index` (most severe first) with the baseline's, matched
        by id when both sides carry ids, else by row index."""
        from labelaudit.errors import InputError

        for key in SET_PARAMS:
            if key in params and self.doc["params"].get(key) != params[key]:
                raise InputError(
                    f"{self.path}: baseline was made with {key}={self.doc['params'].get(key)!r}, "
                    f"this run uses {params[key]!r}"
                )
        key = self._key(ids)
        current = np.asarray(ids)[index] if key == "id" else index
        diff = compare_with_baseline(current, [r[key] for r in self.doc["issues"]])
        return BaselineDiff(diff.is_new, diff.fixed, key)

    def summary(self, diff: BaselineDiff) -> dict:
        return {
            "path": self.path,
            "matched_by": diff.matched_by,
            "n_new": diff.n_new,
            "n_persisting": diff.n_persisting,
            "n_fixed": len(diff.fixed),
            "fixed": diff.fixed.tolist(),
        }
