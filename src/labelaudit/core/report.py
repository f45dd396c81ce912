"""Typed results: every command's work ends in one frozen Report that the command line only renders.

A Report holds what was found (named tables of columns, most severe first), the scalar and array results
of the JSON document, the CI gates as data, and what a `.npy` output holds. `to_dict()` is the JSON
document's body, so `--format json` equals the library call by construction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Columns = dict[str, Any]  # name -> (M,) numpy column or list; equal lengths


@dataclass(frozen=True)
class Gate:
    """One CI gate: fails when `value` exceeds `limit` (or, with `below`, falls below it)."""

    name: str
    what: str
    limit: float
    value: float
    below: bool = False
    text: str = ""  # a message of its own instead of the value-versus-limit sentence

    @property
    def passed(self) -> bool:
        return self.value >= self.limit if self.below else self.value <= self.limit

    def numbers(self) -> tuple[str, str]:
        """Value and limit as text: integers as integers, floats with 6 significant digits, or more when 6
        would print two different numbers alike (a score just below the limit)."""
        value, limit = self.value, self.limit
        if _is_int(value) and _is_int(limit):
            return str(int(value)), str(int(limit))
        for digits in range(6, 18):
            a, b = f"{float(value):.{digits}g}", f"{float(limit):.{digits}g}"
            if a != b or float(value) == float(limit):
                return a, b
        return repr(float(value)), repr(float(limit))

    def message(self) -> str:
        """The one line that every output (stderr, JUnit, GitHub annotations) uses for a gate: `what` is a
        phrase with {} where the value goes ("{} new issues", "health score {}")."""
        if self.text:
            return f"{self.name}: {self.text}"
        value, limit = self.numbers()
        if self.passed:
            verb = "is at or above" if self.below else "is within"
        else:
            verb = "is below" if self.below else "exceeds"
        return f"{self.name}: {self.what.format(value)} {verb} the limit {limit}"

    def to_dict(self) -> dict:
        what = self.what.replace("{} ", "").replace(" {}", "")
        return {
            "gate": self.name,
            "what": what,
            "limit": self.limit,
            "value": self.value,
            "passed": self.passed,
        }


def _is_int(x: object) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def issue_gates(
    counted: int, n: int, max_issues: int | None, max_issue_rate: float | None, what: str = "issues"
) -> tuple[Gate, ...]:
    """The --max-issues / --max-issue-rate gates on `counted` issues out of n units."""
    gates = []
    if max_issues is not None:
        gates.append(Gate("max_issues", "{} " + what, max_issues, int(counted)))
    if max_issue_rate is not None:
        gates.append(Gate("max_issue_rate", "{} rate of " + what, max_issue_rate, counted / n))
    return tuple(gates)


def score_gate(name: str, what: str, value: float, limit: float | None, *, below: bool) -> tuple[Gate, ...]:
    """A gate on a score (`what` as in Gate.message), or none when no limit is set."""
    return () if limit is None else (Gate(name, what, limit, float(value), below=below),)


@dataclass(frozen=True)
class Detection:
    """The options that decide which examples are flagged and how they are ordered."""

    filter_by: str = "prune_by_noise_rate"
    rank_by: str = "self_confidence"
    adjust_pred_probs: bool = False
    frac_noise: float = 1.0
    num_to_remove_per_class: list[int] | None = None
    min_examples_per_class: int = 1

    def params(self) -> dict[str, Any]:
        return {
            "filter_by": self.filter_by,
            "rank_by": self.rank_by,
            "adjust_pred_probs": self.adjust_pred_probs,
            "frac_noise": self.frac_noise,
            "num_to_remove_per_class": self.num_to_remove_per_class,
            "min_examples_per_class": self.min_examples_per_class,
        }


@dataclass(frozen=True)
class Listing:
    """How the flagged examples are listed and gated."""

    top: int | None = None
    mask: bool = False  # a .npy output holds a bool mask of length N instead of ranked indices
    max_issues: int | None = None
    max_issue_rate: float | None = None
    rows: bool = True  # per-example rows are needed (False: only a .npy is written)


@dataclass(frozen=True)
class Report:
    """What one command found.

    tables: named tables, the first being the listing (what `--format csv` prints and a table output file
    holds unless `file_table` says otherwise). results: the JSON document's results, in order.
    views: the terminal views to show, in order (names the renderer knows). npy: a `.npy` output.
    """

    command: str
    params: Mapping[str, Any]
    n: int
    k: int
    class_names: list[str] | None
    headline: str
    tables: Mapping[str, Columns]
    results: Mapping[str, Any] = field(default_factory=dict)
    gates: tuple[Gate, ...] = ()
    npy: np.ndarray | None = None
    file_table: Columns | None = None
    views: tuple[str, ...] = ()
    total: int | None = None  # rows of the listing before --top (the terminal says how many are hidden)
    view_data: Mapping[str, Any] = field(default_factory=dict)  # what a terminal view needs beyond the tables

    @property
    def listing(self) -> Columns:
        return next(iter(self.tables.values())) if self.tables else {}

    @property
    def failed(self) -> tuple[Gate, ...]:
        return tuple(g for g in self.gates if not g.passed)

    def to_dict(self) -> dict:
        doc: dict = dict(self.results)
        doc["gates"] = [g.to_dict() for g in self.gates]  # every document lists its gates, [] when none
        for name, table in self.tables.items():
            doc[name] = records(table)
        return doc


def records(cols: Columns) -> list[dict]:
    """A table of columns as a list of row dicts of plain Python values."""
    keys = list(cols)
    lists = [cols[k] if isinstance(cols[k], list) else np.asarray(cols[k]).tolist() for k in keys]
    return [dict(zip(keys, vals, strict=True)) for vals in zip(*lists, strict=True)]


def named(cols: Columns, class_names: Sequence[str] | None, ids: np.ndarray | None = None) -> Columns:
    """Add id, given_name and predicted_name columns when ids / class names are known."""
    out: Columns = {}
    if ids is not None:
        out["id"] = np.asarray(ids)[cols["index"]]
    out.update(cols)
    if class_names is not None:
        names = np.asarray(class_names, dtype=object)
        out["given_name"] = names[np.asarray(cols["given_label"], dtype=np.int64)]
        out["predicted_name"] = names[np.asarray(cols["predicted_label"], dtype=np.int64)]
    return out


def named_classes(
    table: Columns, class_names: Sequence[str] | None, index_keys: tuple[str, ...] = ("class_index",)
) -> Columns:
    """Add a name column beside each class-index column when class names are known (class_index ->
    class_name, class_a -> name_a)."""
    if class_names is None:
        return dict(table)
    names = np.asarray(class_names, dtype=object)
    out: Columns = {}
    for key, col in table.items():
        out[key] = col
        if key in index_keys:
            out["class_name" if key == "class_index" else key.replace("class_", "name_")] = names[col]
    return out


def head(cols: Columns, top: int | None) -> Columns:
    return cols if top is None else {k: v[:top] for k, v in cols.items()}


def rate_line(count: int, n: int, what: str, unit: str) -> str:
    return f"{count} {what} in {n} {unit} ({count / n:.2%})"
