"""Run specs: ``"<run_id>?_step=<N>"``, ``"<project>/<run_id>?_step=<N>"``, ``"<run_id>?epoch=<v>"``.

The W&B form is kept so users can bring their launch lines with them, but validation is stricter
than W&B's (which accepts ``nan``, ``-5``, ``7.9`` and ``1e3``): ``_step`` takes a non-negative integer
written in plain digits, a declared step metric takes a finite number, and exactly one query key is
allowed. An archived branch is addressed as ``<run_id>~<k>`` (the k-th archived segment).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .errors import SpecError

# Run ids take what W&B takes (letters, digits, '_', '-', '.', '@', ... up to 128 characters) except
# what would make them unreachable here: path separators, '?', '#', '%', ':', '~' (archived
# branches), whitespace and control characters; and not '.' or '..' alone. Patterns are matched
# whole (fullmatch: a trailing newline is not let through).
_ID = r"(?![.]{1,2}(?:~|$))[^\s/\\?#%:~\x00-\x1f\x7f]{1,128}"
RUN_ID_RE = re.compile(_ID)
_RUN_REF_RE = re.compile(rf"(?P<run>{_ID})(?:~(?P<arch>[1-9][0-9]*))?")
_PROJECT_RE = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_METRIC_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*")
_STEP_RE = re.compile(r"[0-9]{1,19}")
_NUMBER_RE = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
MAX_STEP = 2**62 - 1  # as store.MAX_STEP (kept here so specs need no store import)

EXPECTED = "expected '<run_id>?_step=<N>' or '<project>/<run_id>?_step=<N>' with N a non-negative integer"


def check_run_id(run_id: object, what: str = "id") -> str:
    """Return ``run_id`` if it is a valid run id, else raise ``SpecError``."""
    if not isinstance(run_id, str) or not RUN_ID_RE.fullmatch(run_id):
        raise SpecError(f"{what} {run_id!r} is not a valid run id: expected 1-128 characters without whitespace, "
                        "control characters or any of / \\ ? # % : ~")
    return run_id


def check_project(project: object) -> str:
    if not isinstance(project, str) or not _PROJECT_RE.fullmatch(project):
        raise SpecError(f"project {project!r} is not a valid project name: "
                        "expected 1-128 characters of A-Z, a-z, 0-9, '_', '.' or '-'")
    return project


@dataclass(frozen=True)
class RunSpec:
    """A branch point: run ``run_id`` (optionally archived branch ``archive``) at ``metric == value``."""

    run_id: str
    value: int | float
    metric: str = "_step"
    project: str | None = None
    archive: int | None = None

    def __post_init__(self) -> None:
        """A RunSpec built directly is checked exactly like a parsed string (same errors)."""
        check_run_id(self.run_id, "run spec run id")
        if self.project is not None:
            check_project(self.project)
        if self.archive is not None and (type(self.archive) is not int or self.archive < 1):
            raise SpecError(f"run spec archive={self.archive!r} is not a positive int (the k of '<run_id>~<k>')")
        if not isinstance(self.metric, str) or not _METRIC_RE.fullmatch(self.metric):
            raise SpecError(f"run spec metric {self.metric!r} is not a metric name: {EXPECTED}")
        v = self.value
        if self.metric == "_step":
            if type(v) is not int or not 0 <= v <= MAX_STEP:
                raise SpecError(f"run spec _step={v!r} is not a non-negative integer (at most 2**62 - 1): {EXPECTED}")
        elif isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise SpecError(f"run spec {self.metric}={v!r} is not a finite number")

    @classmethod
    def parse(cls, spec: str) -> RunSpec:
        if not isinstance(spec, str):
            raise SpecError(f"run spec {spec!r} is not a string: {EXPECTED}")
        head, sep, query = spec.partition("?")
        if not sep or not head:
            raise SpecError(f"run spec {spec!r} has no '?_step=<N>' part: {EXPECTED}")
        project = None
        if "/" in head:
            project, _, head = head.partition("/")
            if "/" in head or not _PROJECT_RE.fullmatch(project):
                raise SpecError(f"run spec {spec!r} has a bad '<project>/' prefix: {EXPECTED}")
        m = _RUN_REF_RE.fullmatch(head)
        if not m:
            raise SpecError(f"run spec {spec!r}: {head!r} is not a run id (no whitespace, control characters or "
                            f"/ \\ ? # % : ~; optionally '~<k>' for an archived branch): {EXPECTED}")
        if "&" in query or ";" in query or "#" in query:
            raise SpecError(f"run spec {spec!r} has more than one query key: {EXPECTED}")
        metric, eq, raw = query.partition("=")
        if not eq or not metric:
            raise SpecError(f"run spec {spec!r} has no '<metric>=<value>' query: {EXPECTED}")
        if not _METRIC_RE.fullmatch(metric):
            raise SpecError(f"run spec {spec!r}: {metric!r} is not a metric name: {EXPECTED}")
        if raw == "":
            raise SpecError(f"run spec {spec!r} has an empty value: {EXPECTED}")
        value: int | float
        if metric == "_step":
            if not _STEP_RE.fullmatch(raw) or int(raw) > MAX_STEP:
                raise SpecError(f"run spec {spec[:80]!r}: _step={raw[:40]!r} is not a non-negative integer "
                              f"(at most 2**62 - 1): {EXPECTED}")
            value = int(raw)
        else:
            if len(raw) > 64 or not _NUMBER_RE.fullmatch(raw):
                raise SpecError(f"run spec {spec!r}: {metric}={raw!r} is not a finite number (expected e.g. '{metric}=3')")
            value = int(raw) if _STEP_RE.fullmatch(raw.lstrip("-")) else float(raw)
            if not math.isfinite(value):
                raise SpecError(f"run spec {spec!r}: {metric}={raw!r} is not finite")
        arch = int(m.group("arch")) if m.group("arch") else None
        return cls(run_id=m.group("run"), value=value, metric=metric, project=project, archive=arch)

    @property
    def ref(self) -> str:
        """The run reference part: ``<run_id>`` or ``<run_id>~<k>``."""
        return self.run_id if self.archive is None else f"{self.run_id}~{self.archive}"

    def __str__(self) -> str:
        prefix = f"{self.project}/" if self.project else ""
        return f"{prefix}{self.ref}?{self.metric}={self.value}"


def parse_run_ref(ref: str) -> tuple[str | None, str, int | None]:
    """Parse ``[<project>/]<run_id>[~<k>]`` (used by ``Api.run`` and the CLI)."""
    if not isinstance(ref, str):
        raise SpecError(f"run {ref!r} is not a string: expected '<run_id>' or '<project>/<run_id>'")
    project = None
    head = ref
    if "/" in ref:
        project, _, head = ref.partition("/")
        check_project(project)
    m = _RUN_REF_RE.fullmatch(head)
    if not m:
        raise SpecError(f"run {ref!r} is not a run id: expected '<run_id>', '<project>/<run_id>' "
                        "or '<run_id>~<k>' for an archived branch")
    return project, m.group("run"), int(m.group("arch")) if m.group("arch") else None
