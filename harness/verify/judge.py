"""`verify(derivation) -> Verdict`: the truth, the person's chain, the diagnoses and the conventions."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..derivation import Derivation, Source
from ..errors import UserError
from . import fmt
from .conventions import alternatives, apply, infer_lr
from .diagnose import correct_sums, diagnose, user_index
from .rounding import entry_match, noise_of, widen
from .truth import ORDER, ClaimIn, StepCheck, walk
from .verdict import ConventionUsed, Diagnosis, Entry, StepVerdict, Verdict

LABEL = {"output": "output Z", "activation": "activation A = relu(Z)", "loss": "loss L", "grad_output": "∂L/∂Ŷ",
         "grad_filter": "∂L/∂W", "grad_input": "∂L/∂X", "grad_bias": "∂L/∂b", "updated_filter": "updated filter W'",
         "updated_bias": "updated bias b'"}
# Forward multiply-adds × claimed steps (docs/robustness.md). Checking is linear in it; the diagnosis of
# a wrong step searches each entry's terms (every term, subsets of positions, every convention) on exact
# Fractions: ~2–6 s at MAX_DIAGNOSED, minutes at 10× it. Past MAX_DIAGNOSED wrong steps are reported
# without a diagnosis; past MAX_WORK the derivation is refused.
MAX_DIAGNOSED = 1000
MAX_WORK = 20_000

INPUT_KEYS = {"input": "x", "filter": "W", "bias": "b", "target": "target", "grad_output": "G"}
KIND_TEXT = {"rounded": "accepted as rounded", "noise": "float noise below the printed precision",
             "interval": "within what the rounded inputs allow"}


def canonical_shape(p, quantity: str) -> tuple[int, ...]:
    if quantity == "loss":
        return ()
    if quantity in ("grad_filter", "updated_filter", "filter"):
        return tuple(p.w.shape)
    if quantity in ("grad_input", "input"):
        return tuple(p.x.shape)
    if quantity in ("grad_bias", "updated_bias", "bias"):
        return (p.w.shape[0],)
    return tuple(p.out_shape)


def exists(p, quantity: str) -> str:
    """Why the problem has no such step ('' when it has)."""
    if quantity == "activation" and p.activation != "relu":
        return "the problem has no activation (declare activation = \"relu\")"
    if quantity in ("grad_bias", "updated_bias") and p.b is None:
        return "the problem has no bias"
    if quantity == "loss" and p.loss == "linear":
        return ""
    return ""


def indexing(d: Derivation) -> fmt.Indexing:
    """The document's numbering, from its `indexing` convention ("1-based: line 19, ..." when read)."""
    src = d.conventions.get("indexing")
    if src is None:
        return fmt.Indexing()
    base = 1 if src.detail.startswith("1-based") else 0
    return fmt.Indexing(base, src.kind in ("read", "declared"))


def _error_sign(d: Derivation, p, lanes: list[dict], iterations: list[dict[str, ClaimIn]]) -> tuple[int, str]:
    """The sign of the person's error matrix, and a note when its numbers decided it: the written formula is
    evidence, the numbers the person computed with win (a derivation that writes (Y − Ŷ) and computes Ŷ − Y)."""
    claim = next((it["grad_output"] for it in iterations if "grad_output" in it), None)
    if d.error is None or claim is None:
        return 1, ""
    from .rounding import match_array
    from .truth import truth_chain
    truth = truth_chain(p, lanes[0], 1)[0]["grad_output"]
    fits = lambda v: truth is not None and match_array(v, claim.decimals, truth) is not None  # noqa: E731
    by_numbers = -1 if not fits(claim.value) and fits(_negated(claim.value)) else \
        1 if fits(claim.value) and not fits(_negated(claim.value)) else 0
    stated = d.error.sign
    if stated and by_numbers and by_numbers != stated:
        said = "target − output" if stated == -1 else "output − target"
        return by_numbers, (f"{d.error.source.detail}: the error is written as {said}, but its numbers are the "
                            "other sign: judged by the numbers")
    if not stated and by_numbers == -1:
        return -1, "the error matrix fits error = target − output (the negative of ∂L/∂Ŷ): judged so"
    return stated or 1, ""


