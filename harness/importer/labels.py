"""The vocabulary: what a label (a LaTeX left-hand side, a prose phrase, a code name) says is there.

A `Label` names a quantity: the inputs (input, filter, target, bias, grad_output as given,
learning_rate, stride), the claimable steps (output, activation, loss, grad_*, updated_*), `error`
(a matrix E = Y − Ŷ or Ŷ − Y), or `skip` (a matrix that is not a pipeline step, with the reason).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Label:
    quantity: str
    index: tuple[int, ...] | None = None     # a single element, as written (base decided later)
    iteration: int | None = None             # W^{(2)}: the update of iteration 2 (1-based as written)
    next_iteration: bool = False             # "the new loss", "output with the updated filter"
    initial: bool = False                    # "initial loss", W^{(0)}
    pre_activation: bool = False             # ∂L/∂Z: the gradient before the ReLU
    reason: str = ""                         # for skip
    approx: bool = False                     # "rounded", "≈": an input shown rounded
    position: bool = False                   # the index says where in words ("top-left"): 0-based whatever
    terms: tuple = ()                        # window_sum: the (a, b) products code summed (np.sum(w * x))


# --- LaTeX left-hand sides ----------------------------------------------------------------------

_UNICODE = str.maketrans({"η": r"\eta ", "α": r"\alpha ", "∂": r"\partial ", "∇": r"\nabla ", "′": "'",
                          "δ": r"\delta ", "Δ": r"\Delta ", "Ŷ": r"\hat{Y}", "ŷ": r"\hat{y}", "−": "-",
                          "ℒ": "L", "𝓛": "L", "ℓ": "L"})
_UNWRAP = re.compile(r"\\(?:mathbf|boldsymbol|bm|mathrm|mathit|mathsf|textbf|textrm|text|operatorname|mbox|"
                     r"mathcal|mathbb|mathscr|textit|emph)\s*\{([^{}]*)\}")
_HAT = re.compile(r"\\(?:widehat|hat)\s*(?:\{([^{}]*)\}|([A-Za-z]))")
_DROP = re.compile(r"\\(?:left|right|bigl|bigr|Bigl|Bigr|big|Big|displaystyle|textstyle|,|;|!|:)(?![A-Za-z])")


def normalize(latex: str) -> str:
    """A LaTeX label in a canonical spelling: no spaces or font macros, ∂ ∇ η α δ as symbols,
    \\hat{Y} as hat(Y), primes as '."""
    s = latex.translate(_UNICODE)
    s = _DROP.sub("", s)
    for _ in range(3):
        s = _UNWRAP.sub(r"\1", s)
    s = _HAT.sub(lambda m: f"hat({m.group(1) or m.group(2)})", s)
    s = re.sub(r"\^\{?\\prime\}?", "'", s)
    s = re.sub(r"\\(partial|nabla|eta|alpha|delta|Delta)(?![A-Za-z])", lambda m: {
        "partial": "∂", "nabla": "∇", "eta": "η", "alpha": "α", "delta": "δ", "Delta": "Δ"}[m.group(1)], s)
    s = re.sub(r"\s+", "", s)
    s = re.sub(r"\{([^{}]*)\}'", r"\1'", s)
    return s


_LOSS_NUM = re.compile(r"^(?:L|E|J|C|Loss|loss|MSE|L_\{?\w+\}?)$")
_GRAD = [
    re.compile(r"^\\[dtc]?frac\{(?:∂|d)(?P<num>[^{}]+)\}\{(?:∂|d)(?P<den>.+)\}$"),
    re.compile(r"^\\[dtc]?frac\{(?:∂|d)\}\{(?:∂|d)(?P<den>[^{}]+)\}(?P<num>.+)$"),
    re.compile(r"^\((?:∂|d)(?P<num>[A-Za-z]+)\)/\((?:∂|d)(?P<den>.+)\)$"),
    re.compile(r"^(?:∂|d)(?P<num>[A-Za-z]+)/(?:∂|d)(?P<den>.+)$"),
    re.compile(r"^∇_\{?(?P<den>.+?)\}?(?P<num>L|E|J|\(.*\))?$"),
    re.compile(r"^(?:∂|d)(?P<num>L)_?(?:/)?(?:∂|d)?_?(?P<den>[A-Za-z]\w*)$"),
]
_GRAD_OF = {"filter": "grad_filter", "input": "grad_input", "output": "grad_output",
            "activation": "grad_output", "target": "grad_output", "bias": "grad_bias"}

