#!/usr/bin/env bash
# Optional, Linux: add the packaged Cartoonizer to your desktop's application menu (user-local, no root).
# Installs $XDG_DATA_HOME/applications/cartoonizer.desktop (default ~/.local/share) pointing at the app folder's
# executable, and the icon as $XDG_DATA_HOME/icons/hicolor/scalable/apps/cartoonizer.svg.
# Usage: install_desktop_entry.sh [APP_FOLDER]      (default: the folder this script is in, if it holds the app,
#        install_desktop_entry.sh --uninstall        else dist/Cartoonizer of the checkout)
# The build copies this script into the app folder, so a downloaded app can run ./install_desktop_entry.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
data_home="${XDG_DATA_HOME:-$HOME/.local/share}"
entry="$data_home/applications/cartoonizer.desktop"
icon="$data_home/icons/hicolor/scalable/apps/cartoonizer.svg"

refresh_menus() {
  command -v update-desktop-database >/dev/null && update-desktop-database -q "$data_home/applications" || true
  command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$data_home/icons/hicolor" || true
}

if [ "${1:-}" = "--uninstall" ]; then
  rm -f "$entry" "$icon"
  refresh_menus
  echo "Removed $entry and $icon"
  exit 0
fi

if [ -n "${1:-}" ]; then
  app_dir="$(cd "$1" && pwd)"
elif [ -x "$here/Cartoonizer" ]; then
  app_dir="$here"
else
  app_dir="$(cd "$here/.." && pwd)/dist/Cartoonizer"
fi
executable="$app_dir/Cartoonizer"
resources="$app_dir/_internal/resources"
[ -x "$executable" ] || { echo "install_desktop_entry: no app at $app_dir (build it: bash scripts/build_app.sh)" >&2; exit 1; }
[ -f "$resources/cartoonizer.desktop" ] || { echo "install_desktop_entry: $resources/cartoonizer.desktop is missing" >&2; exit 1; }

mkdir -p "$(dirname "$entry")" "$(dirname "$icon")"
cp "$resources/icons/cartoonizer.svg" "$icon"
# The Exec key quotes its program (a path may hold spaces) by the Desktop Entry rules: inside the quotes \ " ` $
# take a backslash, then the string value doubles every backslash, and % is written %%. %F passes dropped files on.
quoted="$(printf '%s' "$executable" | sed -e 's/[\\"`$]/\\&/g' -e 's/\\/\\\\/g' -e 's/%/%%/g')"
while IFS= read -r line; do
  case "$line" in
    Exec=Cartoonizer*) printf 'Exec="%s"%s\n' "$quoted" "${line#Exec=Cartoonizer}" ;;
    *) printf '%s\n' "$line" ;;
  esac
done < "$resources/cartoonizer.desktop" > "$entry.tmp"
mv "$entry.tmp" "$entry"
refresh_menus
echo "Installed $entry (runs $executable) and $icon"
