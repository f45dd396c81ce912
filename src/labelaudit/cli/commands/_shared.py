"""Plumbing shared by commands: loading inputs, parsing list options, writing the issue listing."""

from __future__ import annotations

from labelaudit.cli import render
from labelaudit.errors import InputError

FIND_OUTPUTS = (".npy", ".csv", ".tsv", ".parquet", ".json", ".jsonl")


def load(labels, pred_probs, label_column, prob_columns, class_names, id_column, from_logits):
    from labelaudit.io import load_dataset

    return load_dataset(
        labels,
        pred_probs,
        label_column=label_column,
        prob_columns=prob_columns,
        class_names_path=class_names,
        id_column=id_column,
        from_logits=from_logits,
    )


def int_list(text: str | None, k: int, option: str) -> list[int] | None:
    if text is None:
        return None
    try:
        values = [int(v) for v in text.replace(" ", "").split(",") if v != ""]
    except ValueError:
        raise InputError(f"{option} must be a comma list of integers, got {text!r}") from None
    if len(values) != k:
        raise InputError(f"{option} needs one integer per class (K={k}), got {len(values)}: {text!r}")
    if min(values) < 0:
        raise InputError(f"{option} values must be >= 0, got {text!r}")
    return values


def stdout_listing(output: str | None, fmt) -> bool:
    """Print the listing on stdout unless it went to stdout already (-o -) or to a file with no
    explicit --format (then a one-line summary goes to stderr instead)."""
    if output == "-":
        return False
    return output is None or fmt is not None


def emit(ds, cols: dict, fmt: str, total: int, doc: dict | None, title: str, top: int | None) -> None:
    """Print the listing (table / csv / json) on stdout."""
    named = render.named_columns(cols, ds.class_names, ds.ids)
    if fmt == "json":
        render.print_json(doc)
    elif fmt == "csv":
        render.print_csv(named)
    else:
        render.print_table(title, named, total, limit=None if top is not None else render.TERMINAL_ROWS)


def write_listing(output: str, ds, cols: dict, npy, fmt: str) -> None:
    from labelaudit.io import write_npy, write_rows

    if output.lower().endswith(".npy"):
        write_npy(output, npy)
    else:
        write_rows(output, render.named_columns(cols, ds.class_names, ds.ids), fmt)


# Parameters that decide which examples are flagged: a baseline must agree on all of them.
SET_PARAMS = ("filter_by", "frac_noise", "num_to_remove_per_class", "min_examples_per_class")


def apply_baseline(path: str, command: str, ds, params: dict, cols: dict, id_column: str | None):
    """Compare the current issue rows with a baseline report; adds a `status` column (new/persisting)
    to `cols` and returns (diff, summary dict). Bad or incompatible baselines are InputErrors."""
    import numpy as np

    from labelaudit.core.baseline import compare_with_baseline
    from labelaudit.io import read_report

    doc = read_report(path, command)
    if doc["command"] != command:
        raise InputError(f"{path}: baseline comes from '{doc['command']}', not '{command}'")
    if doc["n_classes"] != ds.k or (
        doc.get("class_names") and ds.class_names and doc["class_names"] != ds.class_names
    ):
        raise InputError(
            f"{path}: baseline has different classes (K={doc['n_classes']}, names {doc.get('class_names')}) "
            f"than the input (K={ds.k}, names {ds.class_names})"
        )
    for key in SET_PARAMS:
        if key in params and doc["params"].get(key) != params[key]:
            raise InputError(
                f"{path}: baseline was made with {key}={doc['params'].get(key)!r}, this run uses {params[key]!r}"
            )
    if len(doc["issues"]) != doc["n_issues"]:
        raise InputError(
            f"{path}: baseline lists {len(doc['issues'])} of its {doc['n_issues']} issues (made with --top?); "
            "make the baseline without --top"
        )
    use_ids = ds.ids is not None and all("id" in r for r in doc["issues"])
    if id_column and not use_ids:
        if ds.ids is None:
            raise InputError(
                f"{path}: --id-column {id_column!r} given but the input has no such id column to match by"
            )
        raise InputError(f"{path}: --id-column {id_column!r} given but the baseline's issues carry no 'id'")
    key_name = "id" if use_ids else "index"
    current = ds.ids[cols["index"]] if use_ids else cols["index"]
    diff = compare_with_baseline(current, [r[key_name] for r in doc["issues"]])
    cols["status"] = np.where(diff.is_new, "new", "persisting")
    summary = {
        "path": path,
        "matched_by": key_name,
        "n_new": diff.n_new,
        "n_persisting": diff.n_persisting,
        "n_fixed": len(diff.fixed),
        "fixed": diff.fixed.tolist(),
    }
    return diff, summary