_LETTERS = {
    "I": "input", "X": "input", "x": "input",
    "W": "filter", "K": "filter", "F": "filter", "w": "filter", "k": "filter",
    "Y": "target", "y": "target", "T": "target",
    "hat(Y)": "output", "hat(y)": "output", "hat(O)": "output", "O": "output", "Z": "output", "o": "output",
    "z": "output", "S": "output",
    "A": "activation", "a": "activation", "R": "activation",
    "L": "loss", "J": "loss", "Loss": "loss", "MSE": "loss", "C": "loss",
    "E": "loss_or_error", "e": "error", "Error": "error", "error": "error", "err": "error",
    "η": "learning_rate", "α": "learning_rate", "lr": "learning_rate", "LR": "learning_rate",
    "b": "bias", "B": "bias",
    "δ": "grad_output", "G": "grad_output", "g": "grad_output",
    "s": "stride", "stride": "stride",
}
_WORDS = {"input": "input", "image": "input", "filter": "filter", "kernel": "filter", "weights": "filter",
          "target": "target", "output": "output", "prediction": "output", "pred": "output", "bias": "bias",
          "relu": "activation", "ReLU": "activation"}
_NEW = r"new|updated|upd|next|t\+1|\+|\(t\+1\)|after"
_SKIP_SUB = {"pad": "a padded variant", "padded": "a padded variant", "desired": "a desired filter",
             "target": None, "true": None, "flip": "the flipped kernel", "flipped": "the flipped kernel",
             "rot": "the flipped kernel", "rot180": "the flipped kernel", "rotated": "the flipped kernel",
             "*": "a desired/optimal value", "opt": "a desired/optimal value"}
_INDEX_TWO = re.compile(r"^_\{?(\d)\s*,?\s*(\d)\}?$")          # W_{00}, W_00, W_{0,1}
_INDEX_LIST = re.compile(r"^(?:_\{\(?|\[|\()([\d:,\s]+?)(?:\)?\}|\]|\))$")  # W_{0,1,:,:}, W[0,1,0,0], W(0,1)
_INDEX_PAIR = re.compile(r"^\[(\d+)\]\[(\d+)\]$")                  # W[0][1]
_INDEX1 = re.compile(r"^(?:_\{?(\d+)\}?|\[(\d+)\])$")
_ACT = re.compile(r"^(?:ReLU|relu|f|σ|g)\((?:Z|O|hat\(Y\)|S)\)$|^\\max\(0,(?:Z|O|S)\)$")


def latex_label(latex: str, y_is_output: bool = False, bound=None) -> Label | None:
    """`bound`: symbols the document's prose named ("the input feature map $a$"), over the usual letters."""
    s = normalize(latex)
    if not s or len(s) > 80:
        return None
    if _ACT.match(s):
        return Label("activation")
    for pattern in _GRAD:
        m = pattern.match(s)
        if not m:
            continue
        num = (m.groupdict().get("num") or "L").strip("()")
        if not _LOSS_NUM.match(num):
            return None
        return _gradient_of(m["den"], y_is_output, bound)
    return _base(s, y_is_output, bound)


def _gradient_of(den: str, y_is_output: bool = False, bound=None) -> Label | None:
    """∂L/∂<den> by what <den> names: a symbol (W, \\hat{Y}, Y_{pred}, Z_{00}) or a code name (Yhat, y_pred,
    out, kernel); None when <den> names no quantity with a gradient."""
    base = _base(den, y_is_output, bound)
    if base is None and re.fullmatch(r"[A-Za-z_]\w*", den):
        base = code_label(den)
    if base is None or base.quantity not in _GRAD_OF:
        return None
    if base.iteration is not None or base.next_iteration:
        return None
    # Z (O, S): the convolution's own output, before an activation; Ŷ, A, out, pred: what the loss sees
    pre = base.quantity == "output" and re.match(r"[ZOzoS](?![A-Za-z])", den) is not None
    return Label(_GRAD_OF[base.quantity], base.index, pre_activation=pre)


