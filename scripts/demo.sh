#!/usr/bin/env bash
# A scripted Krellin session on a real repository (default: this one;
# REPO=path for another): write a file, apply a patch, fetch dependencies,
# run the repository's own tests in the capsule, show the log, reset, and
# replay with verification. Run it with `make demo`.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
REPO=$(cd "${REPO:-$top}" && git rev-parse --show-toplevel)
IMAGE=${IMAGE:-krellin/dev:1}
SESSION=${SESSION:-demo-$(date +%Y%m%d-%H%M%S)}
export KRELLIN_HOME=${KRELLIN_HOME:-${XDG_STATE_HOME:-$HOME/.local/state}/krellin-demo}
export PATH="$top/bin:$PATH"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
k() { printf '$ krellin %s\n' "$*"; krellin -C "$REPO" "$@"; }

step "images (built locally; no registry needed)"
"$top/scripts/build-images.sh" "${IMAGE_SET:-dev}"

step "start a capsule on $REPO"
up=(up --image "$IMAGE" --session "$SESSION")
# A TLS-inspecting proxy or a corporate CA: trust the host's bundle inside.
if [ -n "${SSL_CERT_FILE:-}" ] && [ -f "$SSL_CERT_FILE" ]; then
  up+=(--ca-bundle "$SSL_CERT_FILE")
fi
k "${up[@]}"

step "write a file"
printf '# Krellin demo\n\nWritten by krellin write.\n' | k write KRELLIN_DEMO.md

step "apply a patch"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/a" "$tmp/b"
printf '# Krellin demo\n\nWritten by krellin write.\n' > "$tmp/a/KRELLIN_DEMO.md"
printf '# Krellin demo\n\nWritten by krellin write.\nPatched by krellin patch.\n' > "$tmp/b/KRELLIN_DEMO.md"
(cd "$tmp" && diff -u a/KRELLIN_DEMO.md b/KRELLIN_DEMO.md > demo.diff || true)
k patch "$tmp/demo.diff"

env_args=()
if [ -f "$REPO/go.mod" ]; then
  env_args=(--env "GOPROXY=$(go env GOPROXY 2>/dev/null || echo https://proxy.golang.org,direct)")
  fetch=(go mod download)
  tests=(go test ./...)
elif [ -f "$REPO/package.json" ]; then
  fetch=(npm ci)
  tests=(npm test)
else
  fetch=(true)
  tests=(sh -c 'ls -la')
fi

step "fetch dependencies (network for this action only)"
k fetch --timeout 15m "${env_args[@]}" -- "${fetch[@]}"

step "run the repository's own tests in the capsule (no network)"
status=0
k run --timeout 30m -- "${tests[@]}" || status=$?
echo "tests exited $status"

step "the session log"
k log
seq=$(krellin -C "$REPO" log --json | grep -c '"seq"')
k show $((seq - 1)) > "$tmp/show.txt"
head -n 25 "$tmp/show.txt"

step "the same history is ordinary git"
echo "\$ git log --oneline refs/krellin/$SESSION"
git -C "$REPO" log --oneline -8 "refs/krellin/$SESSION"

step "reset the capsule to the base"
k reset
k run -- sh -c 'test ! -e KRELLIN_DEMO.md && echo "KRELLIN_DEMO.md is gone: workspace back at the base"'

step "replay the session in a fresh capsule and verify it"
replay_status=0
k replay || replay_status=$?

step "done"
cat <<EOT
Session $SESSION is in $REPO:
  git log --notes=krellin/$SESSION refs/krellin/$SESSION
  KRELLIN_HOME=$KRELLIN_HOME $top/bin/krellin -C $REPO log
Remove the capsule (history stays): KRELLIN_HOME=$KRELLIN_HOME $top/bin/krellin -C $REPO rm
EOT
exit "$replay_status"
