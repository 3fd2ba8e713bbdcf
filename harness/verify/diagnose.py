"""The mistake catalogue. Each hypothesis is recomputed exactly from the person's own inputs to the step and
reported only when it reproduces every claimed number (within the rounding the person wrote)."""

from __future__ import annotations

from fractions import Fraction
from itertools import combinations

import numpy as np

from . import fmt
from . import terms as T
from .rounding import entry_match, half_band, match_array, mismatches, noise_of
from .truth import StepCheck, compute
from .verdict import Diagnosis

GRADIENTS = ("grad_output", "grad_filter", "grad_input", "grad_bias")
LOSS_SCALE = {"mean": lambda n: Fraction(1, n), "sum": lambda n: Fraction(1), "half_sum": lambda n: Fraction(1, 2),
              "half_mean": lambda n: Fraction(1, 2 * n)}
LOSS_TEXT = {"mean": "the mean (1/N)·Σ(Ŷ−Y)²", "sum": "the sum Σ(Ŷ−Y)²", "half_sum": "½·Σ(Ŷ−Y)²",
             "half_mean": "(1/2N)·Σ(Ŷ−Y)²"}
MAX_SUBSETS_KEYS = 16      # every set of missing positions up to this many keys; beyond, a pruned search


def user_index(check: StepCheck, flat: int) -> tuple[int, ...]:
    shape = check.claim.user_shape
    return tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ()


def _claimed(check: StepCheck) -> list[int]:
    return [i for i, v in enumerate(check.claim.value.reshape(-1)) if v is not None]


def reproduces(check: StepCheck, h) -> bool:
    if h is None or np.shape(h) != check.claim.value.shape:
        return False
    return match_array(check.claim.value, check.claim.decimals, h) is not None


def _name(q: str) -> str:
    return T.SYMBOL.get(q, q)


# --- the catalogue --------------------------------------------------------------------------------

def sign_flip(p, c: StepCheck, sign: int):
    if c.quantity not in GRADIENTS or not reproduces(c, -c.person):
        return None
    if c.quantity == "grad_output":
        msg = ("every entry has the opposite sign: this is Y − Ŷ (error = target − output), the negative of "
               "∂L/∂Ŷ" if sign == 1 else "every entry has the opposite sign of the backward signal")
    else:
        msg = f"{_name(c.quantity)} is negated entry for entry (as if from Y − Ŷ instead of Ŷ − Y)"
    return Diagnosis("sign_flip", msg)


def update_sign(p, c: StepCheck, sign: int):
    if not c.quantity.startswith("updated_") or p.lr is None:
        return None
    h = compute(c.quantity, p, c.base, -sign)
    if not reproduces(c, h):
        return None
    what = "W" if c.quantity == "updated_filter" else "b"
    return Diagnosis("update_sign", f"the update went uphill: {what} + η·∂L/∂{what} instead of {what} − η·∂L/∂{what}")


def _named_factors(p) -> dict[Fraction, list[str]]:
    n = int(np.prod(p.out_shape))
    out: dict[Fraction, list[str]] = {}
    if p.loss in LOSS_SCALE:
        for other, scale in LOSS_SCALE.items():
            if other != p.loss:
                f = scale(n) / LOSS_SCALE[p.loss](n)
                out.setdefault(f, []).append(f"{LOSS_TEXT[other]} instead of {LOSS_TEXT[p.loss]}")
    for f, text in ((Fraction(n), f"missing the 1/N (N = {n} outputs)"), (Fraction(1, n), f"an extra 1/N (N = {n})"),
                    (Fraction(2), "an extra factor 2"),
                    (Fraction(1, 2), "missing the factor 2 from the derivative of the square")):
        out.setdefault(f, []).append(text)
    out.pop(Fraction(1), None)
    return out