def _negated(a: np.ndarray) -> np.ndarray:
    return np.vectorize(lambda v: None if v is None else -v, otypes=[object])(a) if a.size else a


def _canonical_claims(d: Derivation, notes: list[str]) -> list[dict[str, ClaimIn]]:
    p = d.problem
    ix = indexing(d)
    out = []
    for k, claims in enumerate(d.iterations):
        it = {}
        for q, c in claims.items():
            if q not in ORDER:
                notes.append(f"{c.where}: {q!r} is not a step verify checks; left out")
                continue
            why = exists(p, q)
            if why:
                raise UserError(f"{q} is claimed but {why}", c.where)
            shape = canonical_shape(p, q)
            user = p.layout.user_shape(q, shape)
            value = np.asarray(c.value, dtype=object)
            if value.shape not in (user, shape):
                raise UserError(f"{q} has shape {list(value.shape)}, expected {list(user)}", c.where)
            decimals = np.asarray(c.decimals).reshape(value.shape)
            it[q] = ClaimIn(q, value.reshape(shape), decimals.reshape(shape), user, c.where, ix)
        out.append(it)
    return out


def _lanes(d: Derivation, p) -> list[dict]:
    point = {"x": p.x, "W": p.w, "b": p.b, "target": p.target, "G": p.grad_output}
    if not d.input_decimals:
        return [point]
    wide = dict(point)
    for name, decimals in d.input_decimals.items():
        key = INPUT_KEYS.get(name)
        if key is None or point[key] is None:
            continue
        dec = np.asarray(decimals)
        if dec.size != point[key].size:
            continue
        if (dec > 0).any():
            wide[key] = widen(point[key], dec.reshape(point[key].shape))
    return [point, wide] if any(wide[k] is not point[k] for k in point) else [point]


def _conventions(d: Derivation, p, extra: dict[str, tuple[str, Source]]) -> tuple[ConventionUsed, ...]:
    src = lambda k: d.conventions.get(k, Source("default"))  # noqa: E731
    out = [ConventionUsed("loss", p.loss, src("loss")), ConventionUsed("operation", p.operation, src("operation")),
           ConventionUsed("activation", p.activation, src("activation"))]
    if "learning_rate" in extra:
        out.append(ConventionUsed("learning_rate", *extra.pop("learning_rate")))
    elif p.lr is not None:
        out.append(ConventionUsed("learning_rate", fmt.num(p.lr), src("learning_rate")))
    if "indexing" in d.conventions:
        src_i = d.conventions["indexing"]   # the importer writes "0-based: line 71, ..."
        base, _, where = src_i.detail.partition(": ")
        shown = replace(src_i, detail=where if src_i.kind == "read" else "")   # not "0-based (… 0-based: …)"
        out.append(ConventionUsed("indexing", base or "0-based", shown))
    out.extend(ConventionUsed(k, v, s) for k, (v, s) in extra.items())
    return tuple(out)


