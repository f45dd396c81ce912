"""The steps every command shares: load models, parse list options, and finish a Report (save it, show
it, raise its failed gate). No result is computed here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labelaudit.cli import render
from labelaudit.cli.app import err

if TYPE_CHECKING:
    from labelaudit.core.baseline import Baseline
    from labelaudit.core.context import BaseContext
    from labelaudit.core.ensemble import EnsembleModel
    from labelaudit.core.report import Report
    from labelaudit.io import Dataset, ReadOptions
    from labelaudit.io.topk import TopKData
from labelaudit.errors import GateFailed, InputError

LISTING_OUTPUTS = (".npy", ".csv", ".tsv", ".parquet", ".json", ".jsonl")
DOCUMENT_OUTPUTS = (".json", ".csv", ".tsv", ".parquet", ".jsonl")


def audit_features(ds: Any, pred_probs: str, features: str | None, command: str) -> Any:
    """The audit's inputs beside a read Dataset: its features (read, listed among the inputs), refusing
    top-k pred_probs (the audit's types need whole rows)."""
    from labelaudit.io import Dataset
    from labelaudit.io.features import read_features
    from labelaudit.io.readers import InputFile

    if not isinstance(ds, Dataset):
        raise InputError(
            f"{pred_probs}: top-k probabilities are not read by {command}"
            + (" --features" if command == "report" else "")
            + ": its issue types need whole (N, K) rows; give the full pred_probs"
        )
    if features is None:
        return None
    x = read_features(features)
    ds.files.append(InputFile("features", features))
    return x


def number_list(text: str | None, option: str, kind: type = int) -> list | None:
    """A comma list option ("1,2,3") as numbers; None when not given."""
    if text is None:
        return None
    try:
        return [kind(v) for v in text.replace(" ", "").split(",") if v != ""]
    except ValueError:
        name = "integers" if kind is int else "numbers"
        raise InputError(f"{option} must be a comma list of {name}, got {text!r}") from None


def per_class_counts(text: str | None, k: int, option: str = "--num-to-remove-per-class") -> list[int] | None:
    values = number_list(text, option)
    if values is None:
        return None
    if len(values) != k:
        raise InputError(f"{option} needs one integer per class (K={k}), got {len(values)}: {text!r}")
    if min(values) < 0:
        raise InputError(f"{option} values must be >= 0, got {text!r}")
    return values


def load_models(
    labels: str, pred_probs: list[str], read: ReadOptions, *, weight_by: str, weights: str | None, **perf: Any
) -> tuple[Dataset | TopKData, BaseContext, EnsembleModel | None]:
    """One model: (dataset, Context, None). Several: the dataset of the first (with every model's file
    listed), the context of their weighted average and the EnsembleModel (weights computed once)."""
    from labelaudit.core.context import Context
    from labelaudit.core.ensemble import build_ensemble
    from labelaudit.io import load_models as read_models

    topk = load_topk_model(labels, pred_probs, read, weights, **perf)
    if topk is not None:
        return topk
    dsets, paths = read_models(labels, pred_probs, read)
    custom = number_list(weights, "--weights", float)
    if custom is not None and not (all(0 <= w < float("inf") for w in custom) and any(custom)):
        raise InputError(f"--weights must be finite numbers >= 0, not all 0; got {weights!r}")
    if custom is not None and len(custom) != len(dsets):
        raise InputError(f"--weights needs one weight per model ({len(dsets)}), got {weights!r}")
    n_jobs, batch_size = perf["n_jobs"], perf["batch_size"]
    members = [Context(d.labels, d.pred_probs, batch_size, n_jobs, d.self_conf) for d in dsets]
    if len(dsets) == 1:
        if weights is not None:
            raise InputError("--weights needs several --pred-probs models")
        return dsets[0], members[0], None
    by = "custom" if custom is not None else weight_by
    model = build_ensemble(dsets[0].labels, members, weight_by=by, custom_weights=custom, paths=paths, **perf)
    return dsets[0], model.context, model


def load_topk_model(
    labels: str, pred_probs: list[str], read: ReadOptions, weights: str | None, **perf: Any
) -> tuple[TopKData, BaseContext, None] | None:
    """(dataset, TopKContext, None) when the one --pred-probs holds top-k probabilities (io.topk)."""
    from labelaudit.io.topk import is_topk, load_topk

    if not any(is_topk(p) for p in pred_probs):
        return None
    if len(pred_probs) > 1 or weights is not None:
        raise InputError(
            "top-k probabilities (io.topk) are one model: they cannot be averaged (--pred-probs, --weights)"
        )
    from labelaudit.core.topk import TopKContext

    ds = load_topk(labels, pred_probs[0], read)
    return ds, TopKContext(ds.labels, ds.topk, perf["batch_size"], perf["n_jobs"]), None


def load_baseline(
    path: str | None, ds: Dataset | TopKData, id_column: str | None, any_data: bool
) -> Baseline | None:
    """The --baseline report, refused (exit 2) when this run cannot be compared with it."""
    if path is None:
        if any_data:
            raise InputError("--baseline-any-data needs --baseline REPORT.json")
        return None
    from labelaudit.core.baseline import Baseline
    from labelaudit.io import read_report

    baseline = Baseline(path, read_report(path, "find-issues"), id_column, any_data)
    baseline.check("find-issues", ds.k, ds.class_names, n=ds.n, ids=ds.ids, labels=ds.labels)
    return baseline


def check_outputs(output: str | None, allowed: tuple[str, ...] = LISTING_OUTPUTS, fmt: Any = None) -> None:
    from labelaudit.io import check_output_path

    if output == "-" and fmt is not None and fmt.value not in ("csv", "json"):
        raise InputError(
            f"-o - writes rows to stdout (csv, or JSON lines with --format json), not --format {fmt.value}"
        )
    if output:
        check_output_path(output, allowed)


def wants_stdout(output: str | None, fmt: Any) -> bool:
    """The report goes to stdout unless it went there already (-o -) or to a file with no explicit
    --format (then a one-line summary goes to stderr instead)."""
    return output != "-" and (output is None or fmt is not None)


def save(report: Report, output: str, fmt: str, files: list, json_document: bool) -> None:
    from labelaudit.io import write_json, write_npy, write_rows

    if output.endswith("/"):  # batched's -o DIR/: written by its engine's workers (io.shards.write_out_dir)
        return
    if output.lower().endswith(".npy"):
        if report.npy is None:
            raise InputError(f"{output}: {report.command} writes no .npy output; use .json, .csv or .parquet")
        write_npy(output, report.npy)
    elif json_document and output.lower().endswith(".json"):
        from labelaudit.core.formats import document

        write_json(output, document(report, [f.describe() for f in files]))
    else:
        write_rows(output, report.file_table if report.file_table is not None else report.listing, fmt)


def finish(
    report: Report,
    files: list,
    *,
    output: str | None,
    fmt: Any,
    quiet: bool,
    labels_path: str,
    json_document: bool = False,
) -> None:
    """Save the report (-o), show it on stdout, and raise its first failed gate (exit 1)."""
    fmt_name = render.resolve_format(fmt)
    if output:
        save(report, output, fmt_name, files, json_document)
    if wants_stdout(output, fmt):
        render.show(report, fmt_name, files, labels_path)
        if "baseline" in report.results and not quiet and fmt_name == "csv":
            err(report.headline)
    elif output != "-" and not quiet:
        err(f"{report.headline}; wrote {output}")
    if report.failed:
        raise GateFailed("\n".join(g.message() for g in report.failed))