def scale(p, c: StepCheck, sign: int):
    q = c.quantity
    claimed = _claimed(c)
    cv = c.claim.value.reshape(-1)
    if q.startswith("updated_"):
        if p.lr is None:
            return None
        old = c.base["W" if q == "updated_filter" else "b"]
        step = c.base["grad_filter" if q == "updated_filter" else "grad_bias"] * (p.lr * sign)
        sf, of = step.reshape(-1), old.reshape(-1)
        pivots = [i for i in claimed if sf[i] != 0]
        if not pivots:
            return None
        i = max(pivots, key=lambda j: abs(sf[j]))
        for k in _candidates((of[i] - cv[i]) / sf[i]):
            if k not in (0, 1, -1) and reproduces(c, old - step * k):
                return Diagnosis("scale", f"the update step is {fmt.num(k)}× η·∂L/∂W: as if η = {fmt.num(k * p.lr)} "
                                          f"instead of {fmt.num(p.lr)}", (("factor", fmt.num(k)),))
        return None
    if q not in ("loss", *GRADIENTS):
        return None
    ref = c.person
    for f, why in _named_factors(p).items():
        if reproduces(c, ref * f):
            return Diagnosis("scale", f"off by a factor {fmt.num(f)}: {'; or '.join(why)}", (("factor", fmt.num(f)),))
    rf = ref.reshape(-1)
    pivots = [i for i in claimed if rf[i] != 0]
    if len(pivots) < 2:
        return None      # one number alone: any wrong value is "a factor" of the right one; not a diagnosis
    i = max(pivots, key=lambda j: abs(rf[j]))
    for k in _candidates(cv[i] / rf[i]):
        if k not in (0, 1, -1) and reproduces(c, ref * k):
            return Diagnosis("scale", f"every entry is {fmt.num(k)}× the right value", (("factor", fmt.num(k)),))
    return None


def _candidates(k: Fraction) -> list[Fraction]:
    """The exact ratio and its simplest nearby fractions (claims are often rounded)."""
    out = [k]
    for d in (1, 2, 4, 8, 10, 16, 100):
        out.append(k.limit_denominator(d))
    return list(dict.fromkeys(out))


def flipped_kernel(p, c: StepCheck, sign: int):
    if c.quantity not in ("output", "grad_filter", "grad_input"):
        return None
    other = "convolution" if p.operation == "cross_correlation" else "cross_correlation"
    h = compute(c.quantity, p.with_(operation=other), c.base, sign)
    if not reproduces(c, h):
        return None
    if c.quantity == "grad_input":
        msg = ("∂L/∂X matches the kernel " + ("not rotated by 180°: the full correlation of δ needs the flipped kernel"
                                             if other == "convolution" else "rotated once too often"))
    else:
        msg = (f"matches {'a true convolution (kernel flipped 180°)' if other == 'convolution' else 'cross-correlation (kernel not flipped)'}"
               f" instead of {p.operation.replace('_', '-')}")
    return Diagnosis("flipped_kernel", msg, (("operation", other),))


def _swap(a):
    return None if a is None or a.ndim < 2 or a.shape[-1] != a.shape[-2] else np.swapaxes(a, -1, -2)


def transposed(p, c: StepCheck, sign: int):
    q = c.quantity
    if q == "loss":
        return None
    h = _swap(c.person)
    if h is not None and reproduces(c, h):
        return Diagnosis("transposed", f"{_name(q)} is the transpose of the right one (rows and columns swapped)")
    swap_in = {"output": "W", "grad_input": "W", "grad_filter": "x"}.get(q)
    if swap_in and _swap(c.base[swap_in]) is not None:
        h = compute(q, p, dict(c.base, **{swap_in: _swap(c.base[swap_in])}), sign)
        if reproduces(c, h):
            return Diagnosis("transposed", f"computed with {'the filter' if swap_in == 'W' else 'the input'} transposed")
    return None


