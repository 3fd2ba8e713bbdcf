"""How numbers, symbols and matrices are written: LaTeX (for Markdown and .tex) or plain Unicode.

Numbers: a term is always exact (a terminating decimal as such, otherwise a fraction), so the terms
of every sum add up exactly as printed. A final value is exact when it is a terminating decimal of at
most `EXACT_PLACES` places; otherwise the exact fraction is followed by `≈` and the value rounded to
`ROUND_PLACES` places (more for small values), which `verify` accepts as a rounded claim. Rounding
never meets a tie: a value with a 5 in the first dropped place and nothing after it terminates
within `EXACT_PLACES`, so it is printed exactly.
"""

from __future__ import annotations

from fractions import Fraction

EXACT_PLACES = 16
ROUND_PLACES = 6
MAX_FRACTION_CHARS = 40   # longer exact fractions are left out of final values (the rounded value stays)


def places(f: Fraction) -> int | None:
    """Decimal places of f when it terminates, else None."""
    d, twos, fives = f.denominator, 0, 0
    while d % 2 == 0:
        d, twos = d // 2, twos + 1
    while d % 5 == 0:
        d, fives = d // 5, fives + 1
    return max(twos, fives) if d == 1 else None


def decimal_str(f: Fraction, k: int) -> str:
    """f written with k places (f must terminate within k places, or be rounded to them first)."""
    scaled = f * 10 ** k
    assert scaled.denominator == 1, (f, k)
    digits = str(abs(scaled.numerator)).rjust(k + 1, "0")
    body = digits if k == 0 else f"{digits[:-k]}.{digits[-k:]}"
    return ("-" if f < 0 else "") + body


def rounded(f: Fraction) -> str:
    """f rounded to ROUND_PLACES places, or to 5 significant digits when it is smaller than that shows."""
    k = ROUND_PLACES
    while f and abs(f) < Fraction(1, 10 ** (k - 4)) and k < 60:
        k += 1
    exact = places(f)
    if exact is not None and exact <= k + 1:   # would be a tie (or needs no rounding): print it exactly
        return decimal_str(f, exact)
    return decimal_str(Fraction(round(f * 10 ** k), 10 ** k), k)


def is_exact_decimal(f: Fraction) -> bool:
    k = places(f)
    return k is not None and k <= EXACT_PLACES


def _short(idx) -> bool:
    """Two one-digit indices are written without a comma (W_{01}); anything else with commas."""
    return len(idx) <= 2 and all(isinstance(i, int) and i < 10 for i in idx)


def hjoin_lines(parts: list[str]) -> str:
    """Multi-line pieces side by side, each centred on the same middle row."""
    blocks = [p.split("\n") for p in parts]
    height = max(len(b) for b in blocks)
    mid = (height - 1) // 2
    rows = [""] * height
    for b in blocks:
        width = max(len(line) for line in b)
        top = mid - (len(b) - 1) // 2
        for r in range(height):
            rows[r] += (b[r - top] if 0 <= r - top < len(b) else "").ljust(width)
    return "\n".join(r.rstrip() for r in rows)


class Tex:
    """LaTeX math (used inside $…$ / $$…$$ and align environments)."""

    name = "tex"
    cdot, approx, minus, odot = r" \cdot ", r" \approx ", " - ", r" \odot "
    eta, sigma, partial_l = r"\eta", r"\sum", r"\partial L"

    def frac(self, a, b) -> str:
        return rf"\frac{{{a}}}{{{b}}}"

    def num(self, f: Fraction) -> str:
        if is_exact_decimal(f):
            return decimal_str(f, places(f))
        body = self.frac(abs(f.numerator), f.denominator)
        return "-" + body if f < 0 else body

    def factor(self, f: Fraction) -> str:
        s = self.num(f)
        return f"({s})" if f < 0 else s

    def final(self, f: Fraction) -> str:
        """The last side of an equation. Starts with the ≈ sign when the exact fraction is too long to
        show: renderers then join it with ≈ instead of =."""
        if is_exact_decimal(f):
            return self.num(f)
        exact = self.num(f)
        return (exact + self.approx if len(exact) <= MAX_FRACTION_CHARS else self.approx.lstrip()) + rounded(f)

    def cell(self, f: Fraction) -> str:
        return self.num(f) if is_exact_decimal(f) else rounded(f)

    def matrix(self, rows: list[list[str]]) -> str:
        return r"\begin{bmatrix} " + r" \\ ".join(" & ".join(r) for r in rows) + r" \end{bmatrix}"

    def sub(self, base: str, idx: tuple[int, ...]) -> str:
        if not idx:
            return base
        sep = "" if _short(idx) else ","
        return f"{base}_{{{sep.join(map(str, idx))}}}"

    def grad(self, of: str) -> str:
        return self.frac(self.partial_l, rf"\partial {of}")

    def hjoin(self, *parts: str) -> str:
        """Pieces written one after the other (matrices side by side in plain text)."""
        return "".join(parts)

    def square(self, s: str) -> str:
        return f"({s})^2"

    def text(self, s: str) -> str:
        return rf"\text{{{s}}}"

    def sym(self, name: str) -> str:
        return {"Yhat": r"\hat{Y}", "W'": "W'", "b'": "b'", "relu": r"\mathrm{ReLU}", "max": r"\max",
                "ind": r"\mathbf{1}", "x": r"\times", "flip": r"\mathrm{rot180}"}.get(name, name)


_SUB = str.maketrans("0123456789,", "₀₁₂₃₄₅₆₇₈₉‚")


class Text(Tex):
    """Plain Unicode text (no LaTeX)."""

    name = "text"
    cdot, approx, minus, odot = " · ", " ≈ ", " − ", " ⊙ "
    eta, sigma, partial_l = "η", "Σ", "∂L"

    def frac(self, a, b) -> str:
        wrap = lambda s: f"({s})" if any(ch in str(s) for ch in " +−-") else str(s)  # noqa: E731
        return f"{wrap(a)}/{wrap(b)}"

    def num(self, f: Fraction) -> str:
        s = decimal_str(f, places(f)) if is_exact_decimal(f) else str(f)
        return s.replace("-", "−")

    def factor(self, f: Fraction) -> str:
        s = self.num(f)
        return f"({s})" if f < 0 or "/" in s else s

    def cell(self, f: Fraction) -> str:
        return super().cell(f).replace("-", "−")

    def final(self, f: Fraction) -> str:
        return super().final(f).replace("-", "−")

    def matrix(self, rows: list[list[str]]) -> str:
        widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
        return "\n".join("[ " + "  ".join(c.rjust(w) for c, w in zip(r, widths)) + " ]" for r in rows)

    def sub(self, base: str, idx: tuple[int, ...]) -> str:
        if not idx:
            return base
        if _short(idx):
            return base + "".join(map(str, idx)).translate(_SUB)
        return f"{base}[{','.join(map(str, idx))}]"

    def grad(self, of: str) -> str:
        return f"∂L/∂{of}"

    def hjoin(self, *parts: str) -> str:
        return hjoin_lines(list(parts))

    def square(self, s: str) -> str:
        return f"({s})²"

    def text(self, s: str) -> str:
        return s

    def sym(self, name: str) -> str:
        return {"Yhat": "Ŷ", "relu": "ReLU", "max": "max", "ind": "1", "x": "×", "flip": "rot180"}.get(name, name)
