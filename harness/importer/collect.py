"""Segments -> what the document says, in order: labelled values, convention hints, iteration markers,
and matrices left out (with why). No arithmetic happens here; `assemble` decides what it all means."""

from __future__ import annotations

import re
from fractions import Fraction
from dataclasses import dataclass, field

import numpy as np

from . import conventions
from ..errors import UserError
from .conventions import Hint
from .labels import Label, bound_role, code_label, latex_label, normalize, prose_label
from .latex import Equation, Value, parse_math
from .numbers import parse_number
from .plaintext import Found, scan
from .segments import Segment
from .textmath import parse_block, split_relations, to_latexish

SCALAR_QUANTITIES = ("loss", "learning_rate", "stride", "loss_or_error", "padding")
BIAS = ("bias", "grad_bias", "updated_bias")
_MARKER = re.compile(r"^\W*(?:#+\s*)?(?:\*\*)?\s*(?:epoch|iteration|iter)\s*#?\s*(\d{1,4})\b", re.IGNORECASE)
_ORDINAL = re.compile(r"\b(first|second|third|fourth|fifth|sixth)\s+(?:iteration|epoch|update|training step)\b",
                      re.IGNORECASE)
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6}
_SHELL = re.compile(r"^(?:>>>|>>(?=\s)|In\s*\[\d*\]:|\.\.\.)?\s*(?:print\s*\(\s*(?:(?:f?['\"][^'\"]*['\"])\s*,\s*)?)?"
                    r"([A-Za-z_][\w.]*)\s*\)?\s*$")
_COMMENT = re.compile(r"^\s*#\s*(.+)$")
_STRING_ARG = re.compile(r"""([(,=]\s*)(?:'[^'\n]*'|"[^"\n]*")(?=\s*[,)])""")
_SIZE_NAME = re.compile(r"(?:^|[_.])(?:shape|size|sizes|dims)$|(?:Shape|Size)$|"
                        r"^(?:strides?|pads|paddings?|dilations?|groups?|output_padding)$", re.IGNORECASE)
_TRAILING_COMMENT = re.compile(r"(?<=\S)\s+#(?![^'\"]*['\"]\s*[,)\]]).*$")   # code, then `# …` (not inside a string)
_PAD_SIDES = re.compile(r"\bpadding\b.{0,20}?\btop\s*(\d+),?\s*bottom\s*(\d+),?\s*left\s*(\d+),?\s*right\s*(\d+)",
                        re.IGNORECASE)
_PAD = re.compile(r"(?<!the )(?<!the zero )\b(?:zero[- ])?padding\b\s*(?:[:=]|of|is)\s*(?:\$\s*p\s*=\s*)?(\d+|none|'same'|\"same\"|same|"
                  r"'valid'|\"valid\"|valid)\b|\b(same|valid)\s+padding\b", re.IGNORECASE)


@dataclass(frozen=True, eq=False)
class Reading:
    label: Label
    value: Value
    line: int
    text: str
    style: str               # latex | list | numpy | torch | scalar
    context: str = ""        # the prose just before it (for skip reasons and messages)


@dataclass(frozen=True, eq=False)
class Unreadable:
    """A value written for a labelled quantity that could not be read (a bad entry, ragged rows, an unclosed
    bracket): `assemble` names it when the quantity is needed and nothing else gives it."""
    label: Label
    line: int
    text: str                # the source snippet
    written: str             # the label as written: "W", "'Kernel:'"
    reason: str              # "entry '0.2q' (row 1, column 2) is not a number"
    matrix: bool = True      # a matrix (False: a number-like token such as "0.1q")

    def message(self, name: str) -> str:
        return (f"the {'matrix' if self.matrix else 'value'} labelled {self.written} (the {name}) could not be "
                f"read: {self.reason}")


@dataclass
class Collected:
    events: list = field(default_factory=list)      # Reading | Unreadable | ("marker", k, line) in document order
    hints: list[Hint] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    indices: list[tuple[int, int, str]] = field(default_factory=list)   # (lowest index, line, text)
    title: str = ""
    program: object = None                         # `program.Program`: what the code's names mean
    queue: list = field(default_factory=list)      # labels of what the last code cell printed, in order
    bound: dict = field(default_factory=dict)      # symbol -> role the prose gave it ("the input $a$")
    by_line: dict = field(default_factory=dict)    # line -> Label declared on the command line (--role 12=input)
    unlabelled: list = field(default_factory=list)  # (line, shape) of the matrices no label was found for
    sums: list = field(default_factory=list)       # WrittenSum: "0×0 + 1×1 + 3×2 + 4×3 = 19" with no label


def _named(out: "Collected", name: str, line: int | None = None) -> Label | None:
    """A code name's quantity: how the document's code uses it first, then the name itself."""
    known = out.program.label(name, line) if out.program is not None else None
    return known or (Label(out.bound[name]) if name in out.bound else None) or code_label(name)


MAX_MATH_CHARS = 500_000     # LaTeX read with pylatexenc (about 5 µs a character)
MAX_SEGMENTS = 50_000