def partial_sum(p, c: StepCheck, sign: int):
    q = c.quantity
    if q not in ("output", "loss", "grad_filter", "grad_input", "grad_bias") or c.base.get("delta" if q.startswith("grad") else "x") is None:
        return None
    sums = T.sums(p, q, c.base)
    if sums is None:
        return None
    claimed = _claimed(c)
    keys = list(dict.fromkeys(t.key for e in claimed for t in sums.terms[e] if t.value != 0))
    if len(keys) < 2:
        return None
    V = [[sum((t.value for t in sums.terms[e] if t.key == k), Fraction(0)) for k in keys] for e in claimed]
    full = [sum((t.value for t in sums.terms[e]), Fraction(0)) for e in claimed]
    with np.errstate(all="ignore"):  # values past float64 are ±inf there: no candidate, and no warning
        found = _common_missing(c, claimed, keys, V, full)
    kind = sums.key_kind
    if found is not None:
        pos = [keys[i] for i in found]
        example = next((e for e in claimed if any(t.key in pos and t.value != 0 for t in sums.terms[e])), claimed[0])
        kept = {t.key for t in sums.terms[example]} - set(pos)
        ix = c.claim.ix
        written = T.written(sums, example, user_index(c, example), keep=kept, ix=ix)
        msg = (f"the sum leaves out {kind}{'s' if len(pos) > 1 else ''} {fmt.names([ix.pos(k) for k in pos])}"
               + (" in every entry" if len(claimed) > 1 else "") + f"; e.g. you have {written}{ix.mark}")
        return Diagnosis("partial_sum", msg, (("missing", [list(k) for k in pos]),))   # 0-based, as all JSON indices
    return _per_entry_missing(c, sums)


def _common_missing(c: StepCheck, claimed, keys, V, full):
    """The smallest set of keys whose terms, left out of every entry, give the claimed values."""
    claim = c.claim.value.reshape(-1)
    decs = c.claim.decimals.reshape(-1)
    noise = noise_of(c.claim.value)
    K = len(keys)
    Vf = np.array([[fmt.to_float(v) for v in row] for row in V])   # ±inf past float64: no candidate there
    fullf = np.array([fmt.to_float(v) for v in full])
    cf = np.array([fmt.to_float(claim[e]) for e in claimed])
    tol = np.array([fmt.to_float(half_band(int(decs[e])) + noise) for e in claimed]) + 1e-9 * (1 + np.abs(cf))
    if K <= MAX_SUBSETS_KEYS:
        masks = ((np.arange(1, 2 ** K - 1)[:, None] >> np.arange(K)) & 1).astype(bool)
        pred = fullf[None, :] - masks.astype(float) @ Vf.T
        hits = np.nonzero(np.all(np.abs(pred - cf[None, :]) <= tol[None, :], axis=1))[0]
        candidates = sorted(([i for i in range(K) if masks[r, i]] for r in hits), key=len)
    elif K <= MAX_SPLIT_KEYS:
        need = [full[j] - claim[e] for j, e in enumerate(claimed)]
        candidates = sorted(_exact_meet_in_the_middle(V, need) or _meet_in_the_middle(Vf, fullf - cf, tol), key=len)
    else:
        candidates = sorted(_search(Vf, fullf - cf, tol), key=len)
    for chosen in candidates:
        if all(entry_match(claim[e], int(decs[e]), full[j] - sum((V[j][i] for i in chosen), Fraction(0)), noise)
               is not None for j, e in enumerate(claimed)):
            return chosen
    return None


MAX_SPLIT_KEYS = 40   # 2 × 2^20 subset sums at most


def _subset_sums(keys: np.ndarray) -> np.ndarray:
    """Entry r of the result is the sum of the keys whose bits are set in r (2^len entries, keys' dtype)."""
    sums = np.zeros(1, dtype=keys.dtype)
    for k in keys:
        sums = np.concatenate([sums, sums + k])
    return sums


def _bits(idx: np.ndarray, width: int) -> np.ndarray:
    return ((idx[:, None] >> np.arange(width)) & 1).astype(np.int64)