def _base(s: str, y_is_output: bool, bound=None) -> Label | None:
    m = re.match(r"^(hat\([A-Za-z]\)|[A-Za-z]+|η|α|δ)(.*)$", s)
    if not m:
        return None
    letter, deco = m.group(1), m.group(2)
    quantity = (bound or {}).get(letter) or _LETTERS.get(letter) or _WORDS.get(letter)
    if quantity is None and letter.lower() in ("wnew", "knew", "wupdated"):
        quantity, deco = "filter", "_{new}" + deco
    if quantity is None:
        return None
    if quantity == "target" and y_is_output and letter in ("Y", "y") and letter not in (bound or {}):
        quantity = "output"
    label = Label(quantity)
    # subscripts/superscripts saying which kind of value: W_{new}, W^{(1)}, Y_{true}, X_{pad}
    primes = len(deco) - len(deco.lstrip("'"))
    deco = deco[primes:]
    if primes:
        label = Label(_updated(quantity), iteration=primes if primes > 1 else None)
        if label.quantity == "skip":
            return None
    mm = re.match(r"^(?:_|\^)\{?\(?(" + _NEW + r")\)?\}?(.*)$", deco)
    if mm and not primes:
        label, deco = Label(_updated(quantity)), mm.group(2)
        if label.quantity == "skip":
            return None
    mm = re.match(r"^\^\{?[(\[](\d+)[)\]]\}?(.*)$", deco)
    if mm:
        k, deco = int(mm.group(1)), mm.group(2)
        if k > 0:
            if quantity in ("filter", "bias"):
                label = Label(_updated(quantity), iteration=k)
            else:
                label = Label(label.quantity, iteration=k + 1 if quantity in ("input",) else k)
        else:
            label = Label(label.quantity, initial=True)
    mi = _INDEX1.match(deco)
    if mi and label.quantity in ("bias", "grad_bias", "updated_bias"):
        return Label(label.quantity, (int(mi.group(1) or mi.group(2)),), label.iteration)
    tags = (r"pred|out|hat|true|target|gt|init|old|0|pad|padded|desired|flip|flipped|rot|rot180|rotated|in|opt|"
            r"\*")
    mm = re.match(r"^(?:_\{(" + tags + r")\}|_(" + tags + r")(?=$|[_^'])|\^\{?(\*)\}?)(.*)$", deco)
    if mm:
        tag, deco = mm.group(1) or mm.group(2) or mm.group(3), mm.group(4)
        if tag in ("pred", "out", "hat"):
            label = Label("output")
        elif tag in ("true", "target", "gt"):
            label = Label("target")
        elif tag in ("init", "old", "0"):
            if deco and quantity in ("filter", "input", "target", "output"):
                return None
            label = Label(quantity, initial=True)
        elif tag == "in":
            pass
        else:
            return Label("skip", reason=f"{_SKIP_SUB.get(tag) or 'not a pipeline step'} ({s})")
    if not deco:
        return label
    index = _index(deco)
    if index is not None and len(index) >= 2:
        return Label(label.quantity, index, label.iteration)
    mi = _INDEX1.match(deco)
    if mi and label.quantity in ("bias", "grad_bias", "updated_bias"):
        return Label(label.quantity, (int(mi.group(1) or mi.group(2)),), label.iteration)
    return None


def _index(deco: str) -> tuple[int | None, ...] | None:
    """Element or slice indices: (0, 1) for W_{01}; (0, 1, None, None) for W_{0,1,:,:} (a 2-D slice)."""
    m = _INDEX_TWO.match(deco) or _INDEX_PAIR.match(deco)
    if m:
        return int(m.group(1)), int(m.group(2))
    m = _INDEX_LIST.match(deco)
    if not m:
        return None
    parts = [p.strip() for p in m.group(1).split(",")]
    if len(parts) > 4 or any(not (p.isdigit() or p == ":") for p in parts):
        return None
    index = tuple(None if p == ":" else int(p) for p in parts)
    if None in index and index[-2:] != (None, None):
        return None
    return index