def verify(d: Derivation) -> Verdict:
    notes = list(d.notes)
    iterations = _canonical_claims(d, notes)
    if not any(iterations):
        raise UserError("nothing is claimed: add a [claimed] table with at least one step", d.source)
    p = d.problem.with_(steps=len(iterations))
    n, c_out, ho, wo = p.out_shape
    work = n * c_out * ho * wo * int(np.prod(p.w.shape[1:])) * len(iterations)
    if work > MAX_WORK:
        raise UserError(f"too large to check by hand: {work} multiply-adds ({work // len(iterations)} per step × "
                        f"{len(iterations)} claimed step(s)); expected at most {MAX_WORK} (see docs/robustness.md)",
                        d.source)
    searched = work <= MAX_DIAGNOSED
    lanes = _lanes(d, p)
    extra: dict[str, tuple[str, Source]] = {}
    lr_problem = ""
    if p.lr is None and any(q.startswith("updated_") for it in iterations for q in it):
        eta, why = infer_lr(p, lanes, iterations)
        if eta is not None:
            p = p.with_(lr=eta)
            extra["learning_rate"] = (fmt.num(eta), Source("inferred", why))
            notes.append(why)
        else:
            lr_problem = why
    error_sign, why = _error_sign(d, p, lanes, iterations)
    if why:
        notes.append(why)
    has_update = any(q.startswith("updated_") for it in iterations for q in it)
    if error_sign == -1 and not (has_update and all(c.status == "ok" for c in walk(p, lanes, iterations, -1))):
        # error = target − output, judged as what it is (−∂L/∂Ŷ); the steps after it use ∂L/∂Ŷ (a derivation
        # consistent in the error's sign throughout, its update adding η·error, is found right below)
        iterations = [{q: replace(c, value=_negated(c.value), shown_sign=-1) if q == "grad_output" else c
                       for q, c in it.items()} for it in iterations]
    sign = 1
    checks = walk(p, lanes, iterations)
    alt_hits: dict[tuple[int, str], list[str]] = {}
    suggestions: list[str] = []
    if searched and any(c.status != "ok" for c in checks):
        declared = {k for k, s in d.conventions.items() if s.kind in ("declared", "read")}
        has_update = any(q.startswith("updated_") for it in iterations for q in it)
        for alt in alternatives(p, declared):
            alt_checks = walk(apply(p, alt), lanes, iterations, alt.sign)
            if all(c.status == "ok" for c in alt_checks):
                if alt.sign == -1 and has_update and not alt.changes:
                    # a consistent "error = target − output" derivation whose update adds η·error: right
                    checks, sign = alt_checks, -1
                    extra["backward_signal"] = ("error = target − output (the negative gradient); the update adds it",
                                                Source("inferred", "every claimed step checks with this sign"))
                    alt_hits.clear()
                    suggestions.clear()
                    break
                suggestions.append(f"every step checks with {alt.text}"
                                   + (f"; {alt.declare} if that is what you meant" if alt.declare else ""))
            by_key = {(c.iteration, c.quantity): c for c in alt_checks}
            for c in checks:
                other = by_key.get((c.iteration, c.quantity))
                key = (c.iteration, c.quantity)
                if (c.status == "wrong" and other is not None and other.status == "ok" and key not in alt_hits
                        and (alt.sign == 1 or c.quantity.startswith(("grad_", "updated_")))):
                    alt_hits[key] = [f"matches {alt.text}" + (f"; {alt.declare} if that is what you meant"
                                                               if alt.declare else "")]
    not_searched = "" if searched else (f"not diagnosed: {work} multiply-adds is over the {MAX_DIAGNOSED} up to which "
                                        "crossgrad searches for the mistake")
    labels = dict(LABEL)
    if d.error is not None:   # say what the person's matrix was compared with: ∂L/∂Ŷ or −∂L/∂Ŷ
        shown = error_sign == -1 and any(c.claim.shown_sign == -1 for c in checks) or sign == -1
        labels["grad_output"] = "error (read as −∂L/∂Ŷ)" if shown else "error (read as ∂L/∂Ŷ)"
    steps = tuple(_step_verdict(p, c, sign, alt_hits.get((c.iteration, c.quantity), []), lr_problem, not_searched,
                                labels[c.quantity])
                  for c in checks)
    verdict = "ok" if all(s.status == "ok" for s in steps) else "wrong"
    return Verdict(d.title, d.source, verdict, steps, _conventions(d, p, extra), _summary(steps, len(iterations)),
                   tuple(notes), tuple(dict.fromkeys(suggestions)), indexing(d).base, tuple(d.unchecked),
                   tuple(d.skipped))