def collect(segments: list[Segment], where: str = "document", text: str | None = None,
            roles: tuple[tuple[str, str], ...] = ()) -> Collected:
    """Everything numeric the document shows, with its label; `roles` (--role NAME=ROLE) name some labels."""
    math_chars = sum(len(s.text) for s in segments if s.kind == "math")
    if math_chars > MAX_MATH_CHARS or len(segments) > MAX_SEGMENTS:
        raise UserError(f"too much to read: {math_chars} characters of math in {len(segments)} pieces (the limits are "
                        f"{MAX_MATH_CHARS} and {MAX_SEGMENTS}); crossgrad reads derivations of small cases", where)
    out = Collected()
    from .program import read_program
    declared = {name: Label(q) if q != "skip" else Label("skip", reason="declared on the command line: --role "
                                                                        f"{name}=skip") for name, q in roles}
    out.by_line = {int(name): label for name, label in declared.items() if name.isdigit()}
    declared = {name: label for name, label in declared.items() if not name.isdigit()}
    prog = read_program(segments, text if text is not None else "\n".join(s.text for s in segments), declared)
    out.program = prog
    # a line the program read as code is code, though Markdown took it for prose (a test file given as text)
    segments = _rows_as_arrays(_code_lines_as_code(segments, prog.lines,
                                                   (text if text is not None else "").split("\n")))
    out.hints.extend(prog.hints)
    built = prog.built                                     # lines whose value the program read
    code_geometry = bool(prog.aliases)                     # the conv call says the geometry of the code
    math = {id(s): parse_math(s.text, s.line_at) for s in segments if s.kind == "math"}
    y_is_output = _y_is_output(math.values())
    context: tuple[str, int, Label | None] | None = None   # the last prose line that may label a value
    para: list[tuple[str, int]] = []                          # the prose lines of the current paragraph
    epoch_table = False                                       # inside a "| Epoch | Loss |" table
    prev = None                                               # the segment before (prose before a symbol)
    for seg in segments:
        if seg.kind != "prose" or (para and seg.line > para[-1][1] + 1):
            para = [] if seg.kind != "prose" else para[-0:0]
        if seg.kind == "prose":
            if _EPOCH_HEADER.match(seg.text):
                epoch_table = True
                continue
            row = _EPOCH_ROW.match(seg.text) if epoch_table else None
            if row:   # | 2 | 0.2331 |: the loss of epoch 2
                out.events.append(("marker", int(row.group(1)), seg.line))
                number = parse_number(row.group(2))
                if number is not None:
                    a = np.empty((), dtype=object)
                    a[()] = number[0]
                    out.events.append(Reading(Label("loss"), Value(a, np.array(number[1])), seg.line,
                                              _clip(seg.text), "scalar"))
                continue
            epoch_table = epoch_table and bool(re.match(r"^\s*\|?[\s:|-]+$", seg.text))
            if not out.title and seg.text.strip():
                out.title = seg.text.strip().lstrip("#").strip()[:100]
            _marker(seg.text, seg.line, out)
            _padding(seg.text, seg.line, out)
            _geometry_words(seg.text, seg.line, out)
            out.hints.extend(conventions.from_text(seg.text, seg.line))
            used = [_found(f, out, context, code=False) for f in scan(seg.text, seg.line)]
            if any(used):
                # "Say the learning rate is 0.5, then the new filter is:": what follows the last number still
                # labels the matrix below it
                tail = re.split(r"\d", seg.text)[-1].lstrip(".,;) ").strip()
                label = prose_label(tail) if re.search(r"(?::|：|\bis|\bare|=)\s*$", tail) else None
                context = (tail, seg.line, label) if label is not None else None
                _zeros(seg.text, seg.line, out)
            else:
                text = seg.text.replace("\u2063", " ").strip()
                if _zeros(text, seg.line, out):
                    context = None
                elif text:
                    para.append((text, seg.line))
                    context = (text, seg.line, _paragraph_label(para))
        elif seg.kind in ("code", "text"):
            code = seg.kind == "code"
            lines = seg.text.split("\n")
            markers = []
            for k, line in enumerate(lines):
                if not code or not line.lstrip().startswith(("[", "tensor", "array")):
                    before = len(out.events)
                    _marker(line, seg.line + k, out)
                    markers.extend(out.events[before:])
                    del out.events[before:]
                if not (code_geometry and seg.line + k in prog.lines):
                    _padding(line, seg.line + k, out)
                    _geometry_words(line, seg.line + k, out)
                out.hints.extend(conventions.from_text(line, seg.line + k, code=code))
            block = seg.text if not code else "\n".join(
                _STRING_ARG.sub(lambda m: m.group(1) + " " * (len(m.group(0)) - len(m.group(1))),
                                _TRAILING_COMMENT.sub(lambda m: " " * len(m.group(0)), l)
                                if seg.line + k in prog.lines else l)
                for k, l in enumerate(lines))
            # `b = np.array([0, 0])  # bias set to 0`: the comment is no value; `it('input=[3,3,1] …', …)`: nor
            # is a string given to a call
            equations, masked = parse_block(block, seg.line)
            if code and seg.line in prog.lines:
                out.queue = []    # a cell's own literals are not its printout
            items = ([(e.line, 0, e) for e in equations if e.line not in built]
                     + [(f.line, 1, f) for f in scan(masked, seg.line) if f.line not in built
                        and not (code and f.line in prog.lines and _indexing(f, lines[f.line - seg.line]))]
                     + [(m[2], -1, m) for m in markers])
            found_any = False
            prompts = sorted(k for k in prog.prompts if seg.line <= k < seg.line + len(lines)) if code else []
            echoed = _echoed_numbers(prog, prompts, lines, seg.line, out)
            aligned = _printout(out, items, lines, seg.line) if code and out.queue and seg.line not in prog.lines \
                else {}
            for _, kind, item in sorted(items, key=lambda t: (t[0], t[1])):
                if kind == -1:
                    out.events.append(item)
                elif kind == 0:
                    if context is None and len(item.sides) == 1:   # "偏置梯度 (b):" above a printed `[9. 9.]`
                        context = _label_above(lines, item.line - seg.line, item.line, prog, code)
                    context = _equation(item, out, context, y_is_output)
                    found_any = True
                elif _found(item, out, context, code=code,
                            echo=None if lines[item.line - seg.line].lstrip().startswith("#") else
                            aligned.get(item.line) or _echo(prog, prompts, echoed, item.line)):   # (a comment is not the printout)
                    context = None
                    found_any = True
            printed = [x for k in range(seg.line, seg.line + len(lines)) for x in prog.prints.get(k, ())]
            if code and printed:   # what the cell prints comes in the blocks after it
                out.queue = printed
            last = next((l.strip() for l in reversed(lines) if l.strip()), "")
            shell = _SHELL.match(last) if code else None
            if shell:   # `print(w)` or `w` ends a cell: its output below is w (updated if the cell changed it)
                name = shell.group(1)
                label = _named(out, name, seg.line + len(lines) - 1)
                changed = re.compile(rf"^\s*{re.escape(name)}\s*(?:-=|\+=|=\s*{re.escape(name)}\s*[-+])", re.M)
                if label is not None and label.quantity in ("filter", "bias") and changed.search(seg.text):
                    label = Label("updated_" + label.quantity)
                context = (last, seg.line + len(lines) - 1, label)
            elif not found_any and not code:
                context = (last, seg.line + len(lines) - 1, prose_label(last)) if last else context
            else:
                context = None
        else:
            if prev is not None and prev.kind == "prose" and prev.line == seg.line and _SYMBOL.match(seg.text):
                role = bound_role(prev.text)   # "假设输入特征图$a$", "the kernel $K$": the prose names the symbol
                if role is not None:
                    out.bound[normalize(seg.text.strip())] = role
            for eq in math[id(seg)]:
                context = _equation(eq, out, context, y_is_output)
        prev = seg
    if code_geometry:   # the call's own arguments say the geometry; `stride=2` read again as text says nothing new
        out.events = [e for e in out.events if not (isinstance(e, Reading) and e.line in prog.lines and
                                                    e.label.quantity in ("stride", "padding", "dilation", "groups"))]
    out.skipped.extend(f"line {line}: {_clip(text_)} — {label.reason}" for label, _, line, text_ in prog.readings
                       if label.quantity == "skip")
    _merge(out, [Reading(label, value, line, text_, "code") for label, value, line, text_ in prog.readings
                 if label.quantity != "skip"])
    return out


