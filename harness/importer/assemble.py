"""What a document says -> a `Derivation`: the problem (inputs and conventions, each with where it came
from), the claimed values per iteration, what was left out and why.

Repeated values are fine (a "Final Results" section restating W' and L); a value restated with fewer
decimals is fine when it is the same number rounded. Two different values for the same quantity in the
same iteration are ambiguous: a UserError naming both lines. (A new iteration starts at an "Epoch k" /
"Iteration k" line, at a label such as "the new loss", or when a forward or gradient value differs from the
one already claimed after the filter was updated.)

A value that could not be read (a matrix with a bad entry or ragged rows; see `collect.Unreadable`) is named
in the error when its quantity is needed and nothing else gives it (an input, the learning rate with an
update claimed, the only claims), and listed among the skipped items when it was a claim.
"""

from __future__ import annotations

from fractions import Fraction
from types import MappingProxyType

import numpy as np

from ..derivation import CLAIMABLE, Alternative, Assigned, Claim, Declared, Derivation, ErrorSignal, Source
from ..errors import UserError
from ..problem import MAX_STEPS, make_problem
from .collect import Collected, Reading, Unreadable
from .latex import Value
from .conventions import Hint, resolve_loss
from .labels import Label

INPUTS = ("input", "filter", "target", "bias")
FORWARD = ("output", "activation", "loss", "grad_output", "grad_filter", "grad_input", "grad_bias", "error")
_PROBLEM_KEY = {"input": "input", "filter": "filter", "target": "target", "bias": "bias",
                "grad_output": "grad_output", "learning_rate": "learning_rate", "stride": "stride"}


MAX_ASSIGNMENTS = 64   # candidate assignments of conflicting inputs tried by the arithmetic (each one verify run)


def assemble(c: Collected, source: str, declared: Declared = Declared()) -> Derivation:
    """The derivation under the best assignment of the document's values to the inputs. Labels propose; when
    one quantity has several different candidate values (a helper's default `padding=1`, another example's
    input, another layer's bias), each combination is tried (at most MAX_ASSIGNMENTS) and the one under which
    the most claimed steps check wins; ties go to the first value written. The values not used are listed as
    skipped with their line."""
    import itertools

    from dataclasses import replace

    from ..verify import verify
    if declared.layout is not None:
        c = _laid_out(c, declared.layout)
    conflicts: dict[str, list[Reading]] = {}
    first = _assemble_once(c, source, {}, conflicts, declared)
    if not conflicts:
        if isinstance(first, UserError):
            raise first
        return first
    names = list(conflicts)
    combos = list(itertools.islice(itertools.product(*(range(len(conflicts[q])) for q in names)), MAX_ASSIGNMENTS))
    best, best_score, best_pick = None, None, None
    scored: list[tuple[tuple[int, int, int], dict[str, int]]] = []
    for combo in combos:
        pick = dict(zip(names, combo))
        d = first if not any(combo) else _assemble_once(c, source, pick, {}, declared)
        if isinstance(d, UserError):
            score = (-1, 0, 0)
        else:
            try:
                v = verify(d)
            except UserError:
                score = (-1, 0, 0)
            else:
                checked = [st for st in v.steps]
                score = (sum(st.status == "ok" for st in checked), len(checked), -sum(combo))
        scored.append((score, pick))
        if best_score is None or score > best_score:
            best, best_score, best_pick = d, score, pick
    if isinstance(best, UserError):
        raise best
    unused = [_unused(q, r, conflicts[q][best_pick[q]], best_score) for q in names
              for k, r in enumerate(conflicts[q]) if k != best_pick[q]]
    # the runner-up: the best of the other assignments, and what it would change
    others = sorted((sp for sp in scored if sp[1] != best_pick), key=lambda sp: sp[0], reverse=True)
    runner = None
    if others and others[0][0][0] >= 0:
        (ok, checked, _), pick = others[0]
        changes = tuple(Assigned(q, conflicts[q][k].line, _clip(conflicts[q][k].text), "another candidate")
                        for q, k in pick.items() if k != best_pick[q])
        runner = Alternative(changes, ok, checked)
    evidence = f"the arithmetic: {best_score[0]} of {best_score[1]} claimed steps check under it"
    assignment = tuple(replace(a, evidence=evidence) if a.role in names else a for a in best.assignment)
    return replace(best, skipped=best.skipped + tuple(unused), assignment=assignment,
                   score=best_score[:2], runner_up=runner)


MAX_WINDOW_WORK = 200_000   # products compared when matching written-out sums to output windows


def _line_of(e) -> int:
    return e[2] if isinstance(e, tuple) else e.line


def _window_claims(sums, problem, base: int) -> list[Reading]:
    """A written sum ("0×0 + 1×1 + 3×2 + 4×3 = 19") whose products are exactly the (input, filter) pairs of one
    output window is that output element's claim (its value as written; the terms are the author's own)."""
    if not sums or problem.groups != 1 or problem.b is not None:
        return []
    x, w = problem.x, problem.w
    (pt, pb), (pl, pr) = problem.padding
    n_, c_, h_, w_ = x.shape
    o_, _, kh, kw = w.shape
    ho, wo = problem.out_hw
    if n_ * o_ * ho * wo * c_ * kh * kw > MAX_WINDOW_WORK:
        return []
    xp = np.full((n_, c_, h_ + pt + pb, w_ + pl + pr), Fraction(0), dtype=object)
    xp[:, :, pt:pt + h_, pl:pl + w_] = x
    wf = w[:, :, ::-1, ::-1] if problem.operation == "convolution" else w
    (sh, sw), (dh, dw) = problem.stride, problem.dilation
    windows: dict[tuple, list] = {}
    for n in range(n_):
        for o in range(o_):
            for i in range(ho):
                for j in range(wo):
                    pairs = sorted((Fraction(xp[n, c, i * sh + u * dh, j * sw + v * dw]), Fraction(wf[o, c, u, v]))
                                   for c in range(c_) for u in range(kh) for v in range(kw))
                    windows.setdefault(tuple(pairs), []).append((n, o, i, j))
    ndim = problem.layout.output_ndim
    out = []
    for s in sums:
        found = windows.get(tuple(sorted(s.terms))) or windows.get(tuple(sorted((b, a) for a, b in s.terms)))
        if found and len(found) == 1:
            index = tuple(k + base for k in found[0][4 - ndim:]) if ndim else ()
            out.append(Reading(Label("output", index=index or None), s.value, s.line, s.text, "sum"))
    return out