def _join_halves(key: np.ndarray, target, tol, confirm, max_hits: int = 200, max_pairs: int = 2_000_000):
    """Meet in the middle: every subset of each half of the columns, summed on one key per column; the
    halves joined by binary search (|sum − target| ≤ tol), and each pair (a, bs) confirmed on every
    row by `confirm(a, bs) -> mask`. Exhaustive up to the caps, so the smallest set is among the hits."""
    K = key.size
    half = K // 2
    A, B = _subset_sums(key[:half]), _subset_sums(key[half:])
    order = np.argsort(B, kind="stable")
    b_sorted = B[order]
    with np.errstate(over="ignore"):
        need = target - A
        lo = np.searchsorted(b_sorted, need - tol, side="left")
        hi = np.searchsorted(b_sorted, need + tol, side="right")
    hits, pairs = [], 0
    for a in np.nonzero(hi > lo)[0]:
        bs = order[lo[a]:hi[a]]
        pairs += bs.size
        if pairs > max_pairs:
            break
        for b in bs[confirm(a, bs)]:
            chosen = [i for i in range(half) if a >> i & 1] + [half + i for i in range(K - half) if b >> i & 1]
            if 0 < len(chosen) < K:
                hits.append(chosen)
        if len(hits) >= max_hits:
            break
    return hits


def _exact_meet_in_the_middle(V, need):
    """Sets of columns of V (Fractions) summing exactly to `need` in every row. The rows are scaled to
    integers and hashed into one 64-bit key per column (a random linear combination, mod 2⁶⁴), so two
    subsets collide only when they agree in every row. [] when the integers would not fit in int64
    (then the float search with tolerances runs)."""
    from math import lcm
    K = len(V[0])
    denom = lcm(*(v.denominator for row in V for v in row), *(n.denominator for n in need))
    Vi = [[int(v * denom) for v in row] for row in V]
    ni = [int(n * denom) for n in need]
    if max(max(abs(v) for row in Vi for v in row), max(abs(n) for n in ni)) * (K + 1) >= 2 ** 62:
        return []
    Vi, ni = np.array(Vi, dtype=np.int64), np.array(ni, dtype=np.int64)
    weights = (np.random.default_rng(0).integers(1, 2 ** 62, Vi.shape[0], dtype=np.int64) | 1).astype(np.uint64)
    with np.errstate(over="ignore"):
        key = (weights[:, None] * Vi.astype(np.uint64)).sum(axis=0, dtype=np.uint64)
        target = (weights * ni.astype(np.uint64)).sum(dtype=np.uint64)
    half = K // 2

    def confirm(a, bs):   # exact, in int64
        rows = Vi[:, :half] @ _bits(np.array([a]), half)[0] + _bits(bs, K - half) @ Vi[:, half:].T
        return np.all(rows == ni[None, :], axis=1)
    return _join_halves(key, target, np.uint64(0), confirm)


def _meet_in_the_middle(Vf: np.ndarray, target: np.ndarray, tol: np.ndarray):
    """The same within tolerances (rounded claims), keyed on one random positive combination of the rows."""
    K = Vf.shape[1]
    half = K // 2
    weights = np.random.default_rng(0).uniform(1.0, 2.0, Vf.shape[0])

    def confirm(a, bs):
        rows = Vf[:, :half] @ _bits(np.array([a]), half)[0] + _bits(bs, K - half) @ Vf[:, half:].T
        return np.all(np.abs(rows - target[None, :]) <= tol[None, :], axis=1)
    return _join_halves(weights @ Vf, weights @ target, weights @ tol, confirm)


def _search(Vf: np.ndarray, target: np.ndarray, tol: np.ndarray, max_nodes: int = 200_000, max_hits: int = 20):
    """Sets of columns of Vf summing to `target` (per row, within tol): depth-first, pruned by the range
    the remaining columns can still reach in every row."""
    K = Vf.shape[1]
    pos = np.concatenate([np.cumsum(np.clip(Vf, 0, None)[:, ::-1], axis=1)[:, ::-1], np.zeros((Vf.shape[0], 1))], axis=1)
    neg = np.concatenate([np.cumsum(np.clip(Vf, None, 0)[:, ::-1], axis=1)[:, ::-1], np.zeros((Vf.shape[0], 1))], axis=1)
    hits: list[list[int]] = []
    nodes = 0
    stack = [(0, target.copy(), [])]
    while stack and nodes < max_nodes and len(hits) < max_hits:
        i, rest, chosen = stack.pop()
        nodes += 1
        if np.all(np.abs(rest) <= tol):
            if 0 < len(chosen) < K:
                hits.append(chosen)
            continue
        if i == K or np.any(rest > pos[:, i] + tol) or np.any(rest < neg[:, i] - tol):
            continue
        stack.append((i + 1, rest, chosen))
        stack.append((i + 1, rest - Vf[:, i], chosen + [i]))
    return hits


