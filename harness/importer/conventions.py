"""Conventions a document states, each with the line it was read from.

A loss formula or code line (`\\frac{1}{4}\\sum(Y-\\hat Y)^2`, `((out - y)**2).sum()`) is a strong hint;
words ("mean squared error", "sum of squared errors") are weak ones, used only when no formula says it.
Also: "flip"/"rotate 180°"/"true convolution" -> the convolution operation; "ReLU" -> the activation;
`W_new = W − ∂L/∂W` (no η) -> learning rate 1; "error = target − output" -> the error's sign.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from .labels import Label, code_label, latex_label, normalize


@dataclass(frozen=True)
class Hint:
    name: str       # loss | operation | activation | learning_rate | error | update_sign
    value: object   # "mean" | ("frac", 4) | "convolution" | "relu" | Fraction(1) | "target_minus_output" | "+"
    line: int
    text: str
    strength: int   # 2: a formula or code; 1: words

    def where(self) -> str:
        return f"line {self.line}: {self.text}"


_I = re.IGNORECASE


def _clip(t: str, n: int = 70) -> str:
    t = " ".join(t.split())
    return t if len(t) <= n else t[: n - 1] + "…"


# --- the loss ------------------------------------------------------------------------------------

_SQUARED = re.compile(r"\^\{?2\}?|\*\*2|\\lVert|\\\|")
_COEF = re.compile(r"^(?:\\[dtc]?frac\{1\}\{(?P<d>[^{}]+)\}|\\[dtc]?frac1(?P<d1>\w)|1/\((?P<d3>[^()]+)\)|"
                   r"\(?1/(?P<d2>[\w]+)\)?|"
                   r"(?P<half>0\.5|½|\\tfrac12|\\frac12))")


def classify_loss_formula(latex: str):
    """The loss convention of a formula such as `\\frac{1}{n}\\sum(Y-\\hat{Y})^2`, or None."""
    s = normalize(latex)
    if re.match(r"^MSE\(", s):
        return "mean"
    if re.match(r"^SSE\(", s):
        return "sum"
    summed = bool(re.search(r"\\sum|Σ|∑|\\lVert|\\\||mean", s))
    squared = bool(_SQUARED.search(s))
    coef = _COEF.match(s)
    if not summed and not (squared and "+" in s):
        return None
    if not squared:
        if re.search(r"hat\(|\bO|Z|A|Y", s) and not re.search(r"-", s):
            return "linear" if re.search(r"\\odot|\\circ|\\cdot|\*|G|δ", s) else "linear_ones"
        return None
    if coef is None:
        if re.search(r"\\operatorname\{mean\}|mean", s):
            return "mean"
        after = _divided(s)   # (…)/4, \frac{(…)}{4}: the divisor written after the sum
        if after is not None:
            return _by(after)
        if _OUTSIDE_FACTOR.search(_outside_groups(_POWER.sub("", s))):
            return None   # a factor we do not read ((…) * 0.25, 3(…)): not a convention to trust
        # an unread coefficient in front (\frac{3}{7}\sum…) says nothing we can trust
        return "sum" if re.match(r"^(?:\\sum|Σ|∑|\(|\[|\\left|\\\||\\lVert|[A-Za-z])", s) else None
    if coef.group("half"):
        return "half_sum"
    return _by((coef.group("d") or coef.group("d1") or coef.group("d2") or coef.group("d3") or "").replace(" ", ""))


_POWER = re.compile(r"\^\{?\d+\}?|\*\*\s*\d+")
_OUTSIDE_FACTOR = re.compile(r"[*/]|\\cdot|\\times|\\div|÷|^\d|\d$")


def _outside_groups(s: str) -> str:
    """s with what is inside (), [] and {} removed: the operators at the top level."""
    out, depth = [], 0
    for c in s:
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(c)
    return "".join(out)


def _divided(s: str) -> str | None:
    """The divisor of a sum of squares written before it: `(…)/4`, `[…] / (2n)`, `\frac{(…)^2 + …}{4}`."""
    m = re.fullmatch(r"\\[dtc]?frac\{(?P<body>.+)\}\{(?P<d>[^{}]+)\}", s)
    if m and _outside_groups(m.group("body")).count("}{") == 0 and _SQUARED.search(m.group("body")):
        return m.group("d").replace(" ", "")
    top = _outside_groups(_POWER.sub("", s))
    if top.count("/") != 1 or not re.search(r"/\(?[\w\\]*\)?$", top):
        return None   # one division, and nothing after its divisor
    k = s.rindex("/")
    body, d = s[:k], s[k + 1:]
    if not _SQUARED.search(body) or re.search(r"[*/]|\\cdot|\\times|\\div", _outside_groups(_POWER.sub("", body))):
        return None
    return d.strip("()").replace(" ", "") if d.startswith("(") and d.endswith(")") else d.replace(" ", "")


def _by(d: str):
    """The convention of 1/d in front of (or dividing) a sum of squares."""
    if d == "2":
        return ("frac", 2)
    m = re.fullmatch(r"2(?:\\cdot|\*|\\times)?(\w+)", d)
    if m:
        return "half_mean" if not m.group(1).isdigit() else ("frac", 2 * int(m.group(1)))
    if d.isdigit():
        return ("frac", int(d))
    if re.fullmatch(r"[A-Za-z]{1,3}|\|[^|]+\||\w+\\times\w+|\w+\\cdot\w+", d):
        return "mean"
    return None


_LOSS_WORDS = [
    (re.compile(r"\bhalf\s+(?:the\s+)?mean\s+squared|\b(?:1/2|½)\s*MSE\b", _I), "half_mean"),
    (re.compile(r"\bhalf\s+(?:of\s+)?(?:the\s+)?sum\s+of\s+(?:the\s+)?squared?|"
                r"(?:1/2|½|0\.5)\s*(?:\*|×|·|times)?\s*(?:the\s+)?sum\s+of\s+(?:the\s+)?squared?", _I), "half_sum"),
    (re.compile(r"\bmean[- ]squared[- ]error\b|\bMSE\b|\bmean\s+of\s+(?:the\s+)?squared|"
                r"\baverage\s+(?:of\s+(?:the\s+)?)?squared", _I), "mean"),
    (re.compile(r"\bsum\s+of\s+(?:the\s+)?squared?\s+(?:errors|differences|residuals)|\bSSE\b|"
                r"\bsum\s+of\s+squares\b", _I), "sum"),
    (re.compile(r"\b(?:loss|L)\s*(?:is|=)\s*(?:just\s+|simply\s+)?(?:the\s+)?sum\s+of\s+(?:all\s+)?(?:the\s+)?"
                r"(?:outputs?|output\s+values|entries\s+of\s+the\s+output)\b", _I), "linear_ones"),
]
_CODE_LOSS_LINE = re.compile(r"\b(loss|cost|l|L|J)\s*=", _I)


def _code_loss(line: str):
    if not _CODE_LOSS_LINE.search(line):
        return None
    if re.search(r"mse_loss\s*\(|MSELoss\s*\(", line):
        return "sum" if re.search(r"reduction\s*=\s*['\"]sum", line) else "mean"
    squared = re.search(r"\*\*\s*2|\.pow\(2\)|\bsquare\(|\*\*2", line)
    half = re.search(r"\b0\.5\s*\*|/\s*2\b|\*\s*0\.5\b", line)
    mean = re.search(r"\.mean\(|\bmean\(", line)
    total = re.search(r"\.sum\(|\bsum\(", line)
    if squared and (mean or total):
        return ("half_mean" if mean else "half_sum") if half else ("mean" if mean else "sum")
    if total and not squared and not re.search(r"-", line):
        return "linear" if re.search(r"\*", line) else "linear_ones"
    return None


def resolve_loss(hints: list[Hint], n_out: int) -> tuple[str | None, Hint | None, list[str]]:
    """The loss convention the document states (None: not stated), the hint it came from, and notes
    about hints that disagree with it."""
    resolved = []
    for h in hints:
        if h.name != "loss":
            continue
        v = h.value
        if isinstance(v, tuple):  # \frac{1}{k}: k = number of outputs -> mean, 2 -> ½·sum, 2n -> ½·mean
            k = v[1]
            v = ("half_sum" if k == 2 else "mean" if k == n_out else "half_mean" if k == 2 * n_out else None)
            if v is None:
                continue
        resolved.append((h, v))
    if not resolved:
        return None, None, []
    top = max(h.strength for h, _ in resolved)
    chosen_hint, chosen = next((h, v) for h, v in resolved if h.strength == top)
    # a disagreeing formula, or a convention stated in words that the formula overrides: reported, not dropped
    notes = [f"the loss at {h.where()} reads as {v!r}, but {chosen!r} was taken from {chosen_hint.where()}"
             for h, v in resolved if v != chosen]
    return chosen, chosen_hint, notes


# --- operation, activation, learning rate, error ----------------------------------------------------

_CONV = re.compile(r"\bflip(?:s|ped|ping)?\b|\brotat(?:e|ed|ing|ion)\b.{0,25}?180|\b180\s*(?:°|degrees?|deg\b)|"
                   r"\brot_?\{?180\}?|\btrue\s+convolution\b|\bconvolve2d\b|\bsignal\.convolve|"
                   r"\bmathematical(?:ly)?\s+convolution\b|\bndimage\.convolve\b", _I)
_XCORR = re.compile(r"cross[- ]?correlat|correlate2d|\bno\s+(?:kernel\s+)?flip|\bwithout\s+flipping|"
                    r"\bnot\s+flipped|\b(?:do\s+not|don't|doesn't|never|does\s+not)\s+(?:need\s+to\s+)?flip", _I)
_BACKWARD = re.compile(r"gradient|∂|\\partial|backward|back-?prop|\bdL|upstream|\bdelta\b|δ|full\s+convolution|"
                       r"\bdX\b|input\s+grad|grad", _I)   # (X_grad, w_grad too)
_NEGATION = re.compile(r"\b(?:not|no|without|never|instead\s+of|unlike)\b|n't\b", _I)
_RELU = re.compile(r"\brelu\b|\\max\s*\(\s*0|\bmax\s*\(\s*0\s*,|rectified\s+linear|np\.maximum\(\s*0|"
                   r"clamp\(\s*min\s*=\s*0|\.relu\(", _I)
_NO_ACT = re.compile(r"\bno\s+(?:relu|activation|non-?linearity)|\bwithout\s+(?:a\s+|an\s+|the\s+|any\s+)?"
                     r"(?:relu|activation|non-?linearity)|\b(?:linear|identity)\s+activation", _I)
_HEDGE = re.compile(r"\b(?:skip|omit|ignore|would|normally|usually|typically|in\s+practice|later|could)\b", _I)
_IMPLICIT_LR = re.compile(
    r"\b(?:new|updated)\s+(?:filter|kernel|weights?)\s*(?:=|is)\s*(?:the\s+)?(?:old\s+)?(?:filter|kernel|weights?|W)"
    r"\s*(?P<sign>[-−+])\s*(?:the\s+)?(?:gradient|dW|∂L/∂W|dL/dW)\b|\bsubtract(?:ing)?\s+the\s+(?:whole\s+|full\s+)?gradient\b",
    _I)
_LR_WORDS = re.compile(r"learning\s+rate|\blr\b|η|\\eta|α|\\alpha|step\s+size", _I)
_ERROR_TEXT = re.compile(
    r"\berror\s*(?:=|is|:|\()\s*(?:the\s+)?(?P<a>target|desired(?:\s+output)?|expected(?:\s+output)?|ground\s+truth|"
    r"output|prediction|predicted(?:\s+output)?|actual(?:\s+output)?)\s*(?:[-−]|minus)\s*(?:the\s+)?"
    r"(?P<b>target|desired|expected|ground\s+truth|output|prediction|predicted|actual)", _I)
_ERROR_CODE = re.compile(r"^\s*(?:err|error|e|diff)\s*=\s*\(?\s*(?P<a>[A-Za-z_]\w*)\s*-\s*(?P<b>[A-Za-z_]\w*)\s*\)?\s*$")


def _role(word: str) -> str | None:
    w = word.lower()
    if w.startswith(("target", "desired", "expected", "ground")):
        return "target"
    if w.startswith(("output", "predict", "actual")):
        return "output"
    lab = code_label(word)
    return lab.quantity if lab and lab.quantity in ("target", "output") else None


def _error_sign(a: str | None, b: str | None) -> str | None:
    if a == "target" and b == "output":
        return "target_minus_output"
    if a == "output" and b == "target":
        return "output_minus_target"
    return None


def from_text(text: str, line: int, code: bool = False) -> list[Hint]:
    """Hints in one prose or code line."""
    out: list[Hint] = []
    t = text.strip()
    if not t or len(t) > 2000:
        return out
    if code:
        v = _code_loss(t)
        if v is not None:
            out.append(Hint("loss", v, line, _clip(t), 2))
        m = _ERROR_CODE.match(t)
        if m:
            sign = _error_sign(_role(m["a"]), _role(m["b"]))
            if sign:
                out.append(Hint("error", sign, line, _clip(t), 2))
        m = re.match(r"^\s*([A-Za-z_][\w.]*)\s*(-=|\+=|=\s*\1\s*([-+]))\s*([A-Za-z_][\w.]*)\s*(#.*)?$", t)
        if m and code_label(m.group(1)) and code_label(m.group(1)).quantity in ("filter", "updated_filter"):
            g = code_label(m.group(4))
            if g and g.quantity == "grad_filter":
                out.append(Hint("learning_rate", Fraction(1), line, _clip(t), 2))
        if re.search(r"\b\w+\s*(\+=|=\s*\w+\s*\+)\s*(lr|eta|alpha|learning_rate)\s*\*", t):
            out.append(Hint("update_sign", "+", line, _clip(t), 2))
    else:
        for pattern, v in _LOSS_WORDS:
            if pattern.search(t):
                out.append(Hint("loss", v, line, _clip(t), 1))
                break
        m = _ERROR_TEXT.search(t)
        if m:
            sign = _error_sign(_role(m["a"]), _role(m["b"]))
            if sign:
                out.append(Hint("error", sign, line, _clip(t), 1))
        m = _IMPLICIT_LR.search(t)
        if m and not _LR_WORDS.search(re.sub(r"\bno\s+learning\s+rate", "", t, flags=_I)):
            out.append(Hint("learning_rate", Fraction(1), line, _clip(t), 1))
            if m.group("sign") == "+":
                out.append(Hint("update_sign", "+", line, _clip(t), 1))
    strength = 2 if code else 1
    if _XCORR.search(t):
        out.append(Hint("operation", "cross_correlation", line, _clip(t), strength))
    elif _CONV.search(t) and not _BACKWARD.search(t) and not _NEGATION.search(t):
        out.append(Hint("operation", "convolution", line, _clip(t), strength))
    if _NO_ACT.search(t):
        out.append(Hint("activation", "none", line, _clip(t), strength))
    elif _RELU.search(t) and not _HEDGE.search(t):
        out.append(Hint("activation", "relu", line, _clip(t), strength))
    return out


def from_equation(sides: list[str], label: Label | None, line: int, y_is_output: bool) -> list[Hint]:
    """Hints in a LaTeX equation whose sides are `sides` (LaTeX) and whose left side reads as `label`."""
    out: list[Hint] = []
    text = _clip(" = ".join(sides))
    rhs = [s for s in sides[1:] if s]
    if not rhs:
        return out
    q = label.quantity if label else None
    if q in ("loss", "loss_or_error"):
        v = classify_loss_formula(rhs[0])
        if v is not None:
            out.append(Hint("loss", v, line, text, 2))
    if q in ("error", "loss_or_error"):
        m = re.fullmatch(r"\(?(.+?)-(.+?)\)?", normalize(rhs[0]))
        if m:
            a, b = latex_label(m.group(1), y_is_output), latex_label(m.group(2), y_is_output)
            sign = _error_sign(a and a.quantity, b and b.quantity)
            if sign:
                out.append(Hint("error", sign, line, text, 2))
    if q in ("output", "activation"):
        joined = " ".join(rhs)
        if re.search(r"rot_?\{?180\}?|\\text\{rot|flip", joined, _I):
            out.append(Hint("operation", "convolution", line, text, 2))
    if q == "activation" or re.search(r"ReLU|relu|\\max\s*\(\s*0", " ".join(sides)):
        if q == "activation" or _RELU.search(" ".join(rhs)):
            out.append(Hint("activation", "relu", line, text, 2))
    if q == "updated_filter":
        s = normalize(rhs[0])
        grad = re.search(r"∂|∇|dL|\\delta|δ|grad|G", s)
        if grad and not re.search(r"η|α|lr|learning|\d", s):
            out.append(Hint("learning_rate", Fraction(1), line, text, 2))
        if re.match(r"^[A-Za-z]\w*\+", s):
            out.append(Hint("update_sign", "+", line, text, 2))
    return out