def _entries(c: StepCheck) -> tuple[Entry, ...]:
    out = []
    truth = None if c.truth is None else np.asarray(c.truth, dtype=object).reshape(-1)
    kinds = list(c.kinds) if c.kinds else []
    for flat, v in enumerate(c.claim.value.reshape(-1)):
        if v is None:
            continue
        kind = kinds[flat] if kinds else ""
        if c.status == "carried":
            kind = "carried"
        ok = c.status == "ok"
        if c.status == "wrong":
            ok = truth is not None and entry_match(v, int(c.claim.decimals.reshape(-1)[flat]), truth[flat],
                                                   noise_of(c.claim.value)) is not None
        out.append(Entry(user_index(c, flat), fmt.num(v), fmt.num(None if truth is None else truth[flat]), ok, kind))
    return tuple(out)


def _rounding_notes(c: StepCheck) -> list[str]:
    notes = []
    for kind, text in KIND_TEXT.items():
        idx = [user_index(c, i) for i, k in enumerate(c.kinds) if k == kind]
        if not idx:
            continue
        if kind == "rounded":
            decs = sorted({int(c.claim.decimals.reshape(-1)[i]) for i, k in enumerate(c.kinds) if k == kind})
            text += f" to {fmt.names([str(x) for x in decs])} decimal{'s' if decs != [1] else ''}"
        where = "" if c.claim.user_shape == () else " (" + ", ".join(c.claim.ix.pos(i) for i in idx[:8]) + \
            (", …" if len(idx) > 8 else "") + c.claim.ix.mark_inside + ")"
        notes.append(text + where)
    if c.via == "person" and c.status == "ok":
        notes.append("follows exactly from your own rounded earlier values")
    return notes


def _step_verdict(p, c: StepCheck, sign: int, alt_hits: list[str], lr_problem: str,
                  not_searched: str = "", label: str = "") -> StepVerdict:
    diags: list[Diagnosis] = []
    sums: tuple[str, ...] = ()
    notes = _rounding_notes(c)
    if c.status == "ok":
        msg = "right" + (f" ({'; '.join(notes)})" if notes else "")
    elif c.status == "carried":
        msg = "wrong, but exactly what follows from your own earlier (wrong) values: carried over"
    elif c.person is None:
        msg = lr_problem or f"cannot be checked: the problem has no {c.quantity}"
    elif not_searched:
        msg = f"wrong ({not_searched})"
    else:
        diags = diagnose(p, c, sign)
        for text in alt_hits:
            diags.append(Diagnosis("convention", text))
        sums = correct_sums(p, c)
        msg = "; ".join(d.message for d in diags) if diags else \
            "no mistake in the catalogue reproduces these numbers"
    user = lambda a: None if a is None else np.asarray(a, dtype=object).reshape(c.claim.user_shape)  # noqa: E731
    return StepVerdict(c.quantity, c.iteration, c.status, msg, c.claim.where, fmt.array(user(c.claim.value if c.claim.shown_sign == 1 else _negated(c.claim.value))),
                       fmt.array(user(c.truth if c.claim.shown_sign == 1 or c.truth is None else
                                      _negated(np.asarray(c.truth, dtype=object)))), tuple(diags), _entries(c), sums, tuple(notes),
                       label or LABEL[c.quantity])


def _summary(steps: tuple[StepVerdict, ...], iterations: int) -> str:
    it = lambda s: f" (iteration {s.iteration})" if iterations > 1 else ""  # noqa: E731
    first = next((s for s in steps if s.status == "wrong"), None)
    if first is None:
        return "Every claimed step is right."
    carried = [s for s in steps if s.status == "carried"]
    codes = ", ".join(d.code for d in first.diagnosis) or "no known pattern"
    text = f"The derivation breaks at {first.label or LABEL[first.step]}{it(first)}: {first.message} [{codes}]."
    if carried:
        names = fmt.names([f"{s.label or LABEL[s.step]}{it(s)}" for s in carried])
        text += (f" The later step {names} follows" if len(carried) == 1 else f" The later steps {names} follow") \
            + " correctly from your wrong values (carried)."
    return text


