#!/usr/bin/env bash
# Runs every check and test of the project. Used by CI (.ci/run) and by developers.
# Needs only a Rust toolchain: SQLite is bundled; PostgreSQL/NATS tests arrive with the
# scale-out work and will use the services already running on these machines.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export RUST_BACKTRACE=1

echo "== format"
cargo fmt --all -- --check
echo "== lint"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== build binaries (system tests run the real satchel-server and satchel-cli)"
cargo build --workspace --bins --locked
echo "== benchmark smoke run (numbers only; see README for the full run)"
cargo bench -p satchel-tests --bench sync --locked -- --quick
echo "== tests"
# Doc tests are off (the crates have none); the last line totals every test binary.
log=$(mktemp)
cargo test --workspace --locked --lib --bins --tests 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "all tests: %d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
exit "$status"
