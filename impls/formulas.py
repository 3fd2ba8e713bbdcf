"""The hand-derived forward and backward pass, written once against the array API.

The same formulas run on NumPy floats (`manual`), on NumPy object arrays of Fractions
(`exact`) and on torch / jax arrays (`array_api`). Notation (cross-correlation, groups=1
shown; the code handles groups by a leading group axis):

    Z[n,o,p,q]  = Σ_{c,i,j} x_pad[n, c, p·s_h + i·d_h, q·s_w + j·d_w] · W[o,c,i,j] + b[o]
    Ŷ           = relu(Z) or Z
    ∂L/∂Ŷ       = from the loss (table LOSSES below)
    δ = ∂L/∂Z   = ∂L/∂Ŷ ⊙ 1[Z > 0]  (ReLU'(0) = 0)  or ∂L/∂Ŷ
    ∂L/∂W[o,c,i,j] = Σ_{n,p,q} δ[n,o,p,q] · x_pad[n, c, p·s_h + i·d_h, q·s_w + j·d_w]
    ∂L/∂x_pad[n, c, p·s_h + i·d_h, q·s_w + j·d_w] += Σ_o W[o,c,i,j] · δ[n,o,p,q]
                = fold(W_matᵀ · δ), the adjoint of the unfolding (im2col) that gave Z —
                  the same numbers as the full correlation of the stride-dilated δ with the
                  180°-flipped, channel-transposed filter, without multiplying the inserted zeros;
                  cropped to the unpadded input
    ∂L/∂b[o]    = Σ_{n,p,q} δ[n,o,p,q]
    W'          = W − η ∂L/∂W,   b' = b − η ∂L/∂b

"convolution" (the kernel flipped 180°) is cross-correlation with flip(W); by the chain
rule its filter gradient is the flip of the cross-correlation one.
"""

from __future__ import annotations

from fractions import Fraction


def numpy_namespace():
    """The array-API namespace for NumPy arrays (floats or Fractions): NumPy itself from 2.0 on, which
    implements the standard; array_api_compat's wrapper before. (The wrapper star-imports numpy, which
    loads f2py, testing, polynomial, random …: about 75 ms of start-up that `verify` would pay.)"""
    import numpy as np
    if int(np.__version__.split(".")[0]) >= 2:
        return np
    import array_api_compat.numpy as xp
    return xp


def _zeros(xp, like, shape):
    return xp.zeros(shape, dtype=like.dtype, device=_device(like))


def _device(a):
    try:
        from array_api_compat import device
    except ImportError:   # NumPy >= 2 arrays know their device; array-api-compat is only needed for torch/jax
        return a.device
    return device(a)


def pad2d(xp, a, padding):
    """Zero-pad the last two axes by ((top, bottom), (left, right))."""
    (top, bottom), (left, right) = padding
    n, c, h, w = a.shape
    if top or bottom:
        a = xp.concat([_zeros(xp, a, (n, c, top, w)), a, _zeros(xp, a, (n, c, bottom, w))], axis=2)
        h += top + bottom
    if left or right:
        a = xp.concat([_zeros(xp, a, (n, c, h, left)), a, _zeros(xp, a, (n, c, h, right))], axis=3)
    return a