def _unlabelled_hint(c: Collected, q: str) -> str:
    """What was found instead: the matrices without a label, and how to name one."""
    if not c.unlabelled:
        return ""
    shown = ", ".join(f"{line} ({'×'.join(map(str, shape))})" for line, shape in c.unlabelled[:8])
    more = f" and {len(c.unlabelled) - 8} more" if len(c.unlabelled) > 8 else ""
    return (f"; matrices without a label at lines {shown}{more}: name one with --role "
            f"{c.unlabelled[0][0]}={q}")


def _unused(key: str, r: Reading, chosen: Reading, score) -> str:
    if key.startswith("claim "):   # a claim of a step that another claim of the same step contradicts
        q = key.split(":", 1)[1]
        why = "its claims check" if score[0] > 0 else "it is written first"
        return (f"line {r.line}: {_clip(r.text)} — another value claimed for the {_name(q)} (another example?), "
                f"not judged: the one of line {chosen.line} is ({why})")
    return (f"line {r.line}: {_clip(r.text)} — another value for the {_name(key)}, not used: the document's "
            f"claimed values check under line {chosen.line}{_BATCH_HINT.get(key, '')}")


_BATCH_HINT = dict.fromkeys(("input", "filter", "target"),
                           " (for several images or channels, label each matrix with its indices: X_{0,1,:,:} = … "
                           "is image 0, channel 1; W_{o,c,:,:} for filters)")


def _assemble_once(c: Collected, source: str, pick: dict[str, int], conflicts: dict,
                   declared: Declared) -> Derivation | UserError:
    try:
        return _assemble(c, source, pick, conflicts, declared)
    except UserError as exc:
        return exc