_PRINTOUT = re.compile(r"^\s*(?:\w+\s+)?(?:tensor\(|array\(|\[\[)")
MAX_PRINTOUT_LINES = 200


def _code_lines_as_code(segments: list[Segment], code_lines: set[int], raw: list[str]) -> list[Segment]:
    """Lines the program read as code are code, though Markdown took them for prose (a test file, or code
    pasted among the prose without a fence): consecutive ones become one block, as a cell. A printed tensor
    that Markdown cut at its blank lines is joined again, up to its closing bracket."""
    out: list[Segment] = []
    joined = False   # the last segment is such a block
    skip_to = 0
    for s in segments:
        if s.line < skip_to:
            continue
        lines = s.text.split("\n")
        last = s.line + len(lines) - 1
        depth = sum(_depth(raw[k - 1]) for k in range(s.line, last + 1)) if last <= len(raw) else 0
        if s.kind in ("prose", "text") and depth > 0 and _PRINTOUT.match(raw[s.line - 1]):
            end = last
            while depth > 0 and end < min(len(raw), s.line + MAX_PRINTOUT_LINES):
                depth += _depth(raw[end])
                end += 1
            if depth == 0:
                out.append(Segment("code", "\n".join(raw[s.line - 1: end]), s.line))
                skip_to, joined = end + 1, False
                continue
        if s.kind == "text" and sum(s.line + k in code_lines for k in range(len(lines))) * 2 >= len(lines):
            out.append(Segment("code", s.text, s.line))
            joined = False
            continue
        if not (s.kind == "prose" and "\n" not in s.text and s.line in code_lines and s.line <= len(raw)) or \
                re.fullmatch(r"\s*\w+[.!?]?\s*", raw[s.line - 1]):   # "OK", "thanks": a word, not code
            out.append(s)
            joined = False
            continue
        prev = out[-1] if joined else None
        if prev is not None and all(k in code_lines or not raw[k - 1].strip() for k in range(prev.line, s.line)):
            out[-1] = Segment("code", "\n".join(raw[prev.line - 1: s.line]), prev.line)
        else:
            out.append(Segment("code", raw[s.line - 1], s.line))
        joined = True
    return out


_FILL_WORD = re.compile(r"\b(?:zeros|ones|0s|1s)\b", re.IGNORECASE)
_FILLED = re.compile(r"(?P<label>.*?)\b(?:is|are|=|:)?\s*(?:an?\s+)?(?:(?P<h>\d+)\s*[x×]\s*(?P<w>\d+)\s+)?"
                     r"(?:matrix|array|tensor|grid)?\s*(?:filled\s+with|full\s+of|of\s+all|of|all)\s+"
                     r"(?P<fill>zeros|ones|0s|1s)\b", re.IGNORECASE)


def _zeros(text: str, line: int, out: "Collected") -> bool:
    """"The target for this layer is a 2x2 matrix filled with zeros": a value said in words. Its shape is the
    one written, or that of the output (`None` in the reading's shape: filled in by the assembler)."""
    fill = _FILL_WORD.search(text)
    if fill is None:   # (the full pattern only on the sentence before a fill word: it backtracks on long lines)
        return False
    m = _FILLED.search(text[max(0, fill.start() - 200):fill.end()])
    if m is None or not m["h"]:
        return False
    label = prose_label(m["label"])
    if label is None or label.quantity not in ("target", "grad_output", "bias", "input", "filter"):
        return False
    fill = Fraction(0 if m["fill"].lower() in ("zeros", "0s") else 1)
    a = np.empty((int(m["h"]), int(m["w"])), dtype=object)
    if a.size > 10_000:
        return False
    a[...] = fill
    out.events.append(Reading(label, Value(a, np.full(a.shape, -1)), line, _clip(text), "latex"))
    return True


