#!/usr/bin/env bash
# Runs every check and test of the project. Used by CI (.ci/run) and by developers.
# Installs what it needs first (scripts/setup.sh). The PostgreSQL and NATS tests use the
# services already running on these machines (127.0.0.1:5432, 127.0.0.1:4222); the S3 tests
# start their own s3s-fs.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export RUST_BACKTRACE=1

bash scripts/setup.sh

echo "== UI: types, unit tests, build (the app embeds ui/dist)"
(cd ui && npm run --silent check && npm test --silent && npm run --silent build)

echo "== format"
cargo fmt --all -- --check
echo "== lint"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== build binaries (system tests run the real satchel-server and satchel-cli; e2e runs the app)"
cargo build --workspace --bins --locked
echo "== benchmark smoke run (numbers only; see README for the full run)"
cargo bench -p satchel-tests --bench sync --locked -- --quick
echo "== tests"
# Doc tests are off (the crates have none); the last line totals every test binary,
# including the end-to-end run of the desktop app.
log=$(mktemp)
status=0
cargo test --workspace --locked --lib --bins --tests 2>&1 | tee "$log" || status=$?
echo "== end-to-end: the desktop app under Xvfb (screenshots in target/e2e-artifacts)"
cargo test -p satchel-tests --test e2e --locked 2>&1 | tee -a "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "all tests: %d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
exit "$status"