def _per_entry_missing(c: StepCheck, sums):
    """Different terms left out of different entries (each wrong entry explained by ≤ 3 missing terms)."""
    claim, decs = c.claim.value.reshape(-1), c.claim.decimals.reshape(-1)
    noise = noise_of(c.claim.value)
    wrong = mismatches(c.claim.value, c.claim.decimals, c.person)
    if not wrong:
        return None
    found = []
    for e in wrong:
        terms = [t for t in sums.terms[e] if t.value != 0]
        total = sum((t.value for t in sums.terms[e]), Fraction(0))
        hit = None
        for r in range(1, min(3, len(terms) - 1) + 1):
            for comb in combinations(terms, r):
                if entry_match(claim[e], int(decs[e]), total - sum((t.value for t in comb), Fraction(0)), noise):
                    hit = comb
                    break
            if hit:
                break
        if hit is None:
            return None
        found.append((e, hit))
    ix = c.claim.ix
    parts = [f"{_name(c.quantity)}{ix.sub(user_index(c, e))} leaves out "
             f"{fmt.names([ix.pos(t.key) + ' (' + '·'.join(fmt.factor(f) for f in t.factors) + ')' for t in hit])}"
             for e, hit in found]
    return Diagnosis("partial_sum", "terms missing from the sum: " + "; ".join(parts) + ix.mark,
                     (("missing_terms", {str(list(user_index(c, e))): [list(t.key) for t in hit] for e, hit in found}),))


def arithmetic(p, c: StepCheck, sign: int):
    claimed = _claimed(c)
    wrong = mismatches(c.claim.value, c.claim.decimals, c.person)
    if len(claimed) < 2 or not 1 <= len(wrong) <= max(1, len(claimed) // 3):
        return None
    ref = c.person.reshape(-1)
    ix = c.claim.ix
    parts = [f"{_name(c.quantity)}{ix.sub(user_index(c, e))} is {fmt.num(c.claim.value.reshape(-1)[e])}, "
             f"should be {fmt.num(ref[e])}" for e in wrong]
    return Diagnosis("arithmetic", ("an arithmetic slip: " if len(wrong) == 1 else f"{len(wrong)} entries off: ")
                     + "; ".join(parts) + ix.mark,
                     (("entries", [{"index": list(user_index(c, e)), "claimed": fmt.num(c.claim.value.reshape(-1)[e]),
                                    "right": fmt.num(ref[e])} for e in wrong]),))


CATALOGUE = (sign_flip, update_sign, scale, flipped_kernel, transposed, partial_sum)


def diagnose(p, c: StepCheck, sign: int = 1) -> list[Diagnosis]:
    """Every catalogue entry that reproduces the claim; `arithmetic` only when nothing else does."""
    if c.person is None:
        return []
    found = [d for d in (f(p, c, sign) for f in CATALOGUE) if d is not None]
    if not found:
        d = arithmetic(p, c, sign)
        if d is not None:
            found.append(d)
    return found


def correct_sums(p, c: StepCheck, limit: int = 6) -> tuple[str, ...]:
    """The right sums, term by term, for the wrong entries (from the true values)."""
    if c.quantity not in ("output", "loss", "grad_filter", "grad_input", "grad_bias") or c.truth is None:
        return ()
    sums = T.sums(p, c.quantity, c.truth_base)
    if sums is None:
        return ()
    if c.quantity == "loss":
        return (T.written(sums, 0, (), total=c.truth[()]),)
    wrong = mismatches(c.claim.value, c.claim.decimals, c.truth)
    truth = c.truth.reshape(-1)
    return tuple(T.written(sums, e, user_index(c, e), total=truth[e], ix=c.claim.ix)
                 + (c.claim.ix.mark if c.claim.user_shape else "")
                 for e in wrong[:limit])
