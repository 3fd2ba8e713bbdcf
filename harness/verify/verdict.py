"""What `verify` concludes, as frozen data (rendered as a table, plain text or JSON by `render`)."""

from __future__ import annotations

from dataclasses import dataclass

from ..derivation import Source


@dataclass(frozen=True)
class Entry:
    """One claimed entry next to the truth. `match`: exact | rounded | noise | interval | carried | ''."""

    index: tuple[int, ...]
    claimed: str
    true: str
    ok: bool
    match: str = ""


@dataclass(frozen=True)
class Diagnosis:
    """One explanation that reproduces the claimed numbers exactly (within their rounding)."""

    code: str          # partial_sum | sign_flip | scale | flipped_kernel | transposed | update_sign | arithmetic | convention
    message: str
    details: tuple = ()   # (("positions", [[0, 1], [1, 1]]), ("factor", "4"), ...)


@dataclass(frozen=True)
class StepVerdict:
    step: str
    iteration: int
    status: str                       # ok | wrong | carried
    message: str
    where: str = ""
    claimed: str = ""
    true: str = ""
    diagnosis: tuple[Diagnosis, ...] = ()
    entries: tuple[Entry, ...] = ()
    sums: tuple[str, ...] = ()        # the correct sums written out term by term (wrong gradients)
    notes: tuple[str, ...] = ()       # accepted as rounded, read as a convention, ...
    label: str = ""                   # the step as shown: "∂L/∂W", "error (read as −∂L/∂Ŷ)"


@dataclass(frozen=True)
class ConventionUsed:
    name: str
    value: str
    source: Source


@dataclass(frozen=True)
class Verdict:
    title: str
    source: str
    verdict: str                       # ok | wrong
    steps: tuple[StepVerdict, ...]
    conventions: tuple[ConventionUsed, ...]
    summary: str                       # the first sentence: where it broke, plainly
    notes: tuple[str, ...] = ()
    suggestions: tuple[str, ...] = ()  # other conventions under which everything checks
    index_base: int = 0                # how the document numbers entries (messages use it; JSON `index` is 0-based)
    unchecked: tuple[str, ...] = ()    # claims read but not checkable from what the document gives, with why
    skipped: tuple[str, ...] = ()      # numbers read but not used (other layers, demonstrations), with why

    @property
    def exit_code(self) -> int:
        return 0 if all(s.status == "ok" for s in self.steps) else 1

    @property
    def first_wrong(self) -> StepVerdict | None:
        return next((s for s in self.steps if s.status == "wrong"), None)
