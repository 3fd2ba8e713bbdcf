"""A document as an ordered list of segments: math, prose and code, each with its line number.

Both front ends (Markdown-ish text and LaTeX files) produce segments; everything downstream reads
segments only, so it does not care which notation the document used.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass


@dataclass(frozen=True)
class Segment:
    kind: str          # "math" | "prose" | "code" (fenced/indented) | "text" (a paragraph with printed arrays)
    text: str
    line: int          # 1-based line of the first character of `text`
    display: bool = False   # math: display (block) rather than inline

    def line_at(self, offset: int) -> int:
        """The document line of a character offset inside `text`."""
        if "\n" not in self.text:
            return self.line
        index = self.__dict__.get("_index")
        if index is None:
            index = LineIndex(self.text)
            object.__setattr__(self, "_index", index)
        return self.line + index.line(max(0, offset)) - 1


class LineIndex:
    """Character offset -> 1-based line number, in O(log n)."""

    def __init__(self, text: str):
        self.starts = [0]
        pos = text.find("\n")
        while pos != -1:
            self.starts.append(pos + 1)
            pos = text.find("\n", pos + 1)

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)

    def offset(self, line: int) -> int:
        """Offset of the start of a 1-based line."""
        return self.starts[min(max(line, 1), len(self.starts)) - 1]
