#!/usr/bin/env bash
# The training benchmark of docs/BENCHMARKS.md: our compiled training step and PyTorch's, side by side in one run, on the
# same machine, the same weights and inputs, the same thread count.
#
#   bash tests/ViTMAE.Compiled.Benchmarks/pytorch/run.sh [iterations] [threads...]      (default: 10 iterations, 1 and 2 threads)
#
# Needs Debian's PyTorch (installed here when missing): apt-get install python3-torch libopenblas0-pthread.
# For each thread count: `vitmae bench --train` times the Fashion-MNIST config (batch 64) and vit-mae-base (batch 8) and
# exports each model's initial weights, inputs and first loss; train_step.py loads them, checks its loss equals ours
# to 1e-4 (it exits non-zero otherwise) and times the same step (forward, backward, AdamW) in PyTorch.
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
iterations="${1:-10}"
shift || true
if [ $# -eq 0 ]; then set -- 1 2; fi
threads=("$@")

if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch libopenblas0-pthread >/dev/null
fi

dotnet build "$root/samples/ViTMAE.Cli" -c Release -v q -nologo >/dev/null
vitmae=(dotnet "$root/samples/ViTMAE.Cli/bin/Release/net10.0/vitmae.dll")
export_dir="$(mktemp -d)"
trap 'rm -rf "$export_dir"' EXIT

echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) logical processors"
echo "pytorch: $(/usr/bin/python3 -c 'import torch; print(torch.__version__)')"
for t in "${threads[@]}"; do
  "${vitmae[@]}" bench --train --threads "$t" --iterations "$iterations" --export "$export_dir/t$t"
  for model in fashion-mnist vit-mae-base; do
    OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" /usr/bin/python3 "$root/tests/ViTMAE.Compiled.Benchmarks/pytorch/train_step.py" \
      "$export_dir/t$t/$model" --threads "$t" --iterations "$iterations"
  done
done
