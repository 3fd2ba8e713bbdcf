#!/usr/bin/env bash
# Run crossgrad's GPU checks on a machine with a CUDA GPU:
#   1. pytest -m gpu       (torch / jax / hand formulas on cuda vs exact; TF32 drift; bitwise repeats)
#   2. crossgrad check     every built-in case on cuda, in highest and tf32 precision,
#                          reports (Markdown + JSON) under results/gpu-<date>/
# Usage: scripts/gpu_run.sh [DEVICE]      (DEVICE defaults to cuda; e.g. cuda:1)
# Exit status: 0 when every step passed, else the number of failed steps (at most 125).
set -u
cd "$(dirname "$0")/.."
DEVICE="${1:-cuda}"
OUT="results/gpu-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
if command -v crossgrad >/dev/null 2>&1; then CG=(crossgrad); else CG=(python -m harness); fi
CASES=$(python -c "from harness.cases import BUILTIN; print(' '.join(BUILTIN))")
failed=0

echo "== machine" | tee "$OUT/summary.txt"
python - <<'PY' | tee -a "$OUT/summary.txt"
import json
from harness import devices
from impls.base import Config
for fw in ("torch", "jax"):
    try:
        devices.configure(fw, Config())     # set the environment before CUDA / XLA start
    except Exception as exc:                # a framework not installed
        print(f"{fw}: not configured ({exc})")
print(json.dumps({"versions": devices.versions(), "gpu": devices.gpu_info()}, indent=2, default=str))
PY

echo "== pytest -m gpu" | tee -a "$OUT/summary.txt"
if python -m pytest -m gpu -q -rs tests/test_gpu.py 2>&1 | tee "$OUT/pytest-gpu.txt"; then
  echo "pytest -m gpu: passed" | tee -a "$OUT/summary.txt"
else
  echo "pytest -m gpu: FAILED" | tee -a "$OUT/summary.txt"; failed=$((failed + 1))
fi

for precision in highest tf32; do
  for case in $CASES; do
    for dtype in float64 float32; do
      [ "$precision" = tf32 ] && [ "$dtype" = float64 ] && continue   # TF32 only affects float32
      name="$case-$dtype-$precision"
      "${CG[@]}" check "$case" --device "$DEVICE" --dtype "$dtype" --precision "$precision" \
          --deterministic --repeat 3 --impl manual,array_api,torch,jax --out "$OUT/$name" \
          > "$OUT/$name.txt" 2>&1
      rc=$?
      if [ $rc -eq 0 ]; then status=agree; elif [ $rc -eq 1 ]; then status=DISAGREE; else status="ERROR (exit $rc)"; fi
      echo "check $name: $status" | tee -a "$OUT/summary.txt"
      # under TF32 a disagreement is the expected drift, reported, not a failure of the run
      if [ $rc -ne 0 ] && { [ "$precision" = highest ] || [ $rc -ge 2 ]; }; then failed=$((failed + 1)); fi
    done
  done
done

echo "reports in $OUT; $failed failed step(s)" | tee -a "$OUT/summary.txt"
exit $(( failed > 125 ? 125 : failed ))