_ROW_NUM = r"[+\-\u2212]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+\-]?\d+)?"
_ROW = re.compile(rf"^[ \t]*\|?[ \t]*(?P<row>{_ROW_NUM}(?:[ \t]*[,;|\t ][ \t]*{_ROW_NUM})*)[ \t]*[,;|]?[ \t]*"
                  r"(?:\([^()\n]*\))?[ \t]*$")   # an annotation after the row: "0(supposed to be -1, but ReLU …)"


def _rows_as_arrays(segments: list[Segment]) -> list[Segment]:
    """A matrix written as bare rows of numbers under its label ("Input:" then "1, 0, 1" / "0 -1 1" lines,
    as Q&A posts write them) is read as the bracketed array it means; its lines keep their numbers."""
    merged: list[Segment] = []   # consecutive one-line prose rows are one paragraph first
    for s in segments:
        prev = merged[-1] if merged else None
        if prev is not None and s.kind == prev.kind == "prose" and "\n" not in s.text and \
                prev.line + prev.text.count("\n") + 1 == s.line and _ROW.match(s.text) and \
                _ROW.match(prev.text.split("\n")[-1]):
            merged[-1] = Segment("prose", prev.text + "\n" + s.text, prev.line)
        else:
            merged.append(s)
    out = []
    for s in merged:
        if s.kind not in ("prose", "text") or not any(_ROW.match(line) for line in s.text.split("\n")):
            out.append(s)
            continue
        lines = s.text.split("\n")
        k, rebuilt = 0, []
        while k < len(lines):
            rows = []
            while k + len(rows) < len(lines) and (m := _ROW.match(lines[k + len(rows)])):
                rows.append(re.findall(_ROW_NUM, m.group("row")))
            if rows and len({len(r) for r in rows}) == 1 and (len(rows) > 1 or len(rows[0]) > 1):
                body = ", ".join("[" + ", ".join(r) + "]" for r in rows)
                rebuilt.append(f"[{body}]" if len(rows) > 1 else body)
                rebuilt.extend("" for _ in rows[1:])
                k += len(rows)
            elif rows:
                rebuilt.extend(lines[k:k + len(rows)])
                k += len(rows)
            else:
                rebuilt.append(lines[k])
                k += 1
        out.append(Segment(s.kind, "\n".join(rebuilt), s.line) if rebuilt != lines else s)
    return out


def _depth(line: str) -> int:
    return line.count("[") + line.count("(") - line.count("]") - line.count(")")


def _merge(out: Collected, readings: list[Reading]) -> None:
    """Values the program built, put among the events by their line (iterations follow document order)."""
    import bisect
    line_of = lambda e: e[2] if isinstance(e, tuple) else e.line  # noqa: E731
    for r in readings:
        keys = [line_of(e) for e in out.events]
        out.events.insert(bisect.bisect_right(keys, r.line), r)


def _indexing(f: Found, line: str) -> bool:
    """`x[0][0][:2, :2]` in a line of Python the program read: indexing (a bracket right after a name or
    another bracket), not a value."""
    if f.value is None or not f.text.startswith("["):
        return False
    at = line.find(f.text[:12])
    return at > 0 and bool(re.match(r"[\w\])]", line[at - 1]))


def _paragraph_label(para: list[tuple[str, int]]) -> Label | None:
    """The label of the paragraph's last line; a skip reason anywhere in the paragraph ("with zero padding
    the output would be …, for comparison the padded output of the initial filter is:") wins."""
    whole = prose_label(" ".join(t for t, _ in para[-4:]))
    if whole is not None and whole.quantity == "skip":
        return whole
    return prose_label(para[-1][0]) or whole


def _y_is_output(equation_lists) -> bool:
    """When a document calls the target T (or Y_true), its Y is the output."""
    for eqs in equation_lists:
        for eq in eqs:
            if len(eq.sides) >= 2 and re.fullmatch(r"T|Y_\{?(true|target|gt)\}?|y_\{?(true|target)\}?",
                                                   normalize(eq.lhs.latex)):
                return True
    return False


def _padding(text: str, line: int, out: Collected) -> None:
    """'Padding: 1', 'padding = 0', 'Padding: zeros: top 0, bottom 1, left 1, right 1', 'same padding'."""
    m = _PAD_SIDES.search(text)
    if m:
        value = tuple(int(g) for g in m.groups())
    else:
        m = _PAD.search(text)
        if not m:
            return
        word = (m.group(1) or m.group(2)).strip("'\"").lower()
        value = 0 if word in ("none", "valid") else word if word == "same" else int(word)
    a = np.empty((), dtype=object)
    a[()] = value
    out.events.append(Reading(Label("padding"), Value(a, np.array(-1)), line, _clip(text), "scalar"))


_EPOCH_HEADER = re.compile(r"^\s*\|?\s*(?:epoch|iteration|step)\s*\|\s*(?:training\s+)?loss\s*\|?\s*$", re.IGNORECASE)
_EPOCH_ROW = re.compile(r"^\s*\|?\s*(\d{1,4})\s*\|\s*([-+\u2212]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*\|?\s*$")
_GROUPS = re.compile(r"\bgroups\s*(?:[:=]|of|is)\s*(\d+)\b", re.IGNORECASE)
_DILATION = re.compile(r"\bdilation\s*(?:[:=]|of|is)\s*(\d+)(?:\s*\(rows?\),?\s*(\d+)\s*\(columns?\))?",
                       re.IGNORECASE)


