"""Options shared by several commands, defined once (Annotated Typer options), and which options each
--task honours: any other one given with that task is refused (exit 2) instead of silently ignored."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import typer

from labelaudit.errors import InputError


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    junit = "junit"
    github = "github"
    markdown = "markdown"


class SimFormat(str, Enum):
    table = "table"
    json = "json"


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
GATES, TASKS = "Gates (exit 1 when one fails)", "Multi-label and token tasks"
ENSEMBLES, SIM = "Ensembles", "Simulation"

HELP = {
    "labels": "Given labels: .npy/.npz of ints, or a .csv/.tsv (also .gz), .parquet or .jsonl table; - for stdin.",
    "pred_probs": "Out-of-sample predicted probabilities (N, K): .npy/.npz or a table; - for stdin.",
    "models": "Out-of-sample predicted probabilities (N, K): .npy/.npz or a table; - for stdin. Repeat it (or give a glob) for an ensemble of models (multiclass).",
    "label_column": "Table column holding the labels (default: 'label', else the only column).",
    "prob_columns": "Probability columns: a comma list or a glob such as 'prob_*' (default: every numeric column except the label and id columns).",
    "class_names": "File with one class name per line, in column order.",
    "id_column": "Table column with example ids, reported beside the row index (default: 'id' if present).",
    "from_logits": "pred_probs holds logits: apply a softmax to each row first.",
    "output": "Write results: .npy, .csv, .tsv, .parquet, .json, .jsonl, or '-' for stdout.",
    "format": "stdout format: table (Rich tables), csv, json (one report document), junit (JUnit XML for CI), github (workflow annotations) or markdown (a summary for $GITHUB_STEP_SUMMARY or a PR comment).",
    "sim_format": "table: a one-line summary on stderr; json: the report document on stdout.",
    "top": "Keep only the N most severe examples in every listing (counts and gates use all).",
    "mask": "A .npy output holds a bool mask of length N instead of ranked indices.",
    "quiet": "No warnings or progress on stderr.",
    "batch_size": "Rows per batch when reading pred_probs (never changes results).",
    "n_jobs": "Worker threads for the passes over pred_probs (-1: one per core). Never changes results.",
    "baseline": "An earlier --format json report: show new, fixed and persisting issues; gates count only new ones.",
    "baseline_any_data": "Compare with a --baseline from other data (another N, rows moved, no shared id) with a warning instead of refusing it.",
    "max_issues": "Fail when more than N issues are found.",
    "max_issue_rate": "Fail when the issue rate exceeds FRACTION.",
    "fail_under": "Fail (exit 1) when the health score is below SCORE.",
    "fail_over": "Fail (exit 1) when the largest joint probability exceeds FRACTION.",
    "filter_by": "How to flag issues: prune_by_noise_rate, prune_by_class, both, confident_learning, predicted_neq_given, low_normalized_margin or low_self_confidence (batched: with --exact).",
    "rank_by": "Score that orders issues (lowest = most severe): self_confidence, normalized_margin or confidence_weighted_entropy.",
    "method": "Label quality score (lower = more likely mislabelled): self_confidence, normalized_margin or confidence_weighted_entropy.",
    "adjust": "Subtract class thresholds before scoring.",
    "frac_noise": "Flag only this fraction of the estimated issues (prune filters).",
    "per_class_counts": "Comma list of K counts to flag per class (prune filters).",
    "min_per_class": "Leave at least this many examples in each class.",
    "num_examples": "Scale issue counts to this many examples (default: N).",
    "weight_by": "Ensembles: how member scores are weighted.",
    "weights": "Ensembles: a comma list of one weight per model (custom weighting, not normalised).",
    "task": "Kind of data: one label per row, several per row, or one per token.",
    "per_class": "multilabel: per (example, class) results.",
    "sentence_lengths": "token: .npy of tokens per sentence (flat inputs).",
    "tokens": "token: the table column of token strings.",
    "by": "token: list issues per 'token' or per 'sentence'.",
    "low_memory": "Stream pred_probs in bounded memory (same result; see `batched --exact`).",
    "exact": "The identical result as find-issues with the same options (any --filter-by), streamed.",
    "estimation_method": "Default mode: how the number of issues is estimated, off_diagonal or off_diagonal_calibrated.",
    "chunk_size": "Default mode: rows per step of the running threshold mean (the reference's batch_size); independent of --batch-size.",
    "memory_limit": "Memory for each block of rows (e.g. 512MB, 2GB; at least 1MB); sets the block size unless --batch-size is given.",
    "scores_out": "Also write the float64 score of every example (input order) to this .npy.",
    "order_issues": "Order this flagged set instead (.npy bool mask or int indices, or a table with an 'index' column).",
    "aggregator": "multilabel: exponential_moving_average, softmin, mean or min.",
    "alpha": "multilabel: weight of the worst class in the moving average.",
    "temperature": "softmin temperature (multilabel default 0.1, token 0.05).",
    "sentence_method": "token: sentence score 'min' or 'softmin'.",
    "plot": "Write a noise-matrix heatmap and a histogram of label quality scores: .svg (the report's charts; above 60 classes, and for .png, needs pip install 'labelaudit[plot]').",
    "asymmetric": "Report (given a, true b) and (given b, true a) separately.",
    "out_dir": "Folder for labels.npy, true_labels.npy, pred_probs.npy, noise_matrix.npy, prior.npy.",
    "n": "Number of examples.",
    "k": "Number of classes.",
    "noise_rate": "Average share of wrong labels (sets the trace to K x (1 - rate)).",
    "trace": "Trace of the noise matrix (overrides --noise-rate).",
    "frac_zero_noise_rates": "Share of off-diagonal noise rates that are exactly zero.",
    "prior": "Class prior P(true): 'uniform', 'random' (Dirichlet), or a comma list of K values.",
    "sharpness": "pred_probs model: Dirichlet concentration on the true class (mean true-class probability s/(s+1)).",
    "dtype": "pred_probs dtype: float32 or float64.",
    "seed": "Seed: the same seed gives byte-identical files.",
    "true_labels": "The correct labels (.npy), e.g. from simulate.",
    "issues": "A find-issues output: .npy indices or mask, or a table with an 'index' column.",
    "scores": "A rank output: .npy float scores of all N examples (lower = more suspicious).",
    # labelaudit report
    "html_output": "The HTML report to write (.html): one self-contained page, no network resources.",
    "report_rows": "Ranked issues the page holds (the first N, most severe first; the page says how many there are).",
}


def _opt(*names: str, help: str, panel: str = INPUTS, **kw: Any) -> Any:
    return typer.Option(*names, help=HELP[help], rich_help_panel=panel, **kw)


Labels = Annotated[str, _opt("--labels", "-l", help="labels")]
PredProbs = Annotated[list[str], _opt("--pred-probs", "-p", help="pred_probs")]
PredProbsMany = Annotated[list[str], _opt("--pred-probs", "-p", help="models")]
LabelColumn = Annotated[str | None, _opt(help="label_column")]
ProbColumns = Annotated[str | None, _opt(help="prob_columns")]
ClassNames = Annotated[str | None, _opt(help="class_names")]
IdColumn = Annotated[str | None, _opt(help="id_column")]
FromLogits = Annotated[bool, _opt("--from-logits", help="from_logits")]
Output = Annotated[str | None, _opt("--output", "-o", help="output", panel=OUTPUT)]
FORMAT, ON_TERMINAL = ("--format", "-f"), "table on a terminal, csv otherwise"
Format = Annotated[OutputFormat | None, _opt(*FORMAT, help="format", panel=OUTPUT, show_default=ON_TERMINAL)]
TableFormat = Annotated[OutputFormat | None, _opt(*FORMAT, help="format", panel=OUTPUT, show_default="table")]
SimFmt = Annotated[SimFormat | None, _opt(*FORMAT, help="sim_format", panel=OUTPUT, show_default="table")]
Top = Annotated[int | None, _opt(min=0, help="top", panel=OUTPUT)]
Mask = Annotated[bool, _opt("--mask", help="mask", panel=OUTPUT)]
Quiet = Annotated[bool, _opt("--quiet", "-q", help="quiet", panel=OUTPUT)]
BatchSize = Annotated[int | None, _opt(min=1, help="batch_size", panel=PERF)]
NJobs = Annotated[int, _opt(min=-1, help="n_jobs", panel=PERF)]
Baseline = Annotated[str | None, _opt(help="baseline", panel=GATES)]
BaselineAnyData = Annotated[bool, _opt("--baseline-any-data", help="baseline_any_data", panel=GATES)]
MaxIssues = Annotated[int | None, _opt(min=0, help="max_issues", panel=GATES)]
MaxIssueRate = Annotated[float | None, _opt(min=0.0, max=1.0, help="max_issue_rate", panel=GATES)]
FailUnder = Annotated[float | None, _opt(min=0.0, max=1.0, help="fail_under", panel=GATES)]
FailOver = Annotated[float | None, _opt(min=0.0, max=1.0, help="fail_over", panel=GATES)]
FilterByOpt = Annotated[FilterBy, _opt(help="filter_by", panel=DETECT, metavar="FILTER")]
RankBy = Annotated[ScoreMethod, _opt(help="rank_by", panel=DETECT, metavar="SCORE")]
Method = Annotated[ScoreMethod, _opt(help="method", panel=DETECT, metavar="SCORE")]
Adjust = Annotated[bool, _opt(help="adjust", panel=DETECT)]
FracNoise = Annotated[float, _opt(min=0.0, max=1.0, help="frac_noise", panel=DETECT)]
PerClassCounts = Annotated[str | None, _opt(help="per_class_counts", panel=DETECT)]
MinPerClass = Annotated[int, _opt(min=0, help="min_per_class", panel=DETECT)]
NumExamples = Annotated[int | None, _opt(min=1, help="num_examples", panel=DETECT)]
WeightByOpt = Annotated[WeightBy, _opt(help="weight_by", panel=ENSEMBLES)]
Weights = Annotated[str | None, _opt(help="weights", panel=ENSEMBLES)]
TaskOpt = Annotated[Task, _opt(help="task", panel=TASKS)]
PerClass = Annotated[bool, _opt("--per-class", help="per_class", panel=TASKS)]
SentenceLengths = Annotated[str | None, _opt(help="sentence_lengths", panel=TASKS)]
TokensColumn = Annotated[str | None, _opt("--tokens", help="tokens", panel=TASKS)]
By = Annotated[str, _opt(help="by", panel=TASKS)]
LowMemory = Annotated[bool, _opt("--low-memory", help="low_memory", panel=PERF)]
Exact = Annotated[bool, _opt("--exact", help="exact", panel=DETECT)]
Estimation = Annotated[EstimationMethod, _opt(help="estimation_method", panel=DETECT, metavar="METHOD")]
ChunkSize = Annotated[int, _opt(min=1, help="chunk_size", panel=DETECT)]
MemoryLimit = Annotated[str, _opt(help="memory_limit", panel=PERF)]
ScoresOut = Annotated[str | None, _opt(help="scores_out", panel=OUTPUT)]
OrderIssues = Annotated[str | None, _opt(help="order_issues")]
Aggregator = Annotated[str, _opt(help="aggregator", panel=TASKS)]
Alpha = Annotated[float, _opt(min=0.0, max=1.0, help="alpha", panel=TASKS)]
Temperature = Annotated[float | None, _opt(min=0.0, help="temperature", panel=TASKS)]
SentenceMethod = Annotated[str, _opt(help="sentence_method", panel=TASKS)]
Plot = Annotated[str | None, _opt(help="plot", panel=OUTPUT)]
Asymmetric = Annotated[bool, _opt("--asymmetric", help="asymmetric", panel=DETECT)]
OutDir = Annotated[str, _opt("--out-dir", "-o", help="out_dir", panel=OUTPUT)]
SimN = Annotated[int, _opt("--n", min=1, help="n", panel=SIM)]
SimK = Annotated[int, _opt("--k", min=2, help="k", panel=SIM)]
NoiseRate = Annotated[float | None, _opt(min=0.0, max=1.0, help="noise_rate", panel=SIM)]
Trace = Annotated[float | None, _opt(help="trace", panel=SIM)]
FracZero = Annotated[float, _opt(min=0.0, max=1.0, help="frac_zero_noise_rates", panel=SIM)]
Prior = Annotated[str, _opt(help="prior", panel=SIM)]
Sharpness = Annotated[float, _opt(min=0.01, help="sharpness", panel=SIM)]
Dtype = Annotated[str, _opt(help="dtype", panel=SIM)]
Seed = Annotated[int, _opt(min=0, help="seed", panel=SIM)]
TrueLabels = Annotated[str, _opt("--true-labels", "-t", help="true_labels")]
Issues = Annotated[str | None, _opt(help="issues")]
Scores = Annotated[str | None, _opt(help="scores")]
HtmlOutput = Annotated[str, _opt("--output", "-o", help="html_output", panel=OUTPUT)]
ReportRows = Annotated[int, _opt("--rows", min=0, help="report_rows", panel=OUTPUT)]

# For each command and --task, the options that task does not honour: giving one is refused with exit 2
# naming the option and the task (tests/cli/test_task_options.py walks every option x task).
MULTICLASS_ONLY = set(
    "baseline baseline_any_data id_column weight_by weights low_memory order_issues".split()
)
NOT_MULTILABEL = MULTICLASS_ONLY | {"from_logits", "batch_size", "n_jobs", "sentence_lengths", "tokens"}
TOKEN_ONLY = {"sentence_lengths", "tokens", "by", "sentence_method"}
NOT_FOR_TASK = {
    ("find-issues", "multiclass"): TOKEN_ONLY | {"per_class"},
    ("find-issues", "multilabel"): NOT_MULTILABEL | {"by"},
    ("find-issues", "token"): MULTICLASS_ONLY | {"per_class", "prob_columns"},
    ("rank", "multiclass"): TOKEN_ONLY | {"per_class", "aggregator", "alpha", "temperature"},
    ("rank", "multilabel"): NOT_MULTILABEL | {"sentence_method"},
    ("rank", "token"): MULTICLASS_ONLY | {"per_class", "aggregator", "alpha", "prob_columns", "tokens"},
    ("health", "multiclass"): TOKEN_ONLY,
    ("health", "multilabel"): NOT_MULTILABEL | {"num_examples", "plot"},
    ("health", "token"): {"plot", "prob_columns"},
}


def given(name: str) -> bool:
    """Was option `name` set to something other than its default?"""
    from labelaudit.cli.app import STATE

    return name in STATE["given"]


def refuse_unsupported(command: str, task: Task) -> None:
    """Exit 2 for an option given with a --task that does not honour it."""
    for name in sorted(NOT_FOR_TASK.get((command, task.value), ())):
        if given(name):
            flag = "--" + name.replace("_", "-")
            raise InputError(f"{flag} is not available with --task {task.value} ({command})")


def one_model(paths: list[str], command: str) -> str:
    """The single --pred-probs of a command (or task) that takes one model."""
    if len(paths) != 1:
        raise InputError(f"{command} takes one --pred-probs model, got {len(paths)}: {', '.join(paths)}")
    return paths[0]