def _updated(quantity: str) -> str:
    return {"filter": "updated_filter", "bias": "updated_bias", "updated_filter": "updated_filter"}.get(
        quantity, "skip")


# --- prose ---------------------------------------------------------------------------------------

_P = lambda pattern: re.compile(pattern, re.IGNORECASE)  # noqa: E731
_PROSE_SKIP = [
    (_P(r"\bafter\s+(\d{2,}|[6-9])\s+(epochs?|iterations?|steps?|updates?)\b"), "weights after many epochs"),
    (_P(r"\b(desired|target|true|ideal|optimal|goal)\s+(filter|kernel|weights?)\b"), "a desired filter, not a step"),
    (_P(r"\b(zero[- ])?padded\b|\bwith\s+(zero[- ])?padding\b|\bpadding\s*(=|of)\s*[1-9]"),
     "a padded variant of the forward pass"),
    (_P(r"\b(im2col|unfold|patches|patch matrix|receptive field|region|toeplitz|doubly block)\b"),
     "an intermediate matrix"),
    (_P(r"\b(transposed?|dilated|upsampled|stretched)\s+(filter|kernel|gradient|error|delta)\b"),
     "an intermediate matrix"),
]
_PROSE_GRAD_FAMILY = _P(r"\bgradients?\b|\bgrads?\b|∂|\bdL/d|\bderivatives?\b|\bdelta\b|δ|\bnabla\b|∇")
_WRT = _P(r"(?:with respect to|w\.?\s?r\.?\s?t\.?|\bwrt\b|\bof\b|\bfor\b|\bon\b)\s+(?:the\s+|each\s+|all\s+)?"
          r"(input|image|x\b|filter|kernel|weights?|w\b|output|prediction|feature map|activation|relu|bias|"
          r"y\b|ŷ|z\b|o\b|loss)")
_GRAD_WORDS = [
    (_P(r"\b(upstream|incoming|output|grad_out|error)\s+(gradient|grad|signal)|\bgrad_out(put)?\b|\bdelta\b|δ"),
     "grad_output"),
    (_P(r"\b(input|image)\s+gradients?\b"), "grad_input"),
    (_P(r"\b(filter|kernel|weights?)\s+gradients?\b"), "grad_filter"),
    (_P(r"\bbias\s+gradients?\b"), "grad_bias"),
]
# a gradient written as a symbol in text: dL/dYhat, ∂L/∂Ŷ, dL/dW₀₀, (∂L)/(∂x)
_GRAD_SYMBOL = re.compile(r"(?<![\w∂])\(?(?:∂|d)(?:L|E|J|C|Loss|loss|ℒ)\)?\s*/\s*"
                          r"\(?(?:∂|d)\s*(?P<den>[^\s=:≈,;()]+)\)?")