def _assemble(c: Collected, source: str, pick: dict[str, int], conflicts: dict, declared: Declared) -> Derivation:
    where = lambda line: f"{source}: line {line}"  # noqa: E731
    readings = [_resolve_e(e) for e in c.events if isinstance(e, Reading)]
    unread = [e for e in c.events if isinstance(e, Unreadable)]
    notes: list[str] = []
    skipped = list(c.skipped)

    def unreadable(q: str, whole: bool = False) -> Unreadable | None:
        """The first value labelled as `q` that could not be read (whole: not an element or slice)."""
        return next((u for u in unread if _unread_quantity(u) == q and not (whole and u.label.index)), None)

    def refuse(u: Unreadable) -> UserError:
        return UserError(u.message(_name(_unread_quantity(u))), where(u.line))

    # --- inputs -------------------------------------------------------------------------------
    inputs: dict[str, Reading] = {}
    slices: dict[str, list[Reading]] = {}
    has_target = any(r.label.quantity == "target" for r in readings)
    for r in readings:
        q = r.label.quantity
        if q in INPUTS + (() if has_target else ("grad_output",)) and r.label.index is not None \
                and None in r.label.index:
            if q == "grad_output" and any(o.label.index == r.label.index for o in slices.get(q, [])):
                continue   # a given upstream gradient is given once; later ones are claims
            slices.setdefault(q, []).append(r)
    consumed = {id(r) for rs in slices.values() for r in rs}
    for q, rs in slices.items():   # I_{0,1,:,:} = …: one matrix per batch/channel index
        stacked = _stack(rs, source)
        pos = next(i for i, r in enumerate(readings) if r is rs[0])
        mine = {id(r) for r in rs[1:]}
        readings = [r for r in readings if id(r) not in mine]
        readings[pos] = stacked
    for r in readings:
        q = r.label.quantity
        if q in INPUTS + ("learning_rate", "stride", "padding", "groups", "dilation") and r.label.index is None \
                and getattr(declared, q, None) is None:   # what the command line declares is not a candidate
            first = inputs.get(q)
            if first is None:
                inputs[q] = r
            elif not _same(first.value, r.value):
                if q == "filter" and _restates_update(r, readings):
                    notes.append(f"line {r.line}: the filter restated for the next iteration (the updated filter)")
                else:   # another candidate: the arithmetic decides (see `assemble`)
                    cands = conflicts.setdefault(q, [first])
                    if not any(_same(o.value, r.value) for o in cands):
                        cands.append(r)
    for q, k in pick.items():
        if not q.startswith("claim "):
            inputs[q] = conflicts[q][k]
    for q in ("input", "filter", "bias"):
        if q not in inputs and (u := unreadable(q, whole=q == "bias")) is not None:
            raise refuse(u)
        if q not in inputs and q != "bias":
            raise UserError(f"missing the {_name(q)}: no matrix labelled as the {_name(q)} "
                            f"({_LABEL_HELP[q]}){_unlabelled_hint(c, q)}", source)
    hints = list(c.hints)
    conv: dict[str, Source] = {}

    given = next((r for r in readings if r.label.quantity == "grad_output" and r.value.array.ndim
                  and r.label.index is None), None)
    target = inputs.get("target")
    x = inputs["input"].value.array
    w = inputs["filter"].value.array
    stride = 1
    if "stride" in inputs:
        s = inputs["stride"].value.array[()]
        if isinstance(s, tuple):   # (1, s) of a conv1d read as 2-D
            stride = s
        elif s.denominator != 1 or s < 1:
            raise UserError(f"the stride must be a positive integer, got {s}", where(inputs["stride"].line))
        else:
            stride = int(s)
        notes.append(f"stride {stride} read from line {inputs['stride'].line}")

    padding = 0
    if "padding" in inputs:
        padding = inputs["padding"].value.array[()]
        notes.append(f"padding {padding!r} read from line {inputs['padding'].line}")
    groups = dilation = 1
    if "groups" in inputs:
        groups = inputs["groups"].value.array[()]
        notes.append(f"groups {groups} read from line {inputs['groups'].line}")
    if "dilation" in inputs:
        dilation = inputs["dilation"].value.array[()]
        notes.append(f"dilation {dilation} read from line {inputs['dilation'].line}")
    fixed = {k for k in ("stride", "padding") if getattr(declared, k) is not None}
    if declared.stride is not None:
        stride = declared.stride
        inputs.pop("stride", None)
        notes[:] = [n for n in notes if not n.startswith("stride ")] + [f"stride {stride} declared on the "
                                                                         "command line"]
    if declared.padding is not None:
        padding = declared.padding if not isinstance(declared.padding, tuple) else \
            (declared.padding[0], declared.padding[0], declared.padding[1], declared.padding[1])
        inputs.pop("padding", None)
        notes[:] = [n for n in notes if not n.startswith("padding ")] + [f"padding {declared.padding!r} declared "
                                                                          "on the command line"]
    if not fixed:
        stride, padding = _fit_geometry(x, w, stride, padding, dilation, inputs, readings, notes, source)
    geometry = _geometry(x, w, stride, padding, dilation, inputs.get("padding"), source)
    # the number of outputs decides what \frac{1}{k}\sum means
    n_out = int(np.prod(geometry))
    loss, loss_hint, loss_notes = resolve_loss(hints, n_out)
    notes.extend(loss_notes)
    error_hint = _first(hints, "error")
    grad_output = None
    no_loss = False
    zeros = _first(hints, "target_zeros")
    if target is None and zeros is not None and loss in ("sum", "mean", "half_sum", "half_mean"):
        # the code differentiates Σ output² (or its mean, or ½·Σ): the loss against a target of zeros
        value = _ones_like_output(x, w, geometry) * 0
        target = Reading(Label("target"), Value(value, np.full(value.shape, -1)), zeros.line,
                         f"0 (the loss of line {zeros.line} has no target)", "code")
        notes.append(f"line {zeros.line}: the code's loss is of the output alone: read as the {loss} loss "
                     "against a target of zeros")
    if target is None and loss not in ("linear", "linear_ones") and (u := unreadable("target")) is not None:
        raise refuse(u)   # (not the given-gradient reading below: the document meant a target)
    if target is None:
        if loss == "linear_ones":
            grad_output = _ones_like_output(x, w, geometry)
            loss = "linear"
            conv["loss"] = (Source("read", loss_hint.where()) if loss_hint
                            else Source("default"))
        elif given is not None:
            grad_output = given.value.array
            loss = "linear"
            conv["loss"] = Source("read", f"line {given.line}: given upstream gradient {_clip(given.text, 50)}")
        else:
            u = unreadable("target") or unreadable("grad_output")
            if u is not None:
                raise refuse(u)
            # no target and no upstream gradient: the forward claims can still be checked; the rest are
            # listed as not checkable (a placeholder ∂L/∂Ŷ of zeros lets the problem exist)
            no_loss = True
            grad_output = _ones_like_output(x, w, geometry) * 0
            loss = "linear"
            conv["loss"] = Source("default", "no target and no upstream gradient given")
    else:
        if loss in ("linear", "linear_ones"):
            notes.append(f"the loss formula at {loss_hint.where()} has no target, but a target was given "
                         f"(line {target.line}): ignored")
            loss, loss_hint = None, None
        if loss is not None:
            conv["loss"] = Source("read", loss_hint.where())
        elif any(r.label.quantity == "error" for r in readings):
            # the error used as the backward signal is ∓∂L/∂Ŷ of L = ½Σ(target − output)²
            loss = "half_sum"
            e = error_hint.where() if error_hint else f"line {next(r.line for r in readings if r.label.quantity == 'error')}"
            conv["loss"] = Source("read", f"{e} (the error as the backward signal: L = ½·Σ(target − output)²)")
        else:
            loss = "mean"
            conv["loss"] = Source("default")

    operation, conv["operation"] = _pick(hints, "operation", "cross_correlation", notes)
    activation, conv["activation"] = _pick(hints, "activation", "none", notes)
    act_reading = next((r for r in readings if r.label.quantity == "activation"), None)
    if activation == "none" and act_reading is not None and conv["activation"].kind == "default":
        activation = "relu"
        conv["activation"] = Source("read", f"line {act_reading.line}: {_clip(act_reading.text, 50)}")

    lr = None
    u = None if "learning_rate" in inputs else unreadable("learning_rate")
    if u is not None:
        if any(_unread_quantity(r) in ("updated_filter", "updated_bias") for r in readings + unread):
            raise refuse(u)   # η is needed: the document claims an update
        skipped.append(f"line {u.line}: {u.text} — the learning rate could not be read: {u.reason}")
    if "learning_rate" in inputs:
        r = inputs["learning_rate"]
        lr = r.value.array[()]
        conv["learning_rate"] = Source("read", f"line {r.line}: {_clip(r.text, 50)}")
    else:
        implicit = _first(hints, "learning_rate")
        if implicit is not None:
            lr = implicit.value
            conv["learning_rate"] = Source("read", f"{implicit.where()} (no η: learning rate 1)")
        else:
            conv["learning_rate"] = Source("default", "not stated")

    # --- iterations --------------------------------------------------------------------------------
    iterations, unread_claims = _iterations(c.events, consumed, source)

    def _several() -> bool:
        """A document of several examples: several conv calls in its code, or several candidate inputs."""
        return any(not k.startswith("claim ") for k in conflicts) or any(not k.startswith("claim ") for k in pick) \
            or (c.program is not None and c.program.examples > 1)

    def _choose(key: str, groups: list[list[Reading]]) -> list[Reading]:
        """Claims of one step that disagree (another example's value, another cell's printout): each
        consistent group is a candidate, and the arithmetic decides (see `assemble`); the others are skipped.
        Only in a document of several examples (several conv calls in its code, several candidate inputs): in
        one worked example, two values for one step are a contradiction the author should see."""
        if not _several():
            _claim(key.split(":", 1)[1], [r for g in groups for r in g], problem, base, source)   # raises
        conflicts.setdefault("claim " + key, [g[0] for g in groups])
        return groups[min(pick.get("claim " + key, 0), len(groups) - 1)]
    base = _index_base(c, conv, notes)
    error = None
    if any(r.label.quantity == "error" for r in readings):
        sign = {"target_minus_output": -1, "output_minus_target": 1}.get(error_hint.value, 0) if error_hint else 0
        error = ErrorSignal(sign, Source("read", error_hint.where()) if error_hint and sign else
                            Source("default", "its sign is not stated: decided by its values"))

    bias = inputs.get("bias")
    b = None
    if bias is not None:   # written as a number, a row or a column
        b = bias.value.array.reshape(-1) if bias.value.array.ndim else bias.value.array
    try:
        problem = make_problem(
            x=x, w=w, target=None if target is None else target.value.array,
            b=b, lr=lr, stride=stride, groups=groups, dilation=dilation,
            padding=((padding[0], padding[1]), (padding[2], padding[3])) if isinstance(padding, tuple) else padding,
            steps=len(iterations) if lr is not None else 1, loss=loss, operation=operation,
            activation=activation, grad_output=grad_output, name=_stem(source), where="problem")
    except UserError as exc:
        key = (exc.where or "").rsplit(".", 1)[-1]
        r = inputs.get(key) or (given if key == "grad_output" else None)
        raise UserError(exc.message, where(r.line) if r else source) from None
    if lr is None and len(iterations) > 1:
        notes.append(f"{len(iterations)} iterations claimed but no learning rate stated: the problem has "
                     "steps = 1 until η is inferred")

    input_decimals = {}
    for q in INPUTS:
        r = inputs.get(q)
        if r is not None and r.label.approx and int(r.value.decimals.max(initial=-1)) >= 1:
            input_decimals[q] = r.value.decimals
            notes.append(f"the {_name(q)} (line {r.line}) is shown rounded to "
                         f"{int(r.value.decimals.max())} decimals")
    if target is None and given is not None and given.label.approx and int(given.value.decimals.max()) >= 1:
        input_decimals["grad_output"] = given.value.decimals

    extra = _window_claims(c.sums, problem, base)
    if extra:   # entries written out as their terms: claims of the output elements whose windows they are
        events = list(c.events)
        for r in extra:
            at = next((k for k, e in enumerate(events) if _line_of(e) > r.line), len(events))
            events.insert(at, r)
        again = _iterations(events, consumed, source)
        if len(again[0]) == len(iterations):
            iterations, unread_claims = again
            notes.append("line " + ", ".join(str(r.line) for r in extra[:6]) + ": an entry written out as its terms "
                         "is the output element whose window they are")
    unknown_bias = _first(hints, "bias_unknown") if problem.b is None else None
    claims = []
    for k, it in enumerate(iterations):
        claims.append(MappingProxyType(_claims(it, problem, base, given, skipped, source,
                                               lambda key, groups, k=k: _choose(f"{k}:{key}", groups),
                                               unknown_bias, _several())))
    while len(claims) > 1 and not claims[-1]:
        claims.pop()
    for k, u in unread_claims:   # a claim that could not be read, unless the same step is read elsewhere
        q = _unread_quantity(u)
        read_too = k < len(iterations) and iterations[k].get(q)
        if ("grad_output" if q == "error" else q) in CLAIMABLE and not read_too:
            skipped.append(f"line {u.line}: {u.text} — the {_name(q)} could not be read: {u.reason}")
    unchecked: list[str] = []
    if no_loss:
        claims = [_forward_only(it, unchecked) for it in claims]
        while len(claims) > 1 and not claims[-1]:
            claims.pop()
    if not any(claims) and unchecked:
        raise UserError("nothing checkable: " + "; ".join(unchecked[:4]) + (" …" if len(unchecked) > 4 else "")
                        + ". Give the target (Y, T, 'target:') or the upstream gradient (∂L/∂Ŷ, δ, 'upstream "
                        "gradient:'), or name it on the command line (--role NAME=target)", source)
    if not any(claims):
        if unread_claims:
            raise refuse(unread_claims[0][1])
        if unknown_bias is not None and any("depends on a bias" in s_ for s_ in skipped):
            raise UserError(f"nothing checkable: every claim depends on the bias of the layer, which the document "
                            f"does not show ({unknown_bias.where()}); give it (e.g. print the layer's .bias) or "
                            f"--role NAME=bias", source)
        raise UserError("no claimed values found: nothing labelled as the output (Ŷ), the loss (L), "
                        "a gradient (∂L/∂W) or the updated filter (W')" + _unlabelled_hint(c, "output"), source)
    for key in ("loss", "operation", "activation", "learning_rate"):
        conv.setdefault(key, Source("default"))
    assignment = tuple(Assigned(q, r.line, _clip(r.text), _evidence(r)) for q, r in inputs.items()
                       if q in INPUTS + ("learning_rate", "stride", "padding", "dilation", "groups"))
    if given is not None and target is None:
        assignment += (Assigned("grad_output", given.line, _clip(given.text), _evidence(given)),)
    assignment += tuple(Assigned(k, 0, str(getattr(declared, k)), "declared on the command line")
                        for k in sorted(fixed))
    return Derivation(title=c.title or _stem(source), source=source, problem=problem, iterations=tuple(claims),
                      conventions=MappingProxyType(conv), input_decimals=MappingProxyType(input_decimals),
                      skipped=tuple(skipped), notes=tuple(notes), unchecked=tuple(unchecked),
                      assignment=assignment, error=error)