def _geometry_words(text: str, line: int, out: Collected) -> None:
    """'Groups: 2', 'Dilation: 2 (rows), 1 (columns)', 'dilation = 2'."""
    for pattern, name in ((_GROUPS, "groups"), (_DILATION, "dilation")):
        m = pattern.search(text)
        if m:
            a = np.empty((), dtype=object)
            a[()] = int(m.group(1)) if name == "groups" or not m.group(2) else (int(m.group(1)), int(m.group(2)))
            out.events.append(Reading(Label(name), Value(a, np.array(-1)), line, _clip(text), "scalar"))


def _marker(text: str, line: int, out: Collected) -> None:
    m = _MARKER.match(text)
    if m:
        out.events.append(("marker", int(m.group(1)), line))
        return
    m = _ORDINAL.search(text)
    if m and not re.search(r"\b(will|would|next)\b", text, re.IGNORECASE):
        out.events.append(("marker", _ORDINALS[m.group(1).lower()], line))


def _index_note(label: Label, line: int, text: str, out: Collected) -> None:
    if label.position:   # placed in words: says nothing of the document's index base
        return
    ints = [i for i in (label.index or ()) if i is not None]
    if ints:
        out.indices.append((min(ints), line, text))


def _add(out: Collected, label: Label, value: Value, line: int, text: str, style: str, context) -> bool:
    ctx_text = context[0] if context else ""
    if label.quantity == "skip":
        out.skipped.append(f"line {line}: {_clip(text)} — {label.reason}")
        return True
    if value.array.ndim == 0 and label.quantity not in SCALAR_QUANTITIES + BIAS and label.index is None:
        return False  # "top-left weight = 0.5": a number where a matrix belongs is not a claim of the matrix
    if value.array.ndim > 0 and label.quantity in ("loss", "learning_rate", "stride"):
        out.skipped.append(f"line {line}: {_clip(text)} — a matrix labelled as the {label.quantity}")
        return True
    if label.index is not None and value.array.ndim != (2 if None in label.index else 0):
        return False  # an element needs a number, a slice W_{0,1,:,:} a matrix
    _index_note(label, line, text, out)
    out.events.append(Reading(label, value, line, text, style, ctx_text))
    return True


@dataclass(frozen=True)
class WrittenSum:
    """An entry written out as its terms with no label ("0×0 + 1×1 + 3×2 + 4×3 = 19"): `assemble` finds the output
    element whose window these products are, if exactly one is."""
    line: int
    text: str
    terms: tuple[tuple[Fraction, Fraction], ...]
    value: Value


_TERM = re.compile(r"\s*([+\-−]?)\s*(\d+(?:\.\d+)?|\.\d+)\s*\*\s*([+\-−]?\s*(?:\d+(?:\.\d+)?|\.\d+))\s*")
MAX_TERMS = 4096


def written_terms(text: str) -> tuple[tuple[Fraction, Fraction], ...] | None:
    """`0\\times0+1\\times1+(3·2)+4×(−3)` as its products ((0, 0), (1, 1), (3, 2), (4, −3)); None unless the whole
    text is a sum of products of two numbers (parentheses aside)."""
    t = re.sub(r"\\(?:times|cdot|ast)|[×·∗*]|(?<=\d)\s*x\s*(?=[\d(])", "*", text)
    t = re.sub(r"\\(?:left|right)|[(){}\[\]]", " ", t).replace("−", "-")
    if len(t) > 40 * MAX_TERMS or "*" not in t:
        return None
    terms, pos = [], 0
    for m in _TERM.finditer(t):
        if m.start() != pos or (terms and not m.group(1)):
            return None
        sign = -1 if m.group(1) in "-−" and m.group(1) else 1
        terms.append((sign * Fraction(m.group(2)), Fraction(m.group(3).replace(" ", ""))))
        pos = m.end()
    return tuple(terms) if terms and pos == len(t) and len(terms) <= MAX_TERMS else None


def _written_sum(out: Collected, sides: list[str], value: Value, line: int, text: str) -> None:
    if value.array.ndim:
        return
    for side in sides:
        terms = written_terms(side)
        if terms and len(terms) >= 2:
            out.sums.append(WrittenSum(line, text, terms, value))
            return


def _no_label(out: Collected, line: int, text: str, value: Value) -> None:
    out.skipped.append(f"line {line}: {text} — a matrix with no label")
    out.unlabelled.append((line, value.array.shape))


def _context_label(context) -> Label | None:
    return context[2] if context else None