_SYMBOL_ENDS = re.compile(r"^[\s.]*(?:=|:|≈|:=|\bis\b|\bare\b|\bequals\b)?\s*$", re.IGNORECASE)
_KEYWORDS = [  # (pattern, quantity); the earliest match in the text wins
    (_P(r"\b(flip\w*|rotat\w*|flip of the|rot180)\s+(the\s+)?(filter|kernel|weights?)\b|"
        r"\b(filter|kernel)\s+(flipped|rotated|turned)\b"), "skip:the flipped kernel (an intermediate)"),
    (_P(r"\b(new|updated|update[ds]?|next)\s+(filter|kernel|weights?|weight matrix)\b|"
        r"\b(filter|kernel|weights?)\s+(after|following)\s+(the\s+)?(first\s+|one\s+|an?\s+|1\s+)?"
        r"(update|step|iteration|epoch|sgd step|gradient descent)|"
        r"\b(filter|kernel|weights?)\s+(is\s+)?updated\b"), "updated_filter"),
    (_P(r"\b(new|updated)\s+bias\b|\bbias\s+after\b"), "updated_bias"),
    (_P(r"\brelu\s+(output|activations?)\b|\bafter\s+(the\s+)?relu\b|\bactivations?\b|\bactivated\b|"
        r"\brelu\s*\(|\bappl(y|ied|ying)\s+(an?\s+|the\s+)?relu\b"), "activation"),
    (_P(r"\b(target|ground[- ]truth|desired output|expected output|labels?|true output|true values?)\b"), "target"),
    (_P(r"\binput(s| volume| image| matrix| feature map)?\b|\bimage\b"), "input"),
    (_P(r"\b(filters?|kernels?|weights?|weight matrix)\b"), "filter"),
    (_P(r"\bbias\b"), "bias"),
    (_P(r"\b(outputs?|feature maps?|predictions?|predicted|forward pass|convolution result|result of the "
        r"convolution|conv(olution)? output|y_hat|yhat)\b"), "output"),
    (_P(r"\b(loss|mse|cost|total error|squared error|objective)\b"), "loss"),
    (_P(r"\berrors?\b"), "error"),
    (_P(r"\b(learning rate|lr|step size|eta)\b|η|α"), "learning_rate"),
    (_P(r"\bstrides?\b"), "stride"),
]
# The same roles in the other languages worked examples are published in (es pt fr de it ru zh ja ko): word
# stems (a phrase joined by `_`), read where the English vocabulary finds nothing. A stem in Han, kana or Hangul
# matches anywhere (those scripts put no spaces between words); one in an alphabet at the start of a word.
_INTL = {
    "input": "entrada entrée eingabe ingresso вход введите ввод 输入 輸入 入力 입력",
    "filter": "filtro filtre noyau núcleo faltungskern kern ядр фильтр веса 卷积核 滤波器 过滤器 濾波器 "
              "カーネル フィルタ 重み 커널 필터 가중치",
    "output": "salida saída sortie ausgabe uscita выход 输出 輸出 出力 출력 特征图",
    "target": "objetivo cible zielwert целев 目标 目標 正解 标签 목표 정답",
    "bias": "sesgo biais смещени 偏置 偏差 バイアス 편향",
    "loss": "pérdida perte verlust потер 损失 損失 손실",
    "activation": "activación ativação aktivierung активац 激活 活性化 활성화",
    "learning_rate": "tasa_de_aprendizaje taux_d'apprentissage lernrate скорость_обучения 学习率 学習率 학습률",
}
_INTL_GRADIENT = "gradiente градиент 梯度 勾配 기울기 그래디언트"
_INTL_DELTA = "дельт デルタ 델타 误差项 誤差項"   # the backward signal, unless it names another role's
_INTL_UPDATED = "actualizad atualizad mis_à_jour aktualisiert обновл 更新 갱신 업데이트"


def _stems(words: str) -> re.Pattern:
    cjk = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
    # (a phrase is written with `_` between its words)
    parts = [re.escape(w) if cjk.search(w) else r"(?<![^\W\d_])" + re.escape(w).replace("_", r"\s+")
             for w in words.split()]
    return re.compile("|".join(parts), re.IGNORECASE)


_INTL_ROLES = [(q, _stems(w)) for q, w in _INTL.items()]
_INTL_GRAD = _stems(_INTL_GRADIENT)
_INTL_DELTA_WORDS = _stems(_INTL_DELTA)
_INTL_NEW = _stems(_INTL_UPDATED)


def _intl_label(t: str) -> Label | None:
    """A label in another language: the earliest role word; with a gradient word, that role's gradient."""
    found = sorted((m.start(), q) for q, p in _INTL_ROLES for m in [p.search(t)] if m)
    delta = _INTL_DELTA_WORDS.search(t)
    grad = delta or _INTL_GRAD.search(t)
    if grad:   # the role word nearest the gradient word ("дельта ядра", "卷积核的梯度") says whose gradient
        near = sorted((abs(m.start() - grad.start()), q) for q, p in _INTL_ROLES for m in p.finditer(t)
                      if q in _GRAD_OF)
        role = near[0][1] if near else None
        return Label(_GRAD_OF[role]) if role else Label("grad_output" if delta else "grad_filter")
    if not found:
        return None
    q = found[0][1]
    if q in ("filter", "bias") and _INTL_NEW.search(t):
        q = "updated_" + q
    return Label(q)


