"""Options shared by several commands, defined once (Annotated Typer options), and which options each
--task honours: any other one given with that task is refused (exit 2) instead of silently ignored."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from labelaudit.errors import InputError


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    junit = "junit"
    github = "github"


class FilterBy(str, Enum):
    prune_by_noise_rate = "prune_by_noise_rate"
    prune_by_class = "prune_by_class"
    both = "both"
    confident_learning = "confident_learning"
    predicted_neq_given = "predicted_neq_given"
    low_normalized_margin = "low_normalized_margin"
    low_self_confidence = "low_self_confidence"


class EstimationMethod(str, Enum):
    off_diagonal = "off_diagonal"
    off_diagonal_calibrated = "off_diagonal_calibrated"


class ScoreMethod(str, Enum):
    self_confidence = "self_confidence"
    normalized_margin = "normalized_margin"
    confidence_weighted_entropy = "confidence_weighted_entropy"


class WeightBy(str, Enum):
    accuracy = "accuracy"
    uniform = "uniform"
    log_loss_search = "log_loss_search"
    custom = "custom"


class Task(str, Enum):
    multiclass = "multiclass"
    multilabel = "multilabel"
    token = "token"


INPUTS, OUTPUT, DETECT, PERF = "Inputs", "Output", "Detection", "Performance"
GATES, TASKS, ENSEMBLES = "Gates (exit 1 when one fails)", "Multi-label and token tasks", "Ensembles"


def _opt(*names: str, panel: str = INPUTS, **kw) -> typer.models.OptionInfo:
    return typer.Option(*names, rich_help_panel=panel, **kw)


Labels = Annotated[str, _opt("--labels", "-l", help="Given labels: .npy of ints, or a .csv/.tsv/.parquet table.")]
PredProbs = Annotated[
    list[str],
    _opt("--pred-probs", "-p", help="Out-of-sample predicted probabilities (N, K): .npy or a table."),
]
PredProbsMany = Annotated[
    list[str],
    _opt(
        "--pred-probs",
        "-p",
        help="Out-of-sample predicted probabilities (N, K): .npy or a table. Repeat it (or give a glob) for an "
        "ensemble of models (multiclass).",
    ),
]
LabelColumn = Annotated[
    str | None, _opt(help="Table column holding the labels (default: 'label', else the only column).")
]
ProbColumns = Annotated[
    str | None,
    _opt(
        help="Probability columns: a comma list or a glob such as 'prob_*' (default: every numeric column "
        "except the label and id columns)."
    ),
]
ClassNames = Annotated[str | None, _opt(help="File with one class name per line, in column order.")]
IdColumn = Annotated[
    str | None, _opt(help="Table column with example ids, reported beside the row index (default: 'id' if present).")
]
FromLogits = Annotated[
    bool, _opt("--from-logits", help="pred_probs holds logits: apply a softmax to each row first.")
]
Output = Annotated[
    str | None,
    _opt("--output", "-o", panel=OUTPUT, help="Write results: .npy, .csv, .tsv, .parquet, .json, .jsonl, or '-' for stdout."),
]
Format = Annotated[
    OutputFormat | None,
    _opt(
        "--format",
        "-f",
        panel=OUTPUT,
        help="stdout format: table (default on a terminal), csv (default otherwise), json (one report document), "
        "junit (JUnit XML for CI) or github (workflow annotations).",
    ),
]
Top = Annotated[
    int | None, _opt(min=0, panel=OUTPUT, help="Keep only the N most severe examples in every listing (counts and gates use all).")
]
Mask = Annotated[bool, _opt("--mask", panel=OUTPUT, help="A .npy output holds a bool mask of length N instead of ranked indices.")]
Quiet = Annotated[bool, _opt("--quiet", "-q", panel=OUTPUT, help="No warnings or progress on stderr.")]
BatchSize = Annotated[int | None, _opt(min=1, panel=PERF, help="Rows per batch when reading pred_probs (never changes results).")]
NJobs = Annotated[
    int, _opt(min=-1, panel=PERF, help="Worker threads for the passes over pred_probs (-1: one per core). Never changes results.")
]
Baseline = Annotated[
    str | None,
    _opt(panel=GATES, help="An earlier --format json report: show new, fixed and persisting issues; gates count only new ones."),
]
MaxIssues = Annotated[int | None, _opt(min=0, panel=GATES, help="Fail when more than N issues are found.")]
MaxIssueRate = Annotated[float | None, _opt(min=0.0, max=1.0, panel=GATES, help="Fail when the issue rate exceeds FRACTION.")]
FailUnder = Annotated[
    float | None, _opt(min=0.0, max=1.0, panel=GATES, help="Fail (exit 1) when the health score is below SCORE.")
]
FilterByOpt = Annotated[FilterBy, _opt(panel=DETECT, help="How to flag issues.")]
RankBy = Annotated[ScoreMethod, _opt(panel=DETECT, help="Score that orders issues (lowest = most severe).")]
Adjust = Annotated[bool, _opt(panel=DETECT, help="Subtract class thresholds before scoring.")]
FracNoise = Annotated[
    float, _opt(min=0.0, max=1.0, panel=DETECT, help="Flag only this fraction of the estimated issues (prune filters).")
]
PerClassCounts = Annotated[str | None, _opt(panel=DETECT, help="Comma list of K counts to flag per class (prune filters).")]
MinPerClass = Annotated[int, _opt(min=0, panel=DETECT, help="Leave at least this many examples in each class.")]
NumExamples = Annotated[int | None, _opt(min=1, help="Scale issue counts to this many examples (default: N).", panel=DETECT)]
WeightByOpt = Annotated[WeightBy, _opt(panel=ENSEMBLES, help="Ensembles: how member scores are weighted.")]
Weights = Annotated[
    str | None, _opt(panel=ENSEMBLES, help="Ensembles: a comma list of one weight per model (custom weighting, not normalised).")
]
TaskOpt = Annotated[Task, _opt(panel=TASKS, help="Kind of data: one label per row, several per row, or one per token.")]
PerClass = Annotated[bool, _opt("--per-class", panel=TASKS, help="multilabel: per (example, class) results.")]
SentenceLengths = Annotated[str | None, _opt(panel=TASKS, help="token: .npy of tokens per sentence (flat inputs).")]
TokensColumn = Annotated[str | None, _opt("--tokens", panel=TASKS, help="token: the table column of token strings.")]

# For each command and --task, the options that task does not honour: giving one is refused with exit 2
# naming the option and the task (tests/cli/test_task_options.py walks
# every option x task).
MULTICLASS_ONLY = {"baseline", "id_column", "weight_by", "weights", "low_memory", "order_issues"}
NOT_FOR_TASK = {
    ("find-issues", "multiclass"): {"per_class", "sentence_lengths", "tokens", "by"},
    ("find-issues", "multilabel"): MULTICLASS_ONLY
    | {"from_logits", "batch_size", "n_jobs", "sentence_lengths", "tokens", "by"},
    ("find-issues", "token"): MULTICLASS_ONLY | {"per_class", "prob_columns"},
    ("rank", "multiclass"): {"per_class", "aggregator", "alpha", "temperature", "sentence_method", "sentence_lengths", "tokens"},
    ("rank", "multilabel"): MULTICLASS_ONLY
    | {"from_logits", "batch_size", "n_jobs", "sentence_method", "sentence_lengths", "tokens"},
    ("rank", "token"): MULTICLASS_ONLY | {"per_class", "aggregator", "alpha", "prob_columns", "tokens"},
    ("health", "multiclass"): {"sentence_lengths", "tokens"},
    ("health", "multilabel"): {"num_examples", "plot", "from_logits", "batch_size", "n_jobs", "sentence_lengths", "tokens"},
    ("health", "token"): {"plot", "prob_columns"},
}


def given(name: str) -> bool:
    """Was option `name` set to something other than its default?"""
    from labelaudit.cli.app import STATE

    return name in STATE["given"]


def refuse_unsupported(command: str, task: Task) -> None:
    """Exit 2 for an option given with a --task that does not honour it ."""
    for name in sorted(NOT_FOR_TASK.get((command, task.value), ())):
        if given(name):
            flag = "--" + name.replace("_", "-")
            raise InputError(f"{flag} is not available with --task {task.value} ({command})")


def one_model(paths: list[str], command: str) -> str:
    """The single --pred-probs of a command (or task) that takes one model."""
    if len(paths) != 1:
        raise InputError(f"{command} takes one --pred-probs model, got {len(paths)}: {', '.join(paths)}")
    return paths[0]
