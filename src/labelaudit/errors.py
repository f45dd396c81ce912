"""One exception family: the CLI turns every LabelauditError into `Error: ...` and an exit code."""

from __future__ import annotations


class LabelauditError(Exception):
    """Base class of every error labelaudit raises on purpose."""

    exit_code = 2


class InputError(LabelauditError, ValueError):
    """Bad input: a file, an array or an option value that breaks a rule."""


class LabelauditWarning(UserWarning):
    """Something the user should know that does not stop the run (absent class, repaired drift)."""


class GateFailed(LabelauditError):
    """A CI gate failed: exit code 1 with the gate's one-line message."""

    exit_code = 1
