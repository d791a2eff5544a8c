#!/usr/bin/env bash
# Installs what building and testing the desktop app needs on a Debian machine, once:
# WebKitGTK and friends (apt), the UI's npm packages, tauri-driver and s3s-fs (crates.io).
# Safe to run again; it skips what is already there. Sourced by test.sh and run-app.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

APT_PACKAGES=(
  # building the app (Tauri 2 on WebKitGTK 4.1)
  libwebkit2gtk-4.1-dev build-essential pkg-config libssl-dev libayatana-appindicator3-dev
  librsvg2-dev libxdo-dev libdbus-1-dev file
  # end-to-end tests: virtual display, D-Bus session, notification daemon, WebDriver
  xvfb xauth dbus dbus-x11 dunst webkit2gtk-driver xdotool python3-gi gir1.2-gtk-3.0
  # Chinese text in the UI and its screenshots
  fonts-noto-cjk
  # video poster frames (the app uses ffmpeg where the machine has it)
  ffmpeg
  # the preview benchmark's baseline (vipsthumbnail)
  libvips-tools
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "== installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
  echo "== installing tauri-driver"
  cargo install tauri-driver --locked --version 2.1.0
fi

# A real S3-compatible server for the object-storage tests (s3s-fs, a file-backed S3 server
# built on the s3s crate).
if ! command -v s3s-fs >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/s3s-fs" ]; then
  echo "== installing s3s-fs"
  cargo install s3s-fs --locked --version 0.14.1 --features binary
fi

if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
  echo "== installing the UI's npm packages"
  (cd ui && npm ci --no-audit --no-fund)
fi