def unfold(xp, x_pad, khw, stride, dilation, out_hw):
    """cols[n, c, i·kw + j, p·W_c + q] = x_pad[n, c, p·s_h + i·d_h, q·s_w + j·d_w]: one slice per filter tap.
    Returns (cols, W_c), W_c the columns each output row takes in cols.

    Stride (1, 1): each tap is one contiguous run of the flattened image, W_c = the padded width: the
    rows of cols are then long runs of memory (copies ~3× faster than W_out-long pieces), at the price
    of W_pad − W_out columns per output row that wrap around into the next image row. Those columns
    are computed by the product and dropped (`narrow`); their gradient δ is zero (`widen`).
    Otherwise W_c = W_out."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = khw, stride, dilation, out_hw
    n, c, hp, wp = x_pad.shape
    if row_width(stride, wp, wo) == wo:
        taps = [x_pad[:, :, i * dh: i * dh + sh * (ho - 1) + 1: sh, j * dw: j * dw + sw * (wo - 1) + 1: sw]
                for i in range(kh) for j in range(kw)]
        return xp.reshape(xp.stack(taps, axis=2), (n, c, kh * kw, ho * wo)), wo
    # the last tap reads (kw−1)·d_w elements past the image: one zero row below covers them
    flat = xp.reshape(pad2d(xp, x_pad, ((0, 1), (0, 0))), (n, c, (hp + 1) * wp))
    taps = [flat[:, :, i * dh * wp + j * dw: i * dh * wp + j * dw + ho * wp] for i in range(kh) for j in range(kw)]
    return xp.stack(taps, axis=2), wp


def row_width(stride, wp, wo) -> int:
    """W_c, the columns one output row takes in cols: the padded width for stride (1, 1), else W_out."""
    return wp if tuple(stride) == (1, 1) else wo


def narrow(xp, a, wc, wo):
    """(…, H_out·W_c) → (…, H_out, W_out): drop the wrapped columns of a wide layout."""
    a = xp.reshape(a, a.shape[:-1] + (a.shape[-1] // wc, wc))
    return a[..., :wo] if wc != wo else a


def widen(xp, a, wc):
    """(…, H_out, W_out) → (…, H_out·W_c), the extra columns zero (the adjoint of `narrow`)."""
    wo = a.shape[-1]
    if wc != wo:
        a = xp.concat([a, _zeros(xp, a, a.shape[:-1] + (wc - wo,))], axis=a.ndim - 1)
    return xp.reshape(a, a.shape[:-2] + (a.shape[-2] * wc,))


def correlate(xp, x, w, stride, padding, dilation, groups):
    """Z = x ⋆ W (no bias), and the unfolded input grouped as (N, g, C_in/g·kh·kw, H_out·W_c) with W_c."""
    n, c_in, h, wd = x.shape
    c_out, c_g, kh, kw = w.shape
    (pt, pb), (pl, pr) = padding
    ho = (h + pt + pb - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (wd + pl + pr - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    cols, wc = unfold(xp, pad2d(xp, x, padding), (kh, kw), stride, dilation, (ho, wo))
    cols = xp.reshape(cols, (n, groups, c_g * kh * kw, ho * wc))
    w_mat = xp.reshape(w, (groups, c_out // groups, c_g * kh * kw))
    z = xp.matmul(w_mat, cols)                       # (N, g, C_out/g, H_out·W_c)
    return narrow(xp, xp.reshape(z, (n, c_out, ho * wc)), wc, wo), (cols, wc)


def dilate(xp, g, stride):
    """Insert s−1 zeros between neighbouring entries of the last two axes (the stride's adjoint)."""
    sh, sw = stride
    n, c, h, w = g.shape
    if sw > 1:
        g = xp.concat([xp.expand_dims(g, axis=4), _zeros(xp, g, (n, c, h, w, sw - 1))], axis=4)
        g = xp.reshape(g, (n, c, h, w * sw))[:, :, :, : (w - 1) * sw + 1]
        w = (w - 1) * sw + 1
    if sh > 1:
        g = xp.concat([xp.expand_dims(g, axis=3), _zeros(xp, g, (n, c, h, sh - 1, w))], axis=3)
        g = xp.reshape(g, (n, c, h * sh, w))[:, :, : (h - 1) * sh + 1, :]
    return g


def grad_filter(xp, delta, unfolded, w_shape, groups):
    """∂L/∂W[o, c, i, j] = Σ_{n,p,q} δ[n,o,p,q] · x_pad[n, c, p·s_h + i·d_h, q·s_w + j·d_w]."""
    cols, wc = unfolded
    c_out = w_shape[0]
    n = delta.shape[0]
    d = xp.reshape(widen(xp, delta, wc), (n, groups, c_out // groups, cols.shape[-1]))
    dW = xp.sum(xp.matmul(d, xp.matrix_transpose(cols)), axis=0)   # (g, C_out/g, C_in/g·kh·kw)
    return xp.reshape(dW, w_shape)


def grad_input(xp, delta, w, x_shape, stride, padding, dilation, groups):
    """∂L/∂x: ∂L/∂cols = W_matᵀ · δ, folded back onto the padded image (`fold`) and cropped."""
    c_out, c_g, kh, kw = w.shape
    n, c_in = x_shape[:2]
    (pt, pb), (pl, pr) = padding
    hp, wp = x_shape[2] + pt + pb, x_shape[3] + pl + pr
    ho, wo = delta.shape[2:]
    wc = row_width(stride, wp, wo)
    w_mat = xp.reshape(w, (groups, c_out // groups, c_g * kh * kw))
    d = xp.reshape(widen(xp, delta, wc), (n, groups, c_out // groups, ho * wc))
    dcols = xp.reshape(xp.matmul(xp.matrix_transpose(w_mat), d), (n, c_in, kh * kw, ho * wc))
    dx_pad = fold(xp, dcols, (hp, wp), (kh, kw), stride, dilation, (ho, wo), wc)
    return dx_pad[:, :, pt: pt + x_shape[2], pl: pl + x_shape[3]]


def fold(xp, dcols, pad_hw, khw, stride, dilation, out_hw, wc):
    """The adjoint of `unfold`: dx_pad[n, c, p·s_h + i·d_h, q·s_w + j·d_w] = Σ over the taps (i, j) that
    reach it of dcols[n, c, i·kw + j, p·W_c + q], the taps added in order.

    NumPy and torch arrays take each tap as an in-place add into its slice of dx_pad. jax arrays are
    immutable: there each tap is placed on a zero image (zeros between strided positions and around)
    and the placements are summed — the same sums, with a full-size temporary per tap."""
    (hp, wp), (kh, kw), (sh, sw), (dh, dw), (ho, wo) = pad_hw, khw, stride, dilation, out_hw
    n, c = dcols.shape[:2]
    wide = wc != wo                     # then tap (i, j) is the run of the flattened image from i·d_h·W_pad + j·d_w
    size = (hp + 1) * wp                # (one spare row: see `unfold`)
    total = _zeros(xp, dcols, (n, c, size) if wide else (n, c, hp, wp))
    for i in range(kh):
        for j in range(kw):
            tap = dcols[:, :, i * kw + j]
            if wide:
                start = i * dh * wp + j * dw
                if _mutable(total):
                    total[:, :, start: start + ho * wc] += tap
                else:
                    total = total + xp.concat([_zeros(xp, tap, (n, c, start)), tap,
                                               _zeros(xp, tap, (n, c, size - start - ho * wc))], axis=2)
            else:
                tap = xp.reshape(tap, (n, c, ho, wo))
                top, left = i * dh, j * dw
                if _mutable(total):
                    total[:, :, top: top + (ho - 1) * sh + 1: sh, left: left + (wo - 1) * sw + 1: sw] += tap
                else:
                    spread = dilate(xp, tap, (sh, sw))
                    total = total + pad2d(xp, spread, ((top, hp - top - spread.shape[2]),
                                                       (left, wp - left - spread.shape[3])))
    return xp.reshape(total, (n, c, hp + 1, wp))[:, :, :hp, :] if wide else total


def _mutable(a) -> bool:
    """Whether `a` can be updated in place: NumPy and torch arrays can, jax arrays are immutable."""
    return not type(a).__module__.startswith("jax")


def _num(a, value):
    """A problem constant (a Fraction) in the arithmetic of `a`: exact for object arrays, else float."""
    return value if getattr(a, "dtype", None) == object else float(value)


def loss_and_grad(xp, y_hat, target, g_given, loss: str):
    """L and ∂L/∂Ŷ for each loss convention (diff = Ŷ − Y, n = number of output elements)."""
    if loss == "linear":
        return xp.sum(g_given * y_hat), g_given
    n = 1
    for s in y_hat.shape:
        n *= s
    diff = y_hat - target
    sq = xp.sum(diff * diff)
    half, inv_n = _num(diff, Fraction(1, 2)), _num(diff, Fraction(1, n))
    if loss == "mean":
        return sq * inv_n, diff * (2 * inv_n)
    if loss == "sum":
        return sq, diff * 2
    if loss == "half_sum":
        return sq * half, diff
    if loss == "half_mean":
        return sq * (half * inv_n), diff * inv_n
    raise ValueError(f"unknown loss {loss!r}")


def _positive(xp, z):
    mask = z > 0
    return mask.astype(bool) if getattr(mask, "dtype", None) == object else mask


def one_step(xp, p, x, w, b, target, g_given):
    """One forward + backward + update. Returns a dict of every quantity (arrays of `xp`)."""
    flip = p.operation == "convolution"
    w_eff = xp.flip(w, axis=(2, 3)) if flip else w
    z, unfolded = correlate(xp, x, w_eff, p.stride, p.padding, p.dilation, p.groups)
    if b is not None:
        z = z + xp.reshape(b, (1, b.shape[0], 1, 1))
    if p.activation == "relu":
        positive = _positive(xp, z)
        a = xp.where(positive, z, z * 0)
        y_hat = a
    else:
        a, y_hat = None, z
    loss, dL_dYhat = loss_and_grad(xp, y_hat, target, g_given, p.loss)
    delta = xp.where(positive, dL_dYhat, dL_dYhat * 0) if a is not None else dL_dYhat   # ∂L/∂Z
    dL_dW = grad_filter(xp, delta, unfolded, w.shape, p.groups)
    if flip:
        dL_dW = xp.flip(dL_dW, axis=(2, 3))
    dL_dx = grad_input(xp, delta, w_eff, x.shape, p.stride, p.padding, p.dilation, p.groups)
    dL_db = xp.sum(delta, axis=(0, 2, 3)) if b is not None else None
    new_w = new_b = None
    if p.lr is not None:
        lr = _num(w, p.lr)
        new_w = w - lr * dL_dW
        new_b = b - lr * dL_db if b is not None else None
    return {"output": z, "activation": a, "loss": loss, "grad_output": dL_dYhat, "grad_filter": dL_dW,
            "grad_input": dL_dx, "grad_bias": dL_db, "updated_filter": new_w, "updated_bias": new_b}


def run_steps(xp, p, x, w, b, target, g_given):
    """K SGD steps; each step starts from the previous step's updated filter and bias."""
    out = []
    for _ in range(p.steps):
        q = one_step(xp, p, x, w, b, target, g_given)
        out.append(q)
        if q["updated_filter"] is not None:
            w, b = q["updated_filter"], (q["updated_bias"] if b is not None else None)
    return out
