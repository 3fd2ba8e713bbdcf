"""Code of the C family (TypeScript/JavaScript, Rust, C, C++, CUDA, Java) read as the Python the program reader
understands: a lexical rewrite, line for line (line numbers are kept), of the forms worked examples and unit tests
write their arrays, calls and assertions in. Nothing is run and nothing is evaluated: the result goes through
`program.python_source` like any code block, and lines that still do not parse are set aside there.

    const x = tf.tensor3d([1, 2, 3, 4], [2, 2, 1]);      ->  x = tf.tensor3d([1, 2, 3, 4], [2, 2, 1])
    let w = Tensor::new(&[0.5f32, -0.8], &dev)?;         ->  w = Tensor.new([0.5, -0.8], dev)
    float expected_dW[] = {63.0f, 72.0f};                ->  expected_dW = [63.0, 72.0]
    NDArray expEps(_expEpsB, input.shapeInfo());         ->  expEps = NDArray(_expEpsB, input.shapeInfo())
    const g = tf.grads((x: tf.Tensor3D, f) => x.conv2d(f, 1, 0));   ->  g = tf.grads(lambda x, f: x.conv2d(f, 1, 0))
    assert_eq!(res.dims(), [1, 2, 3, 3]);                ->  assert_eq(res.dims(), [1, 2, 3, 3])

Blocks (`fn f() {`, `it('…', async () => {`, `}`, `});`) are flattened: their statements are read in order, as a
test body is. `dialect` says which language it looked like, for the method-call conventions that differ
(`x.conv2d(w, stride, pad)` in TensorFlow.js, `x.conv2d(&w, padding, stride, dilation, groups)` in candle).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_CHARS = 300_000   # a larger text is not rewritten (the rewrite is linear, but the reader's budget is not)

_KEYWORDS = {"return", "if", "else", "for", "while", "do", "switch", "case", "break", "continue", "throw", "try",
             "catch", "finally", "yield", "await", "new", "delete", "typeof", "in", "of", "not", "and", "or",
             "lambda", "def", "class", "import", "from", "use", "mod", "fn", "pub", "impl", "struct", "enum",
             "match", "loop", "where", "type", "interface", "namespace", "using", "template", "typename",
             "goto", "sizeof", "static_assert", "assert", "print", "const", "let", "var", "auto", "mut"}
_DECL = re.compile(r"^(?:(?:export|const|let|var|auto|static|final|val|pub|mut|constexpr|volatile|register|"
                   r"unsigned|signed|__device__|__host__|__shared__|extern)\s+)+")
_BLOCK_OPEN = re.compile(r"(?:\)|=>|\belse|\btry|\bdo|->\s*[\w<>(),\s:&]+|\b(?:mod|impl|struct|enum|namespace|"
                         r"class|interface)\s+[\w<>:,\s]+)\s*\{\s*$")
_CLOSERS = re.compile(r"^[\s})\];,]*$")
_SUFFIX = re.compile(r"(?<![\w.])((?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)_?(?:f32|f64|f16|bf16|i8|i16|i32|i64|"
                     r"u8|u16|u32|u64|usize|isize|[fFdDlLuU]{1,2})\b")
_CAST = re.compile(r"\((float|double|int|long|half|size_t|float32_t|int64_t|TypeParam)\)\s*(?=[\w(])")
# type arguments (`ones<Rank.R4>(`, `Tensor::<B, 4>::from`), innermost first: bounded, no nesting in one match
_GENERIC = re.compile(r"(?<=[\w\]>])(?:::)?<[\w\s,.:\[\]&*']{0,80}>(?=\s*(?:\(|::|\.|\{|>|,))")
_ARROW = re.compile(r"(?:\basync\s+)?\(([^()]*)\)\s*(?::\s*[\w.<>\[\]]+\s*)?=>")
_ARROW1 = re.compile(r"(?:\basync\s+)?\b([A-Za-z_]\w*)\s*=>")


@dataclass(frozen=True)
class Rewritten:
    source: str
    dialect: str     # ts | rust | cpp | c
    float32: bool    # literals written in single precision (0.4056f32, 1.5f): not exact decimals


def looks_clike(text: str) -> bool:
    """Statements ended by `;`, or blocks in braces, or a declaration keyword of the family."""
    lines = [l.strip() for l in text.split("\n") if l.strip()]
    if not lines:
        return False
    ended = sum(l.endswith((";", "{", "}", "});", "};")) for l in lines)
    return ended >= max(2, len(lines) // 5) or bool(re.search(r"^\s*(?:const|let|var|fn|auto|#include)\b", text,
                                                              re.M))


def dialect_of(text: str) -> str:
    if re.search(r"\bfn\s+\w+\s*\(|\blet\s+(?:mut\s+)?\w+|\bvec!\[|\)\?;|::new\(", text):
        return "rust"
    if re.search(r"#include|\bstd::|\bauto\s+\w+\s*=|->\w+|\bTEST(?:_CASE|_F)?\s*\(|__global__", text):
        return "cpp"
    if re.search(r"\b(?:const|let|var)\s+\w+|=>|\bit\(\s*['\"`]|\bdescribe\w*\(", text):
        return "ts"
    return "c"


def to_python(text: str) -> Rewritten | None:
    if len(text) > MAX_CHARS or not looks_clike(text):
        return None
    dialect = dialect_of(text)
    text = _strip_comments(text)
    float32 = bool(re.search(r"\d(?:_?f32|f)\b|Float32Array|\bfloat\b", text))
    text = _brace_lists(text)
    out = []
    depth = 0            # brackets open at the start of the line (a statement continued)
    continued = False    # the previous line ended with `=` or an operator outside brackets
    for raw in text.split("\n"):
        stripped = raw.strip()
        if depth == 0 and not continued:
            if _BLOCK_OPEN.search(stripped) or _CLOSERS.match(stripped) or \
                    re.match(r"^(?:for|while|if|else|switch|do|try|catch|[A-Za-z_]\w*\s*:)\b(?!:)", stripped):
                out.append("")   # a block's opening or closing line, a loop, a label: its statements are read flat
                continue
            line = _rewrite(raw, dialect).strip()
        else:
            line = _rewrite_expr(raw)
        depth = max(0, depth + _balance(line))
        if depth == 0 and re.search(r"(?:=|\+|-|\*|/|,|\(|\[)\s*$", line) and not line.endswith("=="):
            line += " \\"    # a statement continued on the next line: Python needs to be told
            continued = True
        else:
            continued = False
        out.append(line.rstrip(";").rstrip() if depth == 0 and not continued else line)
    return Rewritten("\n".join(out), dialect, float32)


def _strip_comments(text: str) -> str:
    """`// …` and `/* … */` out (newlines kept); strings kept as they are."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c in "\"'`":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif c == "#" and (i == 0 or text[i - 1] == "\n"):   # #include, #define: a preprocessor line
            j = text.find("\n", i)
            i = n if j < 0 else j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _brace_lists(text: str) -> str:
    """`{1, 2, 3}` and `{{1, 2}, {3, 4}}` (C/C++ initializers, `op.evaluate({&a, &b}, {}, {3, 3, 1})`) as
    Python lists: a brace group that holds no statement (no `;`, no `=`, no `:` outside strings) and does not
    open a block."""
    chars = list(text)
    stack: list[int] = []
    for i, c in enumerate(text):
        if c == "{":
            stack.append(i)
        elif c == "}" and stack:
            start = stack.pop()
            body = text[start + 1:i]
            before = text[:start].rstrip()[-1:] if text[:start].rstrip() else ""
            if ";" in body or re.search(r"(?<![=!<>])=(?!=)|:(?!:)|\breturn\b", body) or \
                    before in (")", "") or re.search(r"(?:=>|\belse|\btry|\bdo|->[^;{}]*)\s*$", text[:start]):
                continue
            if before.isalnum() or before == "_":   # `Foo {…}` (a struct literal) or a block label
                if not re.search(r"(?:^|[=(,\[{\s])(?:[\w:<>]+)\s*$", text[:start]) or before.isdigit():
                    continue
            chars[start], chars[i] = "[", "]"
    return "".join(chars)