def _evidence(r: Reading) -> str:
    if r.style == "code":
        return "read from the document's code"
    return f"labelled {r.text[:40]!r}" if r.style == "latex" else "labelled where it is written"


# NHWC / HWIO (TensorFlow, Keras) -> NCHW / OIHW: the axes for each quantity's written rank
_FROM_NHWC = {("input", 4): (0, 3, 1, 2), ("input", 3): (2, 0, 1), ("filter", 4): (3, 2, 0, 1),
              ("filter", 3): (2, 0, 1), ("output", 4): (0, 3, 1, 2), ("output", 3): (2, 0, 1)}
_LIKE = {"input": "input", "grad_input": "input", "filter": "filter", "grad_filter": "filter",
         "updated_filter": "filter"}


def _laid_out(c: Collected, layout: str) -> Collected:
    """--layout nhwc: the arrays the document writes (not those its code built: the code's framework says their
    layout) are N, H, W, C and H, W, I, O; they are read as N, C, H, W and O, I, H, W."""
    from dataclasses import replace
    if layout == "nchw":
        return c
    events = []
    for e in c.events:
        if isinstance(e, Reading) and e.style != "code":
            like = _LIKE.get(e.label.quantity, "output" if e.label.quantity not in ("bias", "grad_bias",
                                                                                      "updated_bias") else None)
            axes = _FROM_NHWC.get((like, e.value.array.ndim))
            if axes is not None:
                e = replace(e, value=replace(e.value, array=e.value.array.transpose(axes),
                                             decimals=np.asarray(e.value.decimals).transpose(axes)
                                             if np.ndim(e.value.decimals) == e.value.array.ndim
                                             else e.value.decimals))
        events.append(e)
    return replace(c, events=events)


