#!/usr/bin/env bash
# Runs Satchel for a newcomer. Until the desktop app lands this starts the sync server
# with a demo workspace (created on first run) and shows the factory's side live in the
# terminal, while a scripted customer writes in.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA="${SATCHEL_DEMO_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/satchel-demo}"
LISTEN="${SATCHEL_LISTEN:-127.0.0.1:7878}"
URL="http://$LISTEN"
mkdir -p "$DATA"

cargo build --release --bins -p satchel-server -p satchel-client
SERVER=target/release/satchel-server
CLI=target/release/satchel-cli

"$SERVER" --data-dir "$DATA/server" demo --listen "$LISTEN" &
SERVER_PID=$!
trap 'kill $SERVER_PID $CUSTOMER_PID 2>/dev/null || true' EXIT
CUSTOMER_PID=
for _ in $(seq 1 50); do
  curl -fsS "$URL/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done

"$CLI" --profile "$DATA/profiles/wang" login --server "$URL" --username wang --password satchel-demo
"$CLI" --profile "$DATA/profiles/alice" login --server "$URL" --username alice --password satchel-demo >/dev/null

echo
echo "Satchel demo server at $URL (data in $DATA)."
echo "Accounts: boss, wang, chen (staff); alice, somchai, xiaoyu (customers); password: satchel-demo"
echo "Conversations of 王丽 (wang):"
"$CLI" --profile "$DATA/profiles/wang" conversations
echo
echo "Live messages to wang follow (Ctrl+C to stop):"

(
  sleep 2
  for line in "Wang, any update on the tote quote?" "Also: can the handles be 2 cm longer?" "Thanks — looking forward to the sample photos."; do
    "$CLI" --profile "$DATA/profiles/alice" send --conversation 1 "$line" >/dev/null 2>&1 || true
    sleep 3
  done
) &
CUSTOMER_PID=$!

"$CLI" --profile "$DATA/profiles/wang" tail