def _rewrite(line: str, dialect: str) -> str:
    """A statement's first line: the declaration turned into an assignment, then the expression rewrite."""
    indent = re.match(r"\s*", line).group(0)
    s = line.strip()
    s = _DECL.sub("", s)
    s = re.sub(r"^(?:std::)?(?:unique_ptr|shared_ptr|vector|array)<[^=;]*?>\s+(?=\w)", "", s)
    m = re.match(r"^([A-Za-z_][\w:<>,\s*&\[\]]*?)\s+\**&?([A-Za-z_]\w*)\s*((?:\[[^\]]*\])*)\s*(=(?!=)|\()", s)
    if m and m.group(1).split("<")[0].split("::")[-1].strip() not in _KEYWORDS and \
            not m.group(1).strip().endswith((".", ",")):
        name, rest = m.group(2), s[m.end():]
        if m.group(4) == "(":   # NDArray expEps(_expEpsB, input.shapeInfo());  (a constructor call)
            s = f"{name} = {m.group(1).strip()}({rest}"
        else:
            s = f"{name} = {rest.lstrip()}"
    else:   # `x: number[] = …` (TypeScript), `t: Tensor = …`
        m = re.match(r"^([A-Za-z_]\w*)\s*:\s*[^=]+?=(?!=)(.*)$", s)
        if m and not s.startswith(("case ", "default")):
            s = f"{m.group(1)} = {m.group(2).strip()}"
    return indent + _rewrite_expr(s)


