"""The expected verdict of every corpus document, computed independently of crossgrad.

Each `cases/NAME.toml` is a person's reading of `docs/NAME.*` (the problem as a tutor reads it and the values the
document claims, transcribed as written). This script recomputes the pipeline with torch float64 autograd on
`F.conv2d` -- no crossgrad code -- and gives each claimed step a status:

    ok         the true value, rounded to the decimals the document wrote (or what follows from the document's own
               earlier values when those were right but rounded)
    carried    wrong, but what follows from the document's own earlier (wrong) values
    wrong      neither
    unchecked  the document does not give what the step needs (no target and no upstream gradient)

Inputs printed rounded (`inputs_rounded = true`) are handled by sampling the rounding box: a claim is right when it
lies within the range the samples reach, widened by its own rounding.

    python tests/corpus/expected.py cases/NAME.toml ...   # print the statuses of some cases
    python tests/corpus/expected.py --write               # all cases -> expected.json
"""

from __future__ import annotations

import json
import sys
import tomllib
from decimal import Decimal
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
QUANTITIES = ("output", "activation", "loss", "grad_output", "grad_filter", "grad_input", "grad_bias",
              "updated_filter", "updated_bias")
SAMPLES = 256


# --- reading ------------------------------------------------------------------------------------------------

def _entry(v):
    """(value as float, half a unit in the last written place; 0 = exact, None = not written)."""
    if isinstance(v, str):
        s = v.strip()
        if s == "?":
            return float("nan"), None
        if "/" in s:
            p, q = s.split("/")
            return float(Decimal(p) / Decimal(q)), 0.0
        v = Decimal(s)
    if isinstance(v, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(v, int):
        return float(v), 0.0
    if isinstance(v, float):
        v = Decimal(repr(v))
    exp = v.as_tuple().exponent
    half = 0.5 * 10.0 ** exp if exp < 0 else 0.0
    digits = len(v.as_tuple().digits)
    if digits >= 6:   # a float32 printout: its last digits carry float32 rounding of the author's computation
        half = max(half, 2e-6 * abs(float(v)))
    return float(v), half


def _array(v):
    """A nested list / scalar -> (values, half-units, written mask) as float64 arrays of the list's shape."""
    def shape(x):
        return (len(x),) + shape(x[0]) if isinstance(x, list) and x else ()

    def leaves(x):
        if isinstance(x, list):
            for e in x:
                yield from leaves(e)
        else:
            yield _entry(x)
    es = list(leaves(v))
    sh = shape(v)
    if len(es) != int(np.prod(sh)):
        raise SystemExit(f"ragged array: {v!r}")
    value = np.array([e[0] for e in es], dtype=float).reshape(sh)
    half = np.array([0.0 if e[1] is None else e[1] for e in es], dtype=float).reshape(sh)
    mask = np.array([e[1] is not None for e in es], dtype=bool).reshape(sh)
    return value, half, mask


def load(path: Path) -> dict:
    with open(path, "rb") as f:
        return tomllib.load(f, parse_float=Decimal)


# --- the pipeline in torch float64 ------------------------------------------------------------------------------

def _as4(a: np.ndarray, kind: str) -> torch.Tensor:
    t = torch.tensor(a, dtype=torch.float64)
    if kind == "input":
        while t.ndim < 4:
            t = t.unsqueeze(0)
    else:   # filter: (kh,kw) -> (1,1,kh,kw); (C_in,kh,kw) -> (1,C_in,kh,kw)
        while t.ndim < 4:
            t = t.unsqueeze(0)
    return t


def _pair(v, default):
    if v is None:
        return (default, default)
    if isinstance(v, list):
        return tuple(int(e) for e in v)
    return (int(v), int(v))


def _padding(p: dict, x: torch.Tensor, w: torch.Tensor, stride, dilation):
    pad = p.get("padding", 0)
    H, W = x.shape[2:]
    kh, kw = w.shape[2:]
    if pad in ("valid",):
        return (0, 0, 0, 0)
    if pad == "same":
        out = []
        for n, k, s, d in ((H, kh, stride[0], dilation[0]), (W, kw, stride[1], dilation[1])):
            o = -(-n // s)
            total = max((o - 1) * s + (k - 1) * d + 1 - n, 0)
            out.append((total // 2, total - total // 2))
        (t, b), (l, r) = out
        return (l, r, t, b)
    if isinstance(pad, list):
        if isinstance(pad[0], list):
            (t, b), (l, r) = pad
            return (int(l), int(r), int(t), int(b))
        ph, pw = (int(e) for e in pad)
        return (pw, pw, ph, ph)
    return (int(pad),) * 4


def run_pipeline(p: dict, x, w, b, target, grad_given, lr, steps: int, fixed: list[dict] | None = None):
    """The true trajectory (fixed=None), or each step recomputed from the document's own values (fixed: per step,
    {quantity: tensor} of claimed values to substitute). Returns per step {quantity: tensor}."""
    stride = _pair(p.get("stride"), 1)
    dilation = _pair(p.get("dilation"), 1)
    groups = int(p.get("groups", 1))
    loss_kind = p.get("loss", "mean" if target is not None else "linear")
    relu = p.get("activation", "none") == "relu"
    flip = p.get("operation", "cross_correlation") == "convolution"
    out = []
    for k in range(steps):
        sub = (fixed[k] if fixed else {})
        w = sub.get("filter", w).detach().clone().requires_grad_(True)
        bb = None if b is None else sub.get("bias", b).detach().clone().requires_grad_(True)
        xx = x.detach().clone().requires_grad_(True)
        pad = _padding(p, xx, w, stride, dilation)
        wk = torch.flip(w, dims=(2, 3)) if flip else w
        z = F.conv2d(F.pad(xx, pad), wk, bb, stride=stride, dilation=dilation, groups=groups)
        z.retain_grad()
        zc = sub.get("output", z)
        a = torch.relu(zc) if relu else zc
        ac = sub.get("activation", a) if relu else a
        yhat = ac.reshape(z.shape)
        rec = {"output": z.detach(), "activation": a.detach()}
        if target is None and grad_given is None:
            out.append(rec)
            continue
        if loss_kind == "linear":
            G = grad_given.reshape(z.shape)
            L = (G * yhat).sum()
            g_yhat = G
        else:
            T = target.reshape(z.shape)
            n = T.numel()
            e2 = ((yhat - T) ** 2).sum()
            L = {"mean": e2 / n, "sum": e2, "half_sum": e2 / 2, "half_mean": e2 / (2 * n)}[loss_kind]
            g_yhat = {"mean": 2 / n, "sum": 2.0, "half_sum": 1.0, "half_mean": 1.0 / n}[loss_kind] * (yhat - T)
        # an "error" matrix written in place of dL/dY under the author's sign: target - output is -dL/dY
        es = -1.0 if p.get("error_sign") == "target_minus_output" else 1.0
        rec["loss"] = L.detach()
        rec["grad_output"] = (es * g_yhat).detach()
        g = (es * sub["grad_output"] if "grad_output" in sub else g_yhat).reshape(z.shape)
        if relu:   # the gradient reaching the conv output through ReLU (ReLU'(0) = 0)
            g = g * (zc.detach().reshape(z.shape) > 0)
        dW, dX = torch.autograd.grad(z, (w, xx), g, retain_graph=True)
        rec["grad_filter"], rec["grad_input"] = dW, dX
        if bb is not None:
            rec["grad_bias"] = g.detach().sum(dim=(0, 2, 3))
        if lr is not None:
            rec["updated_filter"] = (w - lr * sub.get("grad_filter", dW)).detach()
            if bb is not None:
                rec["updated_bias"] = (bb - lr * sub.get("grad_bias", rec["grad_bias"])).detach()
        out.append(rec)
        w = rec.get("updated_filter", w).detach()
        if bb is not None:
            b = rec.get("updated_bias", bb).detach()
    return out


# --- statuses ---------------------------------------------------------------------------------------------------

def _fit(claim: np.ndarray, shape) -> np.ndarray | None:
    if claim.shape == tuple(shape):
        return claim
    if claim.size == int(np.prod(shape)) and [d for d in claim.shape if d != 1] == [d for d in shape if d != 1]:
        return claim.reshape(shape)
    return None


def _within(claim, half, mask, lo, hi) -> bool:
    slack = half + 1e-9 * np.maximum(1.0, np.maximum(abs(lo), abs(hi)))
    ok = (claim >= lo - slack) & (claim <= hi + slack)
    return bool(np.all(ok | ~mask))


DEPENDS = {"output": (), "activation": ("output",), "loss": ("activation", "output"),
           "grad_output": ("activation", "output"), "grad_filter": ("grad_output", "activation", "output"),
           "grad_input": ("grad_output", "activation", "output"), "grad_bias": ("grad_output", "activation", "output"),
           "updated_filter": ("grad_filter",), "updated_bias": ("grad_bias",)}


def _upstream(q: str) -> set[str]:
    seen, todo = set(), list(DEPENDS[q])
    while todo:
        d = todo.pop()
        if d not in seen:
            seen.add(d)
            todo.extend(DEPENDS[d])
    return seen


def statuses(case: dict) -> list[dict[str, str]]:
    p = case["problem"]
    rounded = bool(case.get("inputs_rounded", False))
    arrays = {k: _array(p[k]) for k in ("input", "filter", "target", "grad_output", "bias") if k in p}
    lr = None if "learning_rate" not in p else _entry(p["learning_rate"])[0]
    steps = case.get("step", [])
    K = max(1, len(steps))
    if lr is None and any("updated_filter" in s or "updated_bias" in s for s in steps):
        lr = _infer_lr(case, arrays, K)

    def draw(rng):
        def t(k):
            if k not in arrays:
                return None
            v, h, _ = arrays[k]
            if rng is not None and rounded:
                v = v + rng.uniform(-1, 1, v.shape) * h
            return torch.tensor(v, dtype=torch.float64)
        x = _as4(t("input").numpy(), "input")
        w = _as4(t("filter").numpy(), "filter")
        b = t("bias")
        return x, w, None if b is None else b.reshape(-1), t("target"), t("grad_output")

    x, w, b, T, G = draw(None)
    truth = run_pipeline(p, x, w, b, T, G, lr, K)
    samples = [truth]
    if rounded:
        rng = np.random.default_rng(0)
        for _ in range(SAMPLES):
            xs, ws, bs, Ts, Gs = draw(rng)
            samples.append(run_pipeline(p, xs, ws, bs, Ts, Gs, lr, K))

    # the document's own values, substituted step by step
    claimed = []
    for k, s in enumerate(steps):
        c = {}
        for q in QUANTITIES:
            if q in s:
                v, h, m = _array(s[q])
                ref = truth[k].get(q)
                if ref is None:
                    c[q] = (v, h, m, None)
                    continue
                fv = _fit(v, ref.shape)
                if fv is None:
                    raise SystemExit(f"{case.get('document')}: step {k + 1} {q}: shape {list(v.shape)} does not fit "
                                     f"{list(ref.shape)}")
                c[q] = (fv, _fit(h, ref.shape), _fit(m, ref.shape), ref.shape)
        claimed.append(c)

    def subst(k_upto: int) -> list[dict]:
        fixed = []
        for k in range(K):
            d = {}
            if k > 0 and k - 1 < len(claimed):
                prev = claimed[k - 1]
                if "updated_filter" in prev and prev["updated_filter"][2].all():
                    d["filter"] = torch.tensor(prev["updated_filter"][0]).reshape(w.shape)
                if "updated_bias" in prev and b is not None and prev["updated_bias"][2].all():
                    d["bias"] = torch.tensor(prev["updated_bias"][0]).reshape(b.shape)
            if k < len(claimed):
                for q, (v, h, m, shape) in claimed[k].items():
                    if shape is not None and m.all() and q in ("output", "activation", "grad_output",
                                                               "grad_filter", "grad_bias"):
                        d[q] = torch.tensor(v).reshape(shape)
            fixed.append(d)
        return fixed

    own = run_pipeline(p, x, w, b, T, G, lr, K, fixed=subst(K))
    result = []
    for k, c in enumerate(claimed):
        st = {}
        for q in QUANTITIES:
            if q not in c:
                continue
            v, h, m, shape = c[q]
            if shape is None:
                st[q] = "unchecked"
                continue
            vals = np.stack([s[k][q].numpy() for s in samples if q in s[k]])
            lo, hi = vals.min(axis=0), vals.max(axis=0)
            if _within(v, h, m, lo, hi):
                st[q] = "ok"
                continue
            o = own[k].get(q)
            if o is not None and _within(v, h, m, o.numpy(), o.numpy()):
                # what follows from the document's own values: right-but-rounded ones carry their rounding
                # forward (ok); wrong ones make this step carried
                used = [st[d] for d in _upstream(q) if d in st]
                if k > 0:
                    used += [result[k - 1][u] for u in ("updated_filter", "updated_bias") if u in result[k - 1]]
                st[q] = "carried" if any(u in ("wrong", "carried") for u in used) else "ok"
                continue
            st[q] = "wrong"
        result.append(st)
    return result


def _infer_lr(case, arrays, K):
    """No learning rate stated: the one the first claimed update implies (rounded to 3 significant digits)."""
    p = case["problem"]
    for k, s in enumerate(case["step"]):
        if "updated_filter" not in s:
            continue
        x = _as4(arrays["input"][0], "input")
        w = _as4(arrays["filter"][0], "filter")
        b = torch.tensor(arrays["bias"][0]).reshape(-1) if "bias" in arrays else None
        T = torch.tensor(arrays["target"][0]) if "target" in arrays else None
        G = torch.tensor(arrays["grad_output"][0]) if "grad_output" in arrays else None
        tr = run_pipeline(p, x, w, b, T, G, 1.0, k + 1)
        if "grad_filter" not in tr[k]:
            return None
        wk = w if k == 0 else torch.tensor(_array(case["step"][k - 1]["updated_filter"])[0]).reshape(w.shape)
        new, _, m = _array(s["updated_filter"])
        g = tr[k]["grad_filter"].numpy().reshape(-1)
        dw = (wk.numpy().reshape(-1) - new.reshape(-1))
        sel = (np.abs(g) > 1e-12) & m.reshape(-1)
        if not sel.any():
            return None
        eta = float(np.median(dw[sel] / g[sel]))
        return float(f"{eta:.3g}")
    return None


def verdict(st: list[dict[str, str]]) -> str:
    flat = [s for step in st for s in step.values()]
    return "wrong" if any(s in ("wrong", "carried") for s in flat) else "ok"


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--write":
        out = {}
        for path in sorted((HERE / "cases").glob("*.toml")):
            case = load(path)
            st = statuses(case)
            out[path.stem] = {"document": case["document"], "verdict": verdict(st), "steps": st,
                              "diagnosis": case.get("other", {}).get("diagnosis", case.get("diagnosis"))}
        (HERE / "expected.json").write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
        print(f"{len(out)} cases -> {HERE / 'expected.json'}")
        return 0
    for a in argv:
        case = load(Path(a))
        st = statuses(case)
        print(f"{Path(a).stem}: {verdict(st)}")
        for k, step in enumerate(st):
            print(f"  step {k + 1}: " + ", ".join(f"{q}={s}" for q, s in step.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