def _equation(eq: Equation, out: Collected, context, y_is_output: bool):
    sides = [s.latex for s in eq.sides]
    value = eq.final
    line = eq.sides[-1].line
    if len(eq.sides) == 1:
        if value is None:
            if eq.unreadable and _unreadable(out, _context_label(context), line, _clip(eq.latex),
                                             _quoted(context[0]) if context else "", eq.unreadable,
                                             matrix=_of_a_matrix(eq.unreadable)):
                return None
            return context
        label = out.by_line.get(line) or _context_label(context)
        text = _clip(eq.latex)
        if label is None:
            if value.array.ndim:
                _no_label(out, line, text, value)
            return None
        _add(out, label, value, line, text, "latex", context)
        return None
    known = out.program.label(eq.lhs.latex.strip(), eq.line) if out.program is not None else None
    label = known or latex_label(eq.lhs.latex, y_is_output, out.bound)   # a code name means what the code does with it
    out.hints.extend(conventions.from_equation(sides, label, eq.line, y_is_output))
    if value is None:
        if label is not None:
            _index_note(label, eq.line, eq.lhs.latex, out)
            ctx = _context_label(context)
            if eq.unreadable and not (ctx is not None and ctx.quantity == "skip"):
                _unreadable(out, label, line, _clip(eq.latex), _clip(eq.lhs.latex, 40), eq.unreadable,
                            matrix=_of_a_matrix(eq.unreadable))
        return context
    text = _clip(eq.latex)
    label = out.by_line.get(line) or label
    if label is None:
        label = loose_label(eq.lhs.latex, out.program, line)
    if label is None:
        if value.array.ndim:
            out.skipped.append(f"line {line}: {text} — left side {_clip(eq.lhs.latex, 30)!r} is not a known "
                               "quantity")
        _written_sum(out, sides[:-1], value, line, text)
        return context
    ctx = _context_label(context)
    if ctx is not None and ctx.quantity == "skip" and label.quantity not in ("learning_rate", "stride"):
        out.skipped.append(f"line {line}: {text} — {ctx.reason}")
        return None
    if ctx is not None and (ctx.next_iteration or ctx.initial) and label.quantity == ctx.quantity:
        label = Label(label.quantity, label.index, label.iteration, ctx.next_iteration, ctx.initial,
                      label.pre_activation)
    if ctx is not None and ctx.approx or value.relation == "≈":
        label = Label(label.quantity, label.index, label.iteration, label.next_iteration, label.initial,
                      label.pre_activation, approx=True)
    _add(out, label, value, line, text, "latex", context)
    return None


def _unreadable(out: Collected, label: Label | None, line: int, text: str, written: str, reason: str,
                matrix: bool = True) -> bool:
    """Note a labelled value that could not be read; True when the label makes it one worth noting."""
    if label is None or label.quantity == "skip":
        return False
    entry = _ENTRY.search(reason)
    elided = entry is not None and set(entry.group(1)) <= set(".…·⋯ ")
    shown = _SUBSCRIPTS.sub("", text.split("=", 1)[-1])   # the matrix as shown, subscripts aside
    if matrix and entry and (elided or re.search(r"[^\W\d_]", shown) and not re.search(r"\d", shown)):
        # a matrix written in symbols (a_{11}, x_1·w_{11} + …: no number outside its subscripts) or cut short
        # ("…"): a formula or an excerpt, not a value (one bad entry among numbers is a typo, named)
        what = "elided with '…'" if elided else "written in symbols"
        out.skipped.append(f"line {line}: {text} — {what}, not values")
        return True
    scalar_only = label.quantity in ("loss", "learning_rate", "stride", "padding", "groups", "dilation")
    element = label.index is not None and None not in label.index
    if matrix and (scalar_only or element):
        return False
    if not matrix and not (scalar_only or element or label.quantity in BIAS + ("loss_or_error",)):
        return False   # a number-like token where a matrix belongs ("W = 2x") is prose
    out.events.append(Unreadable(label, line, text, written or "(no label)", reason, matrix))
    return True


def _of_a_matrix(reason: str) -> bool:
    """A reason from the readers is about a matrix unless it quotes a lone number ("'0.1q' is not …")."""
    return not reason.startswith("'")


def _quoted(t: str) -> str:
    return "'" + _clip(t.replace("\u2063", " "), 50) + "'"


