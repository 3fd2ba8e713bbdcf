"""The epilogs of `crossgrad --help` and of each command's --help: examples and exit codes.

Kept here, one table keyed by command, so that every command's help ends the same way (cli.py prints
them verbatim with argparse's RawDescriptionHelpFormatter) and the cmd_<name> modules stay about options.
"""

from __future__ import annotations

_CODES_COMMON = """\
  2  bad usage or input (one line on stderr naming the file and the key or line)
  3  a bug in crossgrad (rerun with --debug for the traceback)
  130  interrupted (Ctrl-C); 141: the reader of stdout stopped early (`| head`)"""

TOP = f"""\
examples:
  crossgrad check                              the seed example in every implementation
  crossgrad verify my_derivation.md            which step of a hand derivation is wrong, and why
  crossgrad explain my_derivation.md           the correct derivation of that document's problem
  crossgrad sweep --count 500 --seed 0         differential testing on random configurations

With no command, `crossgrad [CASE] [options]` is `crossgrad check`. `crossgrad COMMAND --help` for each.

exit codes:
  0  everything agrees / every claimed step is right
  1  a mismatch (check, sweep) or a wrong or carried step (verify)
{_CODES_COMMON}
"""

EPILOGS = {
    "check": f"""\
examples:
  crossgrad check                                       the seed (3×3 image, 2×2 filter, η = 0.1)
  crossgrad check stride_pad --impl exact,torch,jax     a built-in case, some implementations
  crossgrad check my_case.toml --dtype float32 --loss sum
  crossgrad check multistep --json --no-report | jq .agree

A case file is TOML with a [problem] table (input, filter, target, learning_rate; see the README). A
document (.md, .tex, .txt) is not a case: `crossgrad verify FILE` checks the derivation written in it.
Loss names: mean (also mse, mean_squared_error), sum (sse, sum_of_squares), half_sum, half_mean, linear.

exit codes:
  0  every implementation agrees with the exact reference
  1  a mismatch (each listed), or --repeat runs that are not bitwise equal
{_CODES_COMMON}
""",
    "verify": f"""\
what it reads:
  A .toml derivation: a case's [problem] table plus a [claimed] table (output, activation, loss,
  grad_output, grad_filter, grad_input, grad_bias, updated_filter, updated_bias; several SGD steps as
  [[claimed.steps]]); examples/*.toml has one per diagnosis.
  A document (.md, .tex, .txt, a notebook or a source file given as text), read, never run: matrices in
  LaTeX (bmatrix, pmatrix, array), Python lists, NumPy/torch printouts, bare rows under a label; labels
  in LaTeX or prose (input/image X, filter/kernel W, target Y, output Z or Ŷ, ∂L/∂W, dW, W', error,
  per entry \\frac{{\\partial L}}{{\\partial W_{{11}}}}, 0- or 1-based); code (F.conv2d, nn.Conv2d, tf.nn.conv2d,
  backward/tape.gradient, print outputs, assertions).
  Conventions are read from the text: stride and padding ("stride 2", "padding 1", "same"), the learning
  rate ("η = 0.1", "learning rate 0.1"; inferred from the claimed update when not stated), the loss
  (its formula or a name: MSE/mean, sum of squares/SSE, ½·sum), "flip"/"true convolution", "ReLU".
  What it does not say: --stride, --padding, --lr, --loss, --layout, --role NAME=ROLE.
  --show-parsed prints what was read, where, and what was skipped and why.

statuses (one per claimed step):
  ok       the claimed value is right (a value with d decimals: the true value rounded to d places)
  wrong    not what the problem gives; the first wrong step is said first, with a diagnosis
           (partial_sum, sign_flip, scale, flipped_kernel, transposed, update_sign, arithmetic, or
           another convention) and, for a gradient, the right sum written term by term
  carried  wrong, but exactly what follows from your own earlier (wrong) values
  NOT CHECKED  a claim the document does not give enough to check (listed with why)

examples:
  crossgrad verify ../shared/seeds/000_8881a09ef0dbbe7e.txt      the seed document: its ∂L/∂W is wrong
  crossgrad verify examples/scale.toml --json
  crossgrad verify post.md --stride 2 --padding 1 --lr 0.1 --loss half_sum
  crossgrad verify post.md --show-parsed --strict

exit codes:
  0  every claimed step is ok
  1  a step wrong or carried (with --strict also: a number skipped or a claim not checked)
{_CODES_COMMON}
""",
    "explain": f"""\
For a built-in case or a TOML case file it writes that problem's derivation; for a document (.md, .tex,
.txt) the correct derivation of the document's own problem (read as `crossgrad verify` reads it; the
learning rate inferred from its update when not stated), in the document's format unless --format.
`crossgrad verify` on what it writes says ok.

examples:
  crossgrad explain                                     the seed, Markdown with LaTeX math
  crossgrad explain my_derivation.md --out fixed.md     the right derivation of your own problem
  crossgrad explain stride_pad --format tex --out stride_pad.tex
  crossgrad explain seed --steps 2 --loss sum --format text

exit codes:
  0  written
{_CODES_COMMON}
""",
    "sweep": f"""\
The same --seed draws the same configurations; each failure prints a command that reruns exactly it
(--only I), and the smallest failing configuration found, as a case file for `crossgrad check`.

examples:
  crossgrad sweep --count 500 --seed 0                  every implementation, float64
  crossgrad sweep --count 200 --dtype float16 --impl exact,torch,jax
  crossgrad sweep --count 100000 --seed 7 --workers 8   on 8 local worker processes (the dask extra)
  crossgrad sweep --seed 0 --only 17                    rerun configuration 17 alone

exit codes:
  0  no mismatch
  1  a mismatch (grouped by cause, with rerun commands)
  2  bad usage or input; 3: a bug in crossgrad (--debug for the traceback)
  130  interrupted: the partial summary is printed first
""",
    "bench": f"""\
Prints the summary table (median time per shape and implementation, GFLOP/s, ratio to torch and to the
GEMM floor) and where the full report (JSON, Markdown, PNG) was written; --json prints the whole report.

examples:
  crossgrad bench                                       the default shapes, float32, every implementation
  crossgrad bench --shape 8,3,16,32,3 --impl manual,torch --repeat 30
  crossgrad bench --startup --out results               also the cold start-up of verify and check

exit codes:
  0  measured
{_CODES_COMMON}
""",
}
