#!/usr/bin/env bash
# The third command: build the desktop app as one folder, dist/Cartoonizer/ (its executable: dist/Cartoonizer/
# Cartoonizer), and the downloadable archive dist/Cartoonizer-VERSION-OS-ARCH.tar.gz, with PyInstaller from the
# checked-in spec packaging/cartoonizer.spec. Sets up .venv as the other commands do, adds the pinned PyInstaller
# (packaging/build-requirements.txt), and prints the folder size, the archive size and the warm time from launch
# to the main window shown. Smoke-test the result with scripts/smoke_app.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

# The project in .venv: any installed set of extras will do (the test command's included), so building never
# flips the environment that `bash scripts/test.sh` set up.
compgen -G ".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)-*" >/dev/null || scripts/setup_env.sh
.venv/bin/python -m pip install --quiet -r packaging/build-requirements.txt

version="$(.venv/bin/python -c 'from core import __version__; print(__version__)')"
platform="$(uname -s | tr '[:upper:]' '[:lower:]')-$(uname -m)"
app=dist/Cartoonizer
archive="dist/Cartoonizer-$version-$platform.tar.gz"

started=$SECONDS
rm -rf "$app" "$archive"
.venv/bin/pyinstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller \
  packaging/cartoonizer.spec
cp scripts/install_desktop_entry.sh "$app/"  # for people who download the archive (Linux menus)
built=$SECONDS
echo "build: PyInstaller took $((built - started)) s; archiving…" >&2
if command -v pigz >/dev/null; then
  tar -C dist -cf - Cartoonizer | pigz -6 > "$archive.tmp"
else
  tar -C dist -czf "$archive.tmp" Cartoonizer
fi
mv "$archive.tmp" "$archive"
echo "build: archive took $((SECONDS - built)) s" >&2

# Warm start-up: launch to the main window shown (the app prints the moment), the second of two launches, so the
# files are in the page cache as they are for a user who has started it before. On this display, else on an Xvfb of
# its own (installed in CI), else on Qt's offscreen platform.
startup_run() {
  local launched shown
  launched="$(date +%s.%N)"
  shown="$(env "$@" "$app/Cartoonizer" --self-test --window-only | sed -n 's/^self-test: main window shown at \([0-9.]*\).*/\1/p')"
  [ -n "$shown" ] || { echo "build: the app did not show its window" >&2; return 1; }
  awk -v a="$launched" -v b="$shown" 'BEGIN { printf "%.1f", b - a }'
}
xvfb_pid=""
if [ -n "${DISPLAY:-}" ]; then
  display=(); how="on display $DISPLAY"
elif command -v Xvfb >/dev/null; then
  number=$((100 + RANDOM % 800))
  Xvfb ":$number" -screen 0 1600x1000x24 -nolisten tcp >/dev/null 2>&1 &
  xvfb_pid=$!
  trap '[ -z "$xvfb_pid" ] || kill "$xvfb_pid" 2>/dev/null || true' EXIT
  for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X$number" ] && break; sleep 0.1; done
  display=(DISPLAY=":$number" QT_QPA_PLATFORM=xcb); how="under Xvfb"
else
  display=(QT_QPA_PLATFORM=offscreen); how="offscreen (no X server)"
fi
startup_run "${display[@]}" >/dev/null
startup_s="$(startup_run "${display[@]}")"

echo "build: done: $app/Cartoonizer"
echo "build: folder size $(du -sh "$app" | cut -f1) ($(du -s --block-size=1M "$app" | cut -f1) MiB)"
echo "build: archive $archive: $(du -h "$archive" | cut -f1) ($(du --block-size=1M "$archive" | cut -f1) MiB)"
echo "build: warm start-up, launch to main window shown: ${startup_s} s ($how; target under 5 s)"