_BARE_NUMBER = re.compile(r"[-+−]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _label_above(lines: list[str], k: int, line: int, prog, code: bool):
    """A short label on the line above a bare matrix of a text block ("Kernel:", "偏置梯度 (b):"), as a context."""
    prev = next((l.strip() for l in reversed(lines[max(0, k - 2):k]) if l.strip()), "")
    if not prev or (code and line - 1 in prog.lines) or scan(prev, line - 1) or \
            not (_LABEL_END.search(prev) or len(prev) <= 60):
        return None
    label = prose_label(prev) or loose_label(prev, prog, line)
    return (prev, line - 1, label) if label is not None else None


def _printout(out: Collected, items, lines: list[str], first: int) -> dict[int, Label]:
    """The block a cell printed, value by value: when it holds as many values (arrays, and numbers alone on their
    line) as the cell's print() calls print, the k-th value is the k-th printed (the queue is used up). Numbers
    alone on a line are read here (nowhere else is a bare number a value)."""
    arrays = [(f.line, f) for _, kind, f in items if kind == 1 and f.style != "scalar"
              and not re.search(r"(?:\bSize|\bshape)\s*[(:=]?\s*$", f.label_text)]   # torch.Size([2, 1, 2]) is no value
    numbers = []
    for k, l in enumerate(lines):
        t = l.strip()
        if _BARE_NUMBER.fullmatch(t) and (n := parse_number(t.replace("−", "-"))) is not None:
            numbers.append((first + k, n, t))
    values = sorted([(line, "array", f) for line, f in arrays] + [(line, "number", (n, t)) for line, n, t in numbers],
                    key=lambda v: v[0])
    if len(values) != len(out.queue):
        return {}
    aligned = {}
    for (line, kind, v), label in zip(values, out.queue):
        if label is None:
            continue
        if kind == "array":
            aligned[line] = label
            continue
        (number, decimals), text = v
        a = np.empty((), dtype=object)
        a[()] = number
        value = Value(a, np.array(decimals))
        if label.quantity == "window_sum" and len(label.terms) >= 2:
            out.sums.append(WrittenSum(line, text, label.terms, value))
        elif label.quantity in SCALAR_QUANTITIES + BIAS or label.index is not None:
            out.events.append(Reading(label, value, line, text, "scalar"))
        elif label.quantity == "skip":
            out.skipped.append(f"line {line}: {text} — {label.reason}")
    out.queue = []
    return aligned


def _echoed_numbers(prog, prompts: list[int], lines: list[str], first: int, out: Collected) -> set[int]:
    """`>>> print(np.sum(w * x))` or `>>> loss.item()` then a bare number on the next line: that number is the
    value the prompt shows (a bare number is no value anywhere else). The prompt lines used."""
    used = set()
    for p in prompts:
        label = prog.echo.get(p)
        if label is None or label.quantity not in ("window_sum", "loss"):
            continue
        for k in range(p + 1 - first, len(lines)):
            t = lines[k].strip()
            if not t or t.startswith("#"):
                continue
            number = parse_number(t) if first + k not in prompts else None
            if number is not None:
                a = np.empty((), dtype=object)
                a[()] = number[0]
                value = Value(a, np.array(number[1]))
                if label.quantity == "window_sum":
                    out.sums.append(WrittenSum(first + k, t, label.terms, value))
                else:
                    out.events.append(Reading(label, value, first + k, t, "scalar"))
                used.add(p)
            break
    return used


def _echo(prog, prompts: list[int], echoed: set[int], line: int) -> Label | None:
    """In a REPL transcript the first value below a prompt line is what that line shows (`>>> m(x)` then
    `tensor(...)`; `>>> m.weight` then `Parameter containing:` and the tensor)."""
    above = [k for k in prompts if k < line]
    if not above or above[-1] in echoed or above[-1] not in prog.echo:
        return None
    echoed.add(above[-1])
    return prog.echo[above[-1]]


def _found(f: Found, out: Collected, context, code: bool, echo: Label | None = None) -> bool:
    """Add what a plain-text value says; True when it was used (or skipped on purpose). `echo`: the label of
    the REPL prompt line whose value this is."""
    if f.value is not None and f.value.array.size <= 1 and re.search(r"(?:\bIn|\bOut|^)\s*$", f.label_text) \
            and re.fullmatch(r"\s*\[\s*\d*\s*\]:?.*", f.text) and re.search(r"\b(?:In|Out)\s*$", f.label_text):
        return True    # a notebook prompt "In [86]:" is not a value
    if code and re.search(r"[\w\])]$", f.label_text) and f.text.lstrip().startswith("["):
        return True    # x[0][0], w[:2, 1]: indexing in code, not a value
    label = None
    label_text = _chain_start(f.label_text.replace("\u2063", " ").strip())
    bare = _unquoted(label_text.rstrip(":=：").strip())
    if code:
        bare = re.sub(r"^(?:#+|//+|--|%)\s*", "", bare)   # `# dd.grad = [...]`: a comment states a value
    written = _quoted(label_text)   # the label as written (for a value that cannot be read)
    if code and _SIZE_NAME.search(bare):
        return True   # `kernel_shape=[3, 3]`, `pads=[1, 1, 1, 1]`, `input_sizes = [1, 2, 3, 3]`: sizes and geometry
    if bare and re.fullmatch(r"[A-Za-z_][\w.]*(\[\d+\])*", bare):
        label = _named(out, bare, f.line) or latex_label(bare, bound=out.bound) or prose_label(bare)
        written = bare
    elif bare and len(bare) <= 40 and re.fullmatch(r"[^\s=]+", bare) and \
            latex_label(to_latexish(bare), bound=out.bound) is not None:   # a symbol: W', Ŷ, ∂L/∂W, W^(1)
        label = latex_label(to_latexish(bare), bound=out.bound)
        written = bare
    elif label_text:
        if f.style != "scalar" and not re.search(r"(=|:|：|\bis|\bare|≈)\s*$", label_text):
            return False  # an array in the middle of a sentence ("[1]") labels nothing
        label = prose_label(label_text)
        if label is None and code:
            m = re.search(r"([A-Za-z_][\w.]*)\s*=\s*$", label_text)
            label = _named(out, m.group(1), f.line) if m else None
        if label is None:
            label = loose_label(label_text, out.program, f.line)
    else:
        if f.style == "scalar" and echo is None:
            return False
        if echo is not None and echo.quantity != "skip":
            label, written = echo, "the value the code printed here"
        elif code and f.previous:
            m = _SHELL.match(f.previous)
            c = _COMMENT.match(f.previous)
            label = _named(out, m.group(1), f.line) if m else prose_label(c.group(1)) if c else None
            written = m.group(1) if m else _quoted(f.previous)
        if label is None and f.previous and (_LABEL_END.search(f.previous) or len(f.previous) <= 60) \
                and not scan(f.previous, f.line - 1) \
                and not (code and out.program is not None and f.line - 1 in out.program.lines):
            label = prose_label(f.previous) or loose_label(f.previous, out.program, f.line)
            written = _quoted(f.previous)   # "Kernel:" (or a short heading) on the line above, in a text block
        if label is None and echo is not None:   # printed by the code, and not one of the layer's quantities
            label, written = echo, "the value the code printed here"
        if label is None and code and out.queue:   # the cell printed several values: the next one
            label = out.queue.pop(0)
            written = "the value printed next"
            if label is None:
                return True
        if label is None:
            label = _context_label(context)
            written = _quoted(context[0]) if context else ""
    if label is not None and label.quantity == "window_sum":   # print(np.sum(w * x)) printed this number
        if f.value is not None and not f.value.array.ndim and len(label.terms) >= 2:
            out.sums.append(WrittenSum(f.line, f.text, label.terms, f.value))
        return True
    if f.line in out.by_line:   # --role 12=input: the matrix of line 12, whatever its label
        label, written = out.by_line[f.line], f"line {f.line}"
    if label is not None and code and out.queue and out.queue[0] == label and written != "the value printed next":
        out.queue.pop(0)   # `print('dd', dd)` printed "dd tensor(...)": its text named the queue's head
    upd = _SELF_UPDATE.search(f.label_text)
    if upd and label is not None and label.quantity in ("filter", "bias") and label.index is None:
        label = loose_label(f.label_text) or label   # W := W − η·∇L = …: the updated filter
    if f.value is None:   # an array that could not be read
        _unreadable(out, label, f.line, f.text, written, f.unreadable, _of_a_matrix(f.unreadable))
        return label is not None
    if label is None:
        if f.value.array.ndim:
            _no_label(out, f.line, f.text, f.value)
        elif f.style == "scalar" and label_text:   # "… the first output is 0×0 + 1×1 + 3×2 + 4×3 = 19"
            parts = [p for p in re.split(r"[=:：]", label_text) if p.strip()]
            _written_sum(out, [re.split(r"(?<=[^\d\s()+\-−×·*.])\s", parts[-1])[-1]] if parts else [],
                         f.value, f.line, f.text)
        return f.value.array.ndim > 0
    if f.style == "scalar" and label.quantity not in SCALAR_QUANTITIES + BIAS and label.index is None:
        return False
    if label.quantity == "loss_or_error" and f.style == "scalar":
        label = Label("loss")
    if f.style in ("numpy", "torch") and int(f.value.decimals.max(initial=-1)) >= 4 or \
            (label_text and prose_label(label_text) is not None and prose_label(label_text).approx):
        label = Label(label.quantity, label.index, label.iteration, label.next_iteration, label.initial,
                      label.pre_activation, label.reason, approx=True)
    return _add(out, label, f.value, f.line, f.text, f.style, context)


_SUBSCRIPTS = re.compile(r"[_^](?:\{[^{}]*\}|\w+)|\\[A-Za-z]+|[₀-₉⁰-⁹]")
_ENTRY = re.compile(r"\bentry '(.+?)'")
_SYMBOL = re.compile(r"^\s*(?:\\(?:mathbf|boldsymbol|mathrm)\s*\{\s*[A-Za-z]\s*\}|[A-Za-z])\s*$")
_LABEL_END = re.compile(r"(?:=|:|：|\bis|\bare|≈)\s*$")
_CLAUSE = re.compile(r".*(?:[,;:]|\.(?!\d)|\b(?:so|then|thus|hence|and|is|are|gives|get)\b)\s", re.IGNORECASE)


def _chain_start(label_text: str) -> str:
    """In a chain `A = expression = value`, the label is A, the leftmost side ("W_new = W - lr * dL/dW =" ->
    "W_new ="), as in LaTeX. The chain starts after the clause it is part of ("With η = 0.1, W' =" -> "W' =")."""
    sides, _ = split_relations(label_text)
    if len(sides) < 3 or sides[-1].strip():
        return label_text
    for k in range(len(sides) - 2, -1, -1):
        m = _CLAUSE.match(sides[k])
        start = sides[k][m.end():].strip() if m else ""
        if start or k == 0:
            return (start or sides[0].strip()) + " ="
    return label_text


_OPENER = re.compile(r"(?:\b(?:torch|np|numpy|jnp|tf)\.)?\b(?:tensor|array|Tensor|asarray|constant)\s*\(\s*$")
_SHAPE_NOTE = re.compile(r"\(\s*\d+\s*(?:[×x,]\s*\d+\s*)*\)\s*$")
_ASSIGN_END = re.compile(r"\s*(?::=|←|<-|=|:|≈)\s*$")
_NAME_END = re.compile(r"([A-Za-z_\u0370-\u03ff][\w.\u0370-\u03ff']*(?:\[\d+\])*)\s*$")


_SELF_UPDATE = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\s*(?::=|←|<-|=)\s*\1\s*[-−+]")


def loose_label(text: str, program=None, line: int | None = None) -> Label | None:
    """The name written just before a value, when the whole left side is not a label: "Forward: out =",
    "db: tensor(", "Input image X (4×4):", "we update: W :=". A printout's opener (`tensor(`, `np.array(`), a
    shape note and the assignment sign are set aside; the last name is read as code or as a symbol."""
    t = text.replace("\u2063", " ").strip()
    upd = _SELF_UPDATE.search(t)
    if upd:   # W := W − η·∇L, w ← w - lr*dw, w = w - 0.1*g: the value assigned is the updated one
        base = code_label(upd.group(1)) or latex_label(upd.group(1))
        if base is not None and base.quantity in ("filter", "bias"):
            return Label("updated_" + base.quantity)
    for _ in range(3):
        t = _OPENER.sub("", t).rstrip()
        t = _ASSIGN_END.sub("", t).rstrip()
        t = _SHAPE_NOTE.sub("", t).rstrip()
    m = _NAME_END.search(t)
    if not m or m.group(1).lower() in _NOT_NAMES:
        return None
    name = m.group(1)
    known = program.label(name, line) if program is not None else None
    role = bound_role(t[:m.start()]) if known is None and len(name) <= 3 else None
    if role is not None:   # "Matriz de entrada A", "the kernel K:": the words before the symbol say what it is
        return Label(role)
    return known or code_label(name) or latex_label(name)


# words that end sentences before a value and name nothing
_NOT_NAMES = {"is", "are", "be", "the", "of", "to", "as", "gives", "get", "we", "then", "so", "result", "results",
              "now", "equals", "and", "with", "by", "at", "in", "a", "an", "it", "this", "that", "here"}


def _unquoted(s: str) -> str:
    """'Kernel' and "w" lose their quotes; a prime (W') stays."""
    return s[1:-1].strip() if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"" else s


def _clip(t: str, n: int = 70) -> str:
    t = " ".join(t.split())
    return t if len(t) <= n else t[: n - 1] + "…"