# What needs a loss: everything past the forward pass.
_NEEDS_LOSS = ("loss", "grad_output", "grad_filter", "grad_input", "grad_bias", "updated_filter", "updated_bias")


def _forward_only(it, unchecked: list[str]):
    """One iteration's claims without a loss to judge them by: the forward ones stay; the rest are listed."""
    for q in _NEEDS_LOSS:
        if q in it:
            unchecked.append(f"{it[q].where}: the {_name(q)} — not checkable: the document gives no target "
                             "and no upstream gradient")
    return MappingProxyType({q: c for q, c in it.items() if q not in _NEEDS_LOSS})


_LABEL_HELP = {"input": "I, X, x, 'input:', 'image:'", "filter": "W, K, F, w, 'filter:', 'kernel:', 'weights:'"}


def _name(q: str) -> str:
    return {"input": "input", "filter": "filter", "target": "target", "bias": "bias",
            "learning_rate": "learning rate", "stride": "stride", "grad_output": "upstream gradient ∂L/∂Ŷ",
            "grad_filter": "gradient ∂L/∂W", "grad_input": "gradient ∂L/∂X", "grad_bias": "gradient ∂L/∂b",
            "updated_filter": "updated filter", "updated_bias": "updated bias", "output": "output",
            "activation": "activation", "loss": "loss", "error": "error"}.get(q, q)


def _clip(t: str, n: int = 60) -> str:
    t = " ".join(t.split())
    return t if len(t) <= n else t[: n - 1] + "…"


def _stem(source: str) -> str:
    from pathlib import Path
    return Path(source).stem


def _first(hints: list[Hint], name: str) -> Hint | None:
    best = None
    for h in hints:
        if h.name == name and (best is None or h.strength > best.strength):
            best = h
    return best


def _pick(hints: list[Hint], name: str, default: str, notes: list[str]) -> tuple[str, Source]:
    h = _first(hints, name)
    if h is None:
        return default, Source("default")
    for other in hints:
        if other.name == name and other.value != h.value and other.strength == h.strength:
            notes.append(f"{name}: {other.where()} says {other.value!r}; {h.value!r} was taken from line {h.line}")
            break
    return h.value, Source("read", h.where())


def _unread_quantity(u: Reading | Unreadable) -> str:
    """The quantity of a reading or of a value that could not be read (E: the loss or the error matrix)."""
    if u.label.quantity == "loss_or_error" and isinstance(u, Unreadable):
        return "error" if u.matrix or u.label.index else "loss"
    return u.label.quantity


def _resolve_e(r: Reading) -> Reading:
    """E is the loss when it is a number and the error when it is a matrix."""
    if r.label.quantity == "loss_or_error":
        q = "loss" if r.value.array.ndim == 0 and r.label.index is None else "error"
        return Reading(Label(q, r.label.index, r.label.iteration, r.label.next_iteration, r.label.initial),
                       r.value, r.line, r.text, r.style, r.context)
    return r


