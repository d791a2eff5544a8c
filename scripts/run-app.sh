#!/usr/bin/env bash
# Runs the Satchel desktop app for a newcomer. With nothing configured it hosts a demo
# workspace (a bag factory, three customers, orders at every stage, 12 MP sample photos)
# on this machine and signs in as 王丽 (wang), factory sales staff.
#
#   scripts/run-app.sh                    # the factory's side
#   scripts/run-app.sh --demo-as alice    # a customer's side, in a second window
#
# Installs what it needs first (Debian packages, npm packages) via scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
(cd ui && npm run --silent build)
cargo build --release -p satchel-desktop
exec target/release/satchel --demo "$@"