_NEXT = _P(r"\b(new|next|updated)\s+(loss|output|prediction|feature map|forward pass)\b|"
           r"\bwith the (new|updated) (filter|kernel|weights?)\b|\bafter (the )?(update|step)\b.*\b(loss|output)\b")
_INITIAL = _P(r"\b(initial|original|first|old|before)\b")
_APPROX = _P(r"\b(rounded|approximately|approx\.?|about)\b|≈|~")
_WRT_QUANTITY = {"input": "grad_input", "image": "grad_input", "x": "grad_input", "filter": "grad_filter",
                 "kernel": "grad_filter", "weight": "grad_filter", "weights": "grad_filter", "w": "grad_filter",
                 "output": "grad_output", "prediction": "grad_output", "feature map": "grad_output",
                 "activation": "grad_output", "relu": "grad_output", "y": "grad_output", "ŷ": "grad_output",
                 "z": "grad_output", "o": "grad_output", "bias": "grad_bias"}


# "the top-left value of the output is", "the output's first element": one element, placed in words
_CORNER = _P(r"\b(?:top[- ]left|upper[- ]left|first)\s+(?:corner\s+|output\s+)?(?:value|element|entry|pixel|cell|"
             r"corner|number)?\s*(?:of|in)\s+(?:the\s+)?(?:(?:conv(?:olution)?|resulting)\s+)?(output|feature map|"
             r"result|activation map)|\b(output|feature map)(?:'s)?\s+(?:top[- ]left|first)\s+(?:value|element|"
             r"entry|pixel|cell|corner)")


def prose_label(text: str) -> Label | None:
    """The quantity a prose phrase labels ('Input volume:', 'The output right now is:'), or None."""
    t = text.strip()
    if not t or len(t) > 400:
        return None
    if _CORNER.search(t) and not _PROSE_GRAD_FAMILY.search(t):
        return Label("output", (0, 0), position=True)
    # the last sentence is the one that introduces the value ("Slide it over. The output right now is:")
    sentences = [x for x in re.split(r"(?<=[.!?])\s+(?=[A-ZÀ-ÞΑ-ΩА-ЯЁ(])|(?<=[。！？])", t) if x.strip()]
    if len(sentences) > 1 and prose_label(sentences[-1]) is not None:
        last = prose_label(sentences[-1])
        whole_skip = next((r for p, r in _PROSE_SKIP if p.search(t)), None)
        return Label("skip", reason=f"{whole_skip} ({_clip(t)})") if whole_skip else last
    for pattern, reason in _PROSE_SKIP:
        if pattern.search(t):
            return Label("skip", reason=f"{reason} ({_clip(t)})")
    approx = bool(_APPROX.search(t))
    if _PROSE_GRAD_FAMILY.search(t):
        symbols = [(m, _symbol_label(m)) for m in _GRAD_SYMBOL.finditer(t)]
        # the symbol the text ends with ("so dL/dYhat =") is what it labels, known or not
        if symbols and _SYMBOL_ENDS.match(t[symbols[-1][0].end():]):
            m, label = symbols[-1]
            return label or Label("skip", reason=f"{m.group(0)} names no quantity of the pipeline ({_clip(t)})")
        for m in _WRT.finditer(t):
            q = _WRT_QUANTITY.get(m.group(1).lower())
            if q:
                return Label(q)
        for pattern, q in _GRAD_WORDS:
            if pattern.search(t):
                return Label(q)
        if symbols:   # a symbol in mid-sentence: the first that names a quantity; none: not a claim
            label = next((lab for _, lab in symbols if lab is not None), None)
            return label or Label("skip", reason=f"{symbols[0][0].group(0)} names no quantity of the pipeline "
                                                 f"({_clip(t)})")
        return Label("grad_filter")
    best = None
    if _KEYWORDS[3][0].search(t):  # "output after ReLU" is the activation
        best = (-1, "activation")
    for pattern, q in _KEYWORDS:
        m = pattern.search(t)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), q)
    if best is None:
        return _intl_label(t)
    q = best[1]
    if q.startswith("skip:"):
        return Label("skip", reason=f"{q[5:]} ({_clip(t)})")
    return Label(q, next_iteration=bool(_NEXT.search(t)) and q not in ("updated_filter", "updated_bias"),
                 initial=bool(_INITIAL.search(t)) and q in ("loss", "output", "activation"), approx=approx)