def _stack(rs: list[Reading], source: str) -> Reading:
    """Slices X_{n,c,:,:} of one quantity (a repeat of a slice with the same values is fine) -> one array."""
    by_index: dict[tuple, Reading] = {}
    for r in rs:
        lead = tuple(i for i in r.label.index if i is not None)
        first = by_index.get(lead)
        if first is not None and not _same(first.value, r.value):
            raise UserError(f"two different values for the {_name(r.label.quantity)} {list(lead)}: line "
                            f"{first.line} and line {r.line}", f"{source}: line {r.line}")
        by_index.setdefault(lead, r)
    ndim = {len(k) for k in by_index}
    shapes = {r.value.array.shape for r in by_index.values()}
    first = rs[0]
    if len(ndim) != 1 or len(shapes) != 1:
        raise UserError(f"the slices of the {_name(first.label.quantity)} do not fit together (different "
                        "numbers of indices or matrix shapes)", f"{source}: line {first.line}")
    lead_shape = tuple(max(k[d] for k in by_index) + 1 for d in range(ndim.pop()))
    missing = [list(k) for k in np.ndindex(lead_shape) if k not in by_index]
    if missing:
        raise UserError(f"the {_name(first.label.quantity)} slice {missing[0]} is missing (slices run up to "
                        f"{[d - 1 for d in lead_shape]})", f"{source}: line {first.line}")
    mat = shapes.pop()
    value = np.empty(lead_shape + mat, dtype=object)
    decimals = np.full(lead_shape + mat, -1, dtype=int)
    for k, r in by_index.items():
        value[k] = r.value.array
        decimals[k] = np.broadcast_to(r.value.decimals, mat)
    lab = first.label
    label = Label(lab.quantity, None, lab.iteration, lab.next_iteration, lab.initial, lab.pre_activation,
                  lab.reason, any(r.label.approx for r in rs))
    return Reading(label, Value(value, decimals), first.line, first.text, first.style, first.context)


def _same(a, b) -> bool:
    """The same value, allowing a restatement rounded to fewer decimals."""
    va, vb = a.array, b.array
    if va.shape != vb.shape:
        return False
    da, db = np.broadcast_to(a.decimals, va.shape), np.broadcast_to(b.decimals, vb.shape)
    for x, y, dx, dy in zip(va.reshape(-1), vb.reshape(-1), da.reshape(-1), db.reshape(-1)):
        if x is None or y is None or x == y:
            continue
        coarse, fine = (dx, y) if 0 <= dx < (dy if dy >= 0 else 10**9) else (dy, x) if dy >= 0 else (None, None)
        if coarse is None:
            return False
        if abs(fine - (x if fine is y else y)) > Fraction(1, 2) * Fraction(10) ** -int(coarse):
            return False
    return True


def _restates_update(r: Reading, readings: list[Reading]) -> bool:
    return any(o.label.quantity == "updated_filter" and o.line < r.line and o.label.index is None
               and _same(o.value, r.value) for o in readings)


def _geometry(x, w, stride, padding, dilation, pad_reading, source: str) -> tuple[int, int, int, int]:
    """The output shape (N, C_out, H_out, W_out) before the problem exists (to read 1/k·Σ)."""
    from ..problem import output_hw, resolve_padding
    s2 = stride if isinstance(stride, tuple) else (stride, stride)
    xs = (1,) * (4 - x.ndim) + x.shape
    ws = (1,) * (4 - w.ndim) + w.shape
    if isinstance(padding, tuple) and len(padding) == 4:
        padding = ((padding[0], padding[1]), (padding[2], padding[3]))
    try:
        d2 = dilation if isinstance(dilation, tuple) else (dilation, dilation)
        pad = resolve_padding(padding, ws[2:], s2, d2, xs[2:])
    except UserError as exc:
        raise UserError(exc.message, f"{source}: line {pad_reading.line}" if pad_reading else source) from None
    return (xs[0], ws[0], *output_hw(xs[2:], ws[2:], s2, pad, d2))


_OUTPUT_SHAPED = ("output", "activation", "error", "grad_output", "loss_or_error")


