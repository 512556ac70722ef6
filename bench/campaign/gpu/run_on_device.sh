#!/usr/bin/env bash
# The campaign's GPU stretch as one command for the device machine (README.md beside this):
#   run  command: bash bench/campaign/gpu/run_on_device.sh   carry: [".gpu-carry"]   timeout_s: 600
# Installs the carried wheels, makes the anchor's cartoon targets on every core, trains gpu.toml until
# GPU_RUN_BUDGET_S (default 570) seconds after this script started less an export reserve, and leaves in $OUT the
# EMA model, the newest sample, the stop checkpoint in pieces, train.log (JSON lines), train.err and summary.json.
# Extra arguments are config overrides (KEY=VALUE), e.g. segmenter_path=none run_dir=runs/gpu-stretch-ablation.
#
# CPU test (2 steps at 128², batch 2, 12 photos): GPU_RUN_CPU_TEST=1 bash bench/campaign/gpu/run_on_device.sh
# (bench/campaign/gpu/cpu_test.sh runs it with the device's missing packages hidden). PYTHON picks the
# interpreter (default python3, the device's torch one); OUT defaults to a new temporary folder.
set -uo pipefail
started=$(date +%s)
cd "$(dirname "$0")/../../.."
python=${PYTHON:-python3}
budget=${GPU_RUN_BUDGET_S:-570}  # the device call's timeout_s is 600: the script ends before
export_reserve=40                # after the deadline: the stop step, its checkpoint, the export, the pieces
OUT=${OUT:-$(mktemp -d /tmp/gpu-stretch-out.XXXXXX)}
work=${GPU_RUN_WORK:-/tmp/cartoonizer-gpu-stretch}
mkdir -p "$OUT" "$work"
echo "gpu stretch: output in $OUT"

# The device image lacks segmentation-models-pytorch and platformdirs: install the carried wheels beside it.
rm -rf "$work/site"
"$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$work/site" \
  .gpu-carry/wheels/*.whl || { echo "gpu stretch: the wheels did not install" >&2; exit 1; }
export PYTHONPATH="$PWD:$work/site${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export CARTOONIZER_DATA_DIR="$work/data"  # the trainer's user data folder: nothing of the machine's own

overrides=()
workers=$(nproc)
if [ -n "${GPU_RUN_CPU_TEST:-}" ]; then
  photos="$work/test-photos"  # a few of the carried photos: their targets take seconds a photo on one core
  rm -rf "$photos" "$work/test-run" "$work/test-targets"
  mkdir -p "$photos/selfies" "$photos/scenes"
  for f in $(ls .gpu-carry/data/photos/selfies | head -8); do
    ln -s "$PWD/.gpu-carry/data/photos/selfies/$f" "$photos/selfies/"
  done
  for f in $(ls .gpu-carry/data/photos/scenes | head -4); do
    ln -s "$PWD/.gpu-carry/data/photos/scenes/$f" "$photos/scenes/"
  done
  overrides=(device=cpu crop_size=128 batch_size=2 discriminator_warmup_steps=1 adversarial_steps=2 num_workers=1
             threads=1 log_every=1 sample_every=1 checkpoint_every=1 photos_dir="$photos" run_dir="$work/test-run"
             target_cache_dir="$work/test-targets")
  workers=2
elif compgen -G "runs/gpu-stretch/checkpoints/step_*.pt" >/dev/null; then
  overrides=(resume=true)  # a second call on the same warm machine continues the run
fi
nvidia-smi -L 2>/dev/null || echo "gpu stretch: no nvidia-smi"
"$python" -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__,
  "cuda", torch.cuda.is_available() and torch.cuda.get_device_name(0))
import platformdirs, segmentation_models_pytorch as smp, timm; print("from the wheels:", platformdirs.__file__,
  smp.__file__, "timm", timm.__version__)'

now=$(date +%s)
stop_at=$((started + budget - export_reserve))
echo "gpu stretch: $((now - started)) s of set-up; training stops $((stop_at - now)) s from now"
timeout -k 15 $((started + budget - now)) "$python" bench/campaign/gpu/stretch.py --config bench/campaign/gpu/gpu.toml \
  --out "$OUT" --stop-at "$stop_at" --target-workers "$workers" --fallback segmenter_path=none \
  "${overrides[@]}" "$@" > >(tee "$OUT/train.log") 2> >(tee "$OUT/train.err" >&2)
status=$?
sleep 1  # let tee finish
echo "gpu stretch: exit $status after $(($(date +%s) - started)) s; in $OUT:"
ls -l "$OUT"
"$python" - "$OUT/train.log" <<'EOF'
import json, sys
lines = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
logs = [line for line in lines if line.get("event") == "log"]
for line in logs[-3:]:
    print("step", line["step"], "images/s", line["images_per_s"])
summary = [line for line in lines if line.get("event") == "stretch"]
if summary:
    s = summary[-1]
    print("steps", s.get("last_step"), "| images/s: D-only", s.get("d_only_images_per_s"), "full",
          s.get("full_images_per_s"), "| train wall", s.get("train_wall_s"), "s | peak GPU GiB",
          s.get("peak_gpu_memory_gib"), "| failure", s.get("failure"))
EOF
exit $status