def emit_ci(fmt: str, command: str, gates: list, rows: list, labels_path: str, summary: str) -> bool:
    """junit / github formats; returns False when fmt is not one of them."""
    if fmt == "junit":
        render.print_junit(command, gates, rows, summary)
    elif fmt == "github":
        render.print_github(gates, rows, labels_path, summary)
    else:
        return False
    return True


def expand_models(paths: list[str]) -> list[str]:
    """--pred-probs values, with globs expanded (sorted); a glob that matches nothing is an error."""
    import glob

    out: list[str] = []
    for p in paths:
        if any(ch in p for ch in "*?["):
            hits = sorted(glob.glob(p))
            if not hits:
                raise InputError(f"{p}: --pred-probs glob matches no file")
            out.extend(hits)
        else:
            out.append(p)
    return out


def load_models(
    labels,
    pred_probs: list[str],
    label_column,
    prob_columns,
    class_names,
    id_column,
    from_logits,
    batch_size,
    n_jobs,
    weight_by: str,
    weights: str | None,
):
    """One model: (dataset, Context, None). Several: the dataset of the first (with every model's file
    listed), a Context over the weighted average of the models, and the ensemble's member weights."""
    from labelaudit.core import Context, average_pred_probs
    from labelaudit.core.ensemble import log_loss_weights

    paths = expand_models(pred_probs)
    dsets = []
    for i, path in enumerate(paths):
        try:
            dsets.append(load(labels, path, label_column, prob_columns, class_names, id_column, from_logits))
        except InputError as exc:
            if i == 0:
                raise
            raise InputError(f"{path} (model {i + 1} of {len(paths)}): {exc}") from None
    ds = dsets[0]
    if len(dsets) == 1:
        if weights is not None:
            raise InputError("--weights needs several --pred-probs models")
        return ds, Context(ds.labels, ds.pred_probs, batch_size, n_jobs, ds.self_conf), None
    for path, other in zip(paths[1:], dsets[1:], strict=True):
        if (other.n, other.k) != (ds.n, ds.k):
            raise InputError(
                f"{path}: model has N={other.n}, K={other.k} but {paths[0]} has N={ds.n}, K={ds.k}"
            )
    ds.files = ds.files + [f for other in dsets[1:] for f in other.files if f.role == "pred_probs"]
    members = [d.pred_probs for d in dsets]
    if weights is not None:
        w = [float(v) for v in weights.split(",")] if weights else []
        if len(w) != len(members):
            raise InputError(f"--weights needs one weight per model ({len(members)}), got {weights!r}")
        weight_by, member_w = "custom", w
    elif weight_by == "uniform":
        member_w = [1.0] * len(members)
    elif weight_by == "accuracy":
        member_w = [float((Context(ds.labels, m).predicted() == ds.labels).mean()) for m in members]
    elif weight_by == "log_loss_search":
        member_w = log_loss_weights(ds.labels, members).tolist()
    else:
        raise InputError("--weight-by custom needs --weights")
    ctx = Context(ds.labels, average_pred_probs(members, member_w), batch_size, n_jobs)
    return ds, ctx, {"paths": paths, "members": members, "weight_by": weight_by, "weights": member_w}


def ensemble_scores(ds, ens: dict, method: str, adjust: bool):
    """EnsembleScores of the models in `ens` for a score method."""
    from labelaudit.core import get_label_quality_ensemble_scores

    return get_label_quality_ensemble_scores(
        ds.labels,
        ens["members"],
        method=method,
        adjust_pred_probs=adjust,
        weight_ensemble_members_by=ens["weight_by"],
        custom_weights=ens["weights"] if ens["weight_by"] == "custom" else None,
        return_details=True,
    )


def add_member_columns(cols: dict, details, rows) -> None:
    for i, s in enumerate(details.member_scores):
        cols[f"score_model_{i}"] = s[rows].astype("float64")


def issue_gates(counted: int, n: int, max_issues, max_issue_rate, what: str = "issues") -> list[dict]:
    """The --max-issues / --max-issue-rate gates on `counted` issues out of n examples."""
    gates = []
    if max_issues is not None:
        gates.append(
            {
                "gate": "max_issues",
                "what": what,
                "limit": max_issues,
                "value": counted,
                "passed": counted <= max_issues,
            }
        )
    if max_issue_rate is not None:
        rate = counted / n
        gates.append(
            {
                "gate": "max_issue_rate",
                "what": f"rate of {what}",
                "limit": max_issue_rate,
                "value": rate,
                "passed": rate <= max_issue_rate,
            }
        )
    return gates


def raise_failed_gate(gates: list[dict]) -> None:
    from labelaudit.cli.app import GateFailed

    failed = [g for g in gates if not g["passed"]]
    if failed:
        g = failed[0]
        value, limit = render.gate_numbers(g["value"], g["limit"])
        raise GateFailed(f"{g['gate']}: {value} {g['what']} exceeds the limit {limit}")
