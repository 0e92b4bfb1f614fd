"""Errors. One base class, each also a builtin so ``except ValueError`` keeps working."""

from __future__ import annotations


class ForkpointError(Exception):
    """Base class of every error forkpoint raises on purpose."""


class SpecError(ForkpointError, ValueError):
    """A run spec (``"<run_id>?_step=<N>"``) that cannot be parsed."""


class StepError(ForkpointError, ValueError):
    """A step out of range (beyond the run's last step) or going backwards."""


class UsageError(ForkpointError, ValueError):
    """Arguments that do not fit together, or a value of the wrong kind."""


class RunNotFoundError(ForkpointError, LookupError):
    """No run (or archived branch) with that id in the store."""


class RunInUseError(ForkpointError, RuntimeError):
    """A live process still writes the run, so it cannot be resumed, rewound or taken over."""


class StoreError(ForkpointError, RuntimeError):
    """The store cannot be opened or used (unknown URL, schema from a newer forkpoint...)."""


class StepRegressionWarning(UserWarning):
    """A ``log(step=s)`` with ``s`` below the current step: the row is dropped and counted."""


class ForkpointWarning(UserWarning):
    """Something the user should see but that does not stop the run."""