def _fit_geometry(x, w, stride, padding, dilation, inputs, readings, notes, source):
    """The stride and padding read from the text are evidence, not orders: a `padding=1` default argument of a
    helper or "stride 2" said of another layer must not contradict the document's own output. When the claimed
    output-shaped matrices fit the stated geometry, it stands; when they fit only the defaults (stride 1, no
    padding) or "same", those are used and the stated value is noted as not used."""
    shapes = {tuple(d for d in r.value.array.shape if d != 1) for r in readings
              if r.label.quantity in _OUTPUT_SHAPED and r.label.index is None and r.value.array.ndim >= 1}
    if not shapes or ("stride" not in inputs and "padding" not in inputs):
        return stride, padding

    def fits(s, pad) -> bool:
        try:
            g = _geometry(x, w, s, pad, dilation, None, source)
        except UserError:
            return False
        full = tuple(d for d in ((g[0], g[1]) if x.ndim == 4 or w.ndim == 4 else ()) + g[2:] if d != 1)
        return all(sh == full or sh == tuple(d for d in g[2:] if d != 1) for sh in shapes)

    if fits(stride, padding):
        return stride, padding
    # a padding of 2p read where the output fits p per side: the "total padding" convention of some courses
    half = ((stride, padding // 2),) if isinstance(padding, int) and padding >= 2 and padding % 2 == 0 else ()
    for s_alt, p_alt in half + ((stride, 0), (1, padding), (1, 0), (stride, "same"), (1, "same")):
        if (s_alt, p_alt) != (stride, padding) and fits(s_alt, p_alt):
            for name, old, new in (("stride", stride, s_alt), ("padding", padding, p_alt)):
                if old != new and name in inputs:
                    notes[:] = [n for n in notes if not n.startswith(f"{name} {old!r} read from line")]
                    notes.append(f"line {inputs[name].line}: {name} {old!r} not used: the document's own output "
                                 f"shape fits {name} {new!r}")
            return s_alt, p_alt
    return stride, padding


def _ones_like_output(x, w, geometry) -> np.ndarray:
    shape = geometry[2:] if x.ndim == 2 and w.ndim <= 3 else geometry
    a = np.empty(shape, dtype=object)
    for i in np.ndindex(shape):
        a[i] = Fraction(1)
    return a


def _index_base(c: Collected, conv: dict, notes: list[str]) -> int:
    if not c.indices:
        conv["indexing"] = Source("default", "0-based")
        return 0
    low = min(c.indices)
    if low[0] == 0:
        conv["indexing"] = Source("read", f"0-based: line {low[1]}, {_clip(low[2], 30)}")
        return 0
    conv["indexing"] = Source("read", f"1-based: line {low[1]}, {_clip(low[2], 30)} (no index 0 written)")
    notes.append(f"indices read as 1-based (the lowest index written is {low[0]}, line {low[1]})")
    return 1


# --- iterations ------------------------------------------------------------------------------------

def _iterations(events: list, consumed: set[int], source: str) -> tuple[list[dict], list[tuple[int, Unreadable]]]:
    """Group the claim readings by SGD iteration (0-based list of {quantity: [readings]}); and the claims that
    could not be read, each with the iteration it would belong to (they move no iteration boundary)."""
    markers = [e[1] for e in events if isinstance(e, tuple)]
    marker_base = 0 if markers and min(markers) == 0 else 1
    its: list[dict] = [{}]
    unread: list[tuple[int, Unreadable]] = []
    cur = 0
    updated = False
    for e in events:
        if isinstance(e, Unreadable):
            q = _unread_quantity(e)
            if q in INPUTS + ("learning_rate", "stride", "skip", "padding", "groups", "dilation"):
                continue
            k = (e.label.iteration - 1 if e.label.iteration is not None and q in ("updated_filter", "updated_bias")
                 else 0 if e.label.initial else cur + 1 if e.label.next_iteration or updated and q in FORWARD
                 else cur)
            if 0 <= k < MAX_STEPS:
                unread.append((k, e))
            continue
        if isinstance(e, tuple):
            k = e[1] - marker_base
            if 0 <= k < MAX_STEPS:
                cur, updated = k, False
                while len(its) <= cur:
                    its.append({})
            continue
        if id(e) in consumed:
            continue
        r = _resolve_e(e)
        q = r.label.quantity
        if q in INPUTS + ("learning_rate", "stride", "skip", "padding", "groups", "dilation"):
            continue
        if r.label.iteration is not None and q in ("updated_filter", "updated_bias"):
            k = r.label.iteration - 1
        elif r.label.initial:
            k = 0
        elif r.label.next_iteration:
            k = cur + 1
            cur, updated = k, False
        elif updated and q in FORWARD and not _repeats(its[cur], r):
            cur, updated = cur + 1, False
            k = cur
        else:
            k = cur
        if not 0 <= k < MAX_STEPS:
            raise UserError(f"iteration {k + 1} is beyond the limit of {MAX_STEPS}", f"{source}: line {r.line}")
        while len(its) <= k:
            its.append({})
        its[k].setdefault(q, []).append(r)
        if q in ("updated_filter", "updated_bias") and k == cur:
            updated = True
    return its, unread


def _repeats(it: dict, r: Reading) -> bool:
    return any(o.label.index == r.label.index and _same(o.value, r.value) for o in it.get(r.label.quantity, []))


# --- claims ---------------------------------------------------------------------------------------------

def _expected_shape(q: str, problem) -> tuple[int, ...]:
    canon = {"output": problem.out_shape, "activation": problem.out_shape, "grad_output": problem.out_shape,
             "error": problem.out_shape, "grad_filter": problem.w.shape, "updated_filter": problem.w.shape,
             "grad_input": problem.x.shape, "grad_bias": (problem.w.shape[0],),
             "updated_bias": (problem.w.shape[0],), "loss": ()}[q]
    return problem.layout.user_shape("output" if q == "error" else q, canon)


def _fit(value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    if value.shape == shape:
        return value
    squeeze = lambda s: tuple(d for d in s if d != 1)  # noqa: E731
    if squeeze(value.shape) == squeeze(shape):
        return value.reshape(shape)
    return None


def _claims(it: dict, problem, base: int, given, skipped: list[str], source: str, choose,
            unknown_bias: Hint | None = None, several: bool = False) -> dict[str, Claim]:
    """One iteration's claims. An error matrix (E = Y − Ŷ or Ŷ − Y) is the backward signal the person used:
    it is claimed as ∂L/∂Ŷ as written; verify knows the "error = target − output" sign convention.
    `choose(quantity, groups)`: which of several disagreeing groups of claims of one step is judged."""
    out: dict[str, Claim] = {}
    for q, rs in it.items():
        target_q = "grad_output" if q == "error" else q
        if target_q == "grad_output":
            pre = [r for r in rs if r.label.pre_activation and problem.activation == "relu"]
            skipped.extend(f"line {r.line}: {_clip(r.text)} — ∂L/∂Z before the ReLU (not a checked step)"
                           for r in pre)
            rs = [r for r in rs if r not in pre]
            if problem.loss == "linear" and given is not None:
                rs = [r for r in rs if r is not given and not (r.label.index is None and _same(r.value, given.value))]
        if target_q not in CLAIMABLE or not rs:
            continue
        if target_q == "activation" and problem.activation != "relu":
            continue
        if several:   # in a document of several examples, a value of another example's shape is that example's
            shape = _expected_shape(target_q, problem)
            other = [r for r in rs if r.label.index is None and _fit(r.value.array, shape) is None]
            skipped.extend(f"line {r.line}: {_clip(r.text)} — shape {list(r.value.array.shape)}: another example's "
                           f"value (the {_name(target_q)} of the example checked has shape {list(shape)})"
                           for r in other)
            rs = [r for r in rs if r not in other]
            if not rs:
                continue
        if unknown_bias is not None and (target_q in ("output", "activation", "loss") or problem.loss != "linear"):
            # a linear loss's gradients do not depend on the bias; everything else does, but for a window's
            # products summed by the author (np.sum(w * x)): the correlation without the bias, by construction
            skipped.extend(f"line {r.line}: {_clip(r.text)} — depends on a bias the document does not show "
                           f"({unknown_bias.where()})" for r in rs if r.style != "sum")
            rs = [r for r in rs if r.style == "sum"]
            if not rs:
                continue
        if target_q in ("grad_bias", "updated_bias") and problem.b is None:
            skipped.extend(f"line {r.line}: {_clip(r.text)} — a bias claim, but no bias was given" for r in rs)
            continue
        try:
            claim = _claim(target_q, rs, problem, base, source)
        except _Disagree:
            groups = _consistent_groups(target_q, rs, problem, base, source)
            rs = choose(target_q, groups)
            claim = _claim(target_q, rs, problem, base, source)
        if target_q in out:
            claim = _merge(out[target_q], claim, source)
        out[target_q] = claim
    return {q: out[q] for q in CLAIMABLE if q in out}


class _Disagree(UserError):
    """Two readings give different values for one entry of a step."""


def _consistent_groups(q: str, rs: list[Reading], problem, base: int, source: str) -> list[list[Reading]]:
    """The readings split, in document order, into groups that agree (each joins the first group it fits)."""
    groups: list[list[Reading]] = []
    for r in rs:
        for g in groups:
            try:
                _claim(q, g + [r], problem, base, source)
            except _Disagree:
                continue
            g.append(r)
            break
        else:
            groups.append([r])
    return groups


def _claim(q: str, rs: list[Reading], problem, base: int, source: str) -> Claim:
    shape = _expected_shape(q, problem)
    value = np.empty(shape, dtype=object)
    decimals = np.full(shape, -1, dtype=int)
    filled = np.zeros(shape, dtype=bool)
    lines: list[int] = []
    texts: list[str] = []
    for r in rs:
        if r.label.index is None:
            v = _fit(r.value.array, shape)
            if v is None:
                raise UserError(f"the {_name(q)} has shape {list(r.value.array.shape)}, but it should have shape "
                                f"{list(shape)}", f"{source}: line {r.line}")
            d = np.broadcast_to(r.value.decimals, r.value.array.shape).reshape(shape)
            for idx in np.ndindex(shape):
                _put(value, decimals, filled, idx, v[idx], int(d[idx]), r, rs, source, q)
        elif None in r.label.index:   # a slice Ŷ_{0,1,:,:}
            lead = tuple(i - base for i in r.label.index if i is not None)
            sub = _element_index(lead, shape[:-2]) if len(shape) > 2 else None
            if sub is None or r.value.array.shape != shape[-2:]:
                raise UserError(f"{_clip(r.text, 40)}: the slice {list(r.label.index)} does not fit the "
                                f"{_name(q)} of shape {list(shape)}", f"{source}: line {r.line}")
            for inner in np.ndindex(shape[-2:]):
                _put(value, decimals, filled, sub + inner, r.value.array[inner],
                     int(np.broadcast_to(r.value.decimals, shape[-2:])[inner]), r, rs, source, q)
        else:
            idx = tuple(i - (0 if r.label.position else base) for i in r.label.index)
            idx = _element_index(idx, shape)
            if idx is None:
                raise UserError(f"{_clip(r.text, 40)}: index {list(r.label.index)} is outside the {_name(q)} of "
                                f"shape {list(shape)} ({'1' if base else '0'}-based)", f"{source}: line {r.line}")
            _put(value, decimals, filled, idx, r.value.array[()], int(r.value.decimals), r, rs, source, q)
        if r.line not in lines:
            lines.append(r.line)
            texts.append(_clip(r.text, 50))
    where = f"line {lines[0]}" if len(lines) == 1 else "lines " + ", ".join(str(n) for n in lines[:8])
    return Claim(q, value, decimals, where, "; ".join(texts[:4]))


def _element_index(idx: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...] | None:
    if len(shape) < len(idx):
        return None
    full = (0,) * (len(shape) - len(idx)) + idx
    if any(s != 1 for s in shape[: len(shape) - len(idx)]):
        return None
    if any(i < 0 or i >= s for i, s in zip(full, shape)):
        return None
    return full


def _put(value, decimals, filled, idx, v, d, r: Reading, rs: list[Reading], source: str, q: str) -> None:
    if not filled[idx]:
        value[idx], decimals[idx], filled[idx] = v, d, True
        return
    old, old_d = value[idx], int(decimals[idx])
    if old == v:
        decimals[idx] = max(old_d, d) if min(old_d, d) >= 0 else -1
        return
    coarse, fine = (old_d, v) if 0 <= old_d and (d < 0 or old_d < d) else (d, old)
    if coarse >= 0 and abs(fine - (old if fine is v else v)) <= Fraction(1, 2) * Fraction(10) ** -coarse:
        if fine is v:
            value[idx], decimals[idx] = v, d
        return
    first = next((o for o in rs if o is not r), r)
    entry = f" {list(idx)}" if idx else ""
    raise _Disagree(f"two different values for the {_name(q)}{entry}: {_show(old)} (line {first.line}) and "
                    f"{_show(v)} (line {r.line})", f"{source}: line {r.line}")


def _show(v: Fraction) -> str:
    """A value as a person wrote it: a decimal when it terminates, else p/q."""
    d = v.denominator
    while d % 2 == 0:
        d //= 2
    while d % 5 == 0:
        d //= 5
    if d != 1:
        return str(v)
    from decimal import Decimal
    return format(Decimal(v.numerator) / Decimal(v.denominator), "f")


def _merge(a: Claim, b: Claim, source: str) -> Claim:
    value, decimals = a.value.copy(), a.decimals.copy()
    for idx in np.ndindex(value.shape):
        if b.value[idx] is None:
            continue
        if value[idx] is None:
            value[idx], decimals[idx] = b.value[idx], b.decimals[idx]
        elif value[idx] != b.value[idx]:
            raise UserError(f"two different values for the {_name(a.quantity)} {list(idx)}: {_show(value[idx])} "
                            f"({a.where}) and {_show(b.value[idx])} ({b.where})", f"{source}: {b.where}")
    return Claim(a.quantity, value, decimals, f"{a.where}; {b.where}", f"{a.text}; {b.text}")
