#!/usr/bin/env bash
# Smoke-test the built app as a user gets it: unpacked from the archive (or copied from the folder) somewhere
# else, every run under `env -i` with a fresh HOME and no virtual environment or Python on PATH.
# Usage: scripts/smoke_app.sh [APP_ARCHIVE.tar.gz | APP_FOLDER] [DATA]
#   default: the archive scripts/build_app.sh made in dist/; DATA holds photos/ and cartoons/ with at least 20
#   pictures each (default ../shared/data, only read).
# Checks: --version; `cartoonize` on the samples (4 cartoons, bundled default model); --self-test (main window,
# samples through the batch worker); a 2-step `cartoonize-train finetune` from the bundled default without any
# VGG19 file, whose model then cartoonizes; the fine-tuning wizard's trainer process run from the frozen app, with
# the new model in the model list (--self-test --fine-tune); and that every CUDA library torch links is inside.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"
source="${1:-$(ls -t dist/Cartoonizer-*.tar.gz 2>/dev/null | head -n 1)}"
data="${2:-../shared/data}"
[ -n "$source" ] && [ -e "$source" ] || { echo "smoke: no app to test (build it: bash scripts/build_app.sh)" >&2; exit 1; }
version="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' core/__init__.py)"

work="$(mktemp -d "${TMPDIR:-/tmp}/cartoonizer-smoke.XXXXXX")"
trap 'rm -rf "$work"' EXIT
started=$SECONDS
if [ -d "$source" ]; then
  cp -a "$source" "$work/Cartoonizer"
else
  tar -C "$work" -xzf "$source"
fi
app="$work/Cartoonizer/Cartoonizer"
mkdir -p "$work/home"
step() { echo "smoke: $* ($((SECONDS - started)) s)"; }
# What a user's session has, and nothing of ours: no .venv, no Python on PATH, a HOME nobody used before.
run() { env -i HOME="$work/home" PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 "$@"; }
fail() { echo "smoke: FAILED: $*" >&2; exit 1; }
step "unpacked $source into $work"

out="$(run "$app" --version)"
[ "$out" = "Cartoonizer $version" ] || fail "--version printed '$out', expected 'Cartoonizer $version'"
step "--version: $out"

run "$app" cartoonize "$repo/resources/samples" -o "$work/cartoons" >"$work/cartoonize.log" 2>&1 \
  || { cat "$work/cartoonize.log"; fail "cartoonize on the samples"; }
count="$(find "$work/cartoons" -type f | wc -l)"
[ "$count" -eq 4 ] || fail "cartoonize made $count files from the 4 samples"
step "cartoonize resources/samples: $count cartoons"

run QT_QPA_PLATFORM=offscreen "$app" --self-test >"$work/self-test.log" 2>&1 \
  || { cat "$work/self-test.log"; fail "--self-test"; }
grep '^self-test:' "$work/self-test.log"
step "--self-test passed"

# 20 photos and 20 anime frames, copied (the originals stay untouched).
mkdir -p "$work/finetune/P" "$work/finetune/C"
mapfile -t photos < <(find "$data/photos" -type f -name '*.jpg' | sort)
mapfile -t cartoons < <(find "$data/cartoons" -type f -name '*.jpg' | sort)
cp "${photos[@]:0:20}" "$work/finetune/P/"
cp "${cartoons[@]:0:20}" "$work/finetune/C/"
[ "$(ls "$work/finetune/P" | wc -l)" -eq 20 ] && [ "$(ls "$work/finetune/C" | wc -l)" -eq 20 ] \
  || fail "fewer than 20 photos or cartoons in $data"
(cd "$work/finetune" && run "$app" cartoonize-train finetune photos_dir=P cartoons_dir=C adversarial_steps=2 \
   crop_size=64 batch_size=2 run_dir=R) >"$work/finetune.log" 2>&1 || { cat "$work/finetune.log"; fail "finetune"; }
grep '"event": "done"' "$work/finetune.log" >/dev/null || { cat "$work/finetune.log"; fail "finetune did not finish"; }
grep 'note:' "$work/finetune.log" || true
[ -f "$work/finetune/R/R.safetensors" ] || fail "finetune exported no model"
run "$app" cartoonize "$repo/resources/samples/chelsea.jpg" -o "$work/tuned" --model "$work/finetune/R/R.safetensors" \
  >"$work/tuned.log" 2>&1 || { cat "$work/tuned.log"; fail "cartoonize with the fine-tuned model"; }
step "cartoonize-train finetune (2 steps, 20 + 20 pictures): model exported and used"

run QT_QPA_PLATFORM=offscreen "$app" --self-test --fine-tune "$work/finetune/P" "$work/finetune/C" \
  >"$work/wizard.log" 2>&1 || { cat "$work/wizard.log"; fail "--self-test --fine-tune"; }
grep '^self-test:' "$work/wizard.log"
grep -q "trainer process ran and finished: $app cartoonize-train" "$work/wizard.log" \
  || fail "the wizard did not run the trainer through the frozen executable"
step "the wizard, frozen, ran its trainer process and the new model is in the list"

# CUDA: every library torch's CUDA part links is in the folder (only the driver's libcuda comes from the system).
missing="$(cd "$work/Cartoonizer/_internal" && env -i ldd torch/lib/libtorch_cuda.so torch/lib/libtorch_cuda_linalg.so \
  | grep 'not found' | grep -v 'libcuda\.so' || true)"
[ -z "$missing" ] || fail "CUDA libraries missing from the folder: $missing"
if compgen -G "$work/Cartoonizer/_internal/nvidia/*/lib/libnvrtc.so*" >/dev/null; then  # opened at run time
  compgen -G "$work/Cartoonizer/_internal/nvidia/*/lib/libnvrtc-builtins.so*" >/dev/null \
    || fail "NVRTC's libnvrtc-builtins is missing beside libnvrtc"
fi
step "CUDA libraries complete (the NVIDIA driver's libcuda.so.1 comes from the system)"
echo "smoke: all passed"