def _rewrite_expr(s: str) -> str:
    s = re.sub(r"\bvec!\s*\[", "[", s)
    s = re.sub(r"\b(\w+)!\s*\(", r"\1(", s)                 # assert_eq!( -> assert_eq(
    s = re.sub(r"&\s*mut\s+", "", s)
    s = re.sub(r"(?<![\w)\]&])&(?=[\w\[(])", "", s)         # &w, &[..] (a reference), not a & b
    s = re.sub(r"\)\s*\?", ")", s)                          # Rust's `?`
    s = re.sub(r"\bnew\s+(?=[A-Z_a-z])", "", s)
    s = re.sub(r"\bawait\s+", "", s)
    for _ in range(3):
        s2 = _GENERIC.sub("", s)
        if s2 == s:
            break
        s = s2
    s = s.replace("::", ".").replace("->", ".")
    s = _CAST.sub(lambda m: "float" if m.group(1) in ("float", "double", "half", "float32_t", "TypeParam")
                  else "int", s)
    s = _SUFFIX.sub(r"\1", s)
    s = re.sub(r"\btrue\b", "True", s)
    s = re.sub(r"\bfalse\b", "False", s)
    s = re.sub(r"\b(?:null|nullptr|NULL|undefined)\b", "None", s)
    s = s.replace("===", "==").replace("!==", "!=")
    s = re.sub(r"\s*&&\s*", " and ", s)
    s = re.sub(r"\s*\|\|\s*", " or ", s)
    s = _ARROW.sub(lambda m: "lambda " + ", ".join(p.split(":")[0].strip() for p in m.group(1).split(",")
                                                     if p.strip()) + ":", s)
    s = _ARROW1.sub(r"lambda \1:", s)
    return s


def _balance(line: str) -> int:
    depth = 0
    in_str = None
    for c in line:
        if in_str:
            if c == in_str:
                in_str = None
        elif c in "\"'":
            in_str = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
    return depth