_BINDABLE = ("input", "filter", "output", "target", "bias", "grad_output")
_BIND_EN = _P(r"\b(?:the|an?|our|this|its|given|each)?\s*(input(?:\s+(?:image|feature map|matrix|volume|tensor))?|image|"
              r"(?:convolution\s+|conv\s+)?(?:kernel|filter)(?:\s+(?:matrix|weights?))?|weights?(?: matrix)?|"
              r"output(?:\s+(?:feature map|matrix))?|feature map|target|labels?|bias|upstream gradient|"
              r"gradient of the output)\s*(?:is|=|:|,)?\s*$")


def bound_role(text_before: str) -> str | None:
    """The role a symbol takes from the words right before it: "the input feature map $a$", "kernel $K$",
    "卷积核$w$" (a name introduced by prose beats the letter's usual meaning)."""
    clause = re.split(r"[,;:.，；：。、]", text_before.replace("\u2063", " "))[-1].strip()
    if not clause or len(clause) > 80:
        return None
    m = _BIND_EN.search(clause)
    label = prose_label(m.group(1)) if m else _intl_label(clause[-12:])
    return label.quantity if label is not None and label.quantity in _BINDABLE else None


def _symbol_label(m: re.Match) -> Label | None:
    from .textmath import to_latexish   # (textmath reads labels: imported here, not at the top)
    den = normalize(to_latexish(m.group("den"))).rstrip(".")
    return _gradient_of(den)


def _clip(t: str, n: int = 60) -> str:
    t = " ".join(t.split())
    return t if len(t) <= n else t[: n - 1] + "…"


# --- code names ----------------------------------------------------------------------------------

_CODE = {
    "input": "x X inp input inputs image img input_image x_in",
    "filter": "w W k K kernel filter filters weights weight kernel_init w_init w0 W0",
    "target": "y Y t T target targets y_true ytrue label labels gt y_target ground_truth",
    "output": "out output outputs y_hat yhat y_pred ypred pred preds prediction z Z o O conv_out feature_map fmap",
    "activation": "a A act relu_out activated h",
    "loss": "loss l L mse cost J",
    "learning_rate": "lr eta alpha learning_rate step_size",
    "grad_filter": "dw dW dk dK grad_w grad_W dL_dW dl_dw dLdW dldw grad_kernel grad_filter filter_grad dfilter "
                   "dweights weight_grad w_grad kernel_grad dW_ dL_dK",
    "grad_input": "dx dX grad_x grad_X dL_dX dl_dx dLdX grad_input input_grad dinput x_grad di",
    "grad_output": "dy dY dout d_out grad_out grad_output dL_dY dl_dy dL_dout upstream upstream_grad delta g G "
                   "dL_dO dldo grad_y dyhat dL_dyhat",
    "grad_bias": "db dB grad_b dL_db bias_grad b_grad",
    "bias": "b bias",
    "updated_filter": "w_new W_new new_w new_W w_updated W_updated w_next kernel_new new_kernel updated_w "
                      "new_weights weights_new w1 W1 k_new K_new",
    "updated_bias": "b_new new_b b_updated",
    "error": "error err e diff",
    "stride": "stride s",
}
_CODE_NAMES = {name: q for q, names in _CODE.items() for name in names.split()}


def code_label(name: str) -> Label | None:
    """A variable name ('dW', 'w.grad', 'conv.weight.grad', 'y_pred') as a quantity, or None."""
    parts = name.strip().split(".")
    if len(parts) >= 2 and parts[-1] == "grad":
        base = code_label(parts[-2]) if parts[-2] not in ("weight",) else Label("filter")
        if base is None:
            return None
        return Label(_GRAD_OF.get(base.quantity, "skip")) if base.quantity in _GRAD_OF else None
    key = parts[-1]
    if len(parts) >= 2 and key == "weight":
        return Label("filter")
    q = _CODE_NAMES.get(key) or _CODE_NAMES.get(key.lower())
    return Label(q) if q else None
