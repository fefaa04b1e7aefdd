#!/usr/bin/env bash
# Installs the pinned local toolchain into .tools/ (git-ignored) when missing, and exports PATH.
# Sourced by scripts/run and scripts/test; safe to run repeatedly (each step is skipped when done).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"

# Pins: change them here only.
MOTO_VERSION="5.2.5"
CARGO_LAMBDA_VERSION="1.9.2"
CFN_LINT_VERSION="1.58.0"
PRISM_VERSION="5.16.0"
SAM_CLI_VERSION="1.170.0"

log() { printf '\033[1;34m[tools]\033[0m %s\n' "$*" >&2; }

install_python_tools() {
  local stamp="$TOOLS/venv/.pins-moto$MOTO_VERSION-cl$CARGO_LAMBDA_VERSION-cfn$CFN_LINT_VERSION"
  [[ -f "$stamp" ]] && return 0
  log "installing moto[server]==$MOTO_VERSION cargo-lambda==$CARGO_LAMBDA_VERSION cfn-lint==$CFN_LINT_VERSION into .tools/venv"
  python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check \
    "moto[server]==$MOTO_VERSION" "cargo-lambda==$CARGO_LAMBDA_VERSION" "cfn-lint==$CFN_LINT_VERSION"
  touch "$stamp"
}

# AWS SAM CLI for `sam validate --lint` (and `sam build` / `sam deploy`): its own venv, since it
# pins a cfn-lint of its own that must not replace CFN_LINT_VERSION in .tools/venv.
install_sam_cli() {
  local stamp="$TOOLS/sam-venv/.pin-sam$SAM_CLI_VERSION"
  [[ -f "$stamp" ]] && return 0
  log "installing aws-sam-cli==$SAM_CLI_VERSION into .tools/sam-venv"
  python3 -m venv "$TOOLS/sam-venv"
  "$TOOLS/sam-venv/bin/pip" install --quiet --disable-pip-version-check "aws-sam-cli==$SAM_CLI_VERSION"
  touch "$stamp"
}

install_prism() {
  local stamp="$TOOLS/node/.pin-prism$PRISM_VERSION"
  [[ -f "$stamp" ]] && return 0
  log "installing @stoplight/prism-cli@$PRISM_VERSION into .tools/node"
  mkdir -p "$TOOLS/node"
  (cd "$TOOLS/node" && npm install --silent --no-audit --no-fund --prefix . "@stoplight/prism-cli@$PRISM_VERSION" >/dev/null 2>&1) \
    || (cd "$TOOLS/node" && npm install --no-audit --no-fund --prefix . "@stoplight/prism-cli@$PRISM_VERSION")
  touch "$stamp"
}

ensure_tools() {
  mkdir -p "$TOOLS"
  install_python_tools
  install_sam_cli
  install_prism
  # scripts/dev/bin first: its moto_server serialises DynamoDB requests (see scripts/dev/moto_server.py).
  export PATH="$ROOT/scripts/dev/bin:$TOOLS/venv/bin:$TOOLS/node/node_modules/.bin:$PATH"
}

# Loopback port that nothing listens on right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Waits until an HTTP endpoint answers (any status), or fails after $2 seconds.
wait_http() {
  local url="$1" secs="${2:-30}" i
  for ((i = 0; i < secs * 10; i++)); do
    if curl -s -o /dev/null "$url"; then return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for $url" >&2
  return 1
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  ensure_tools
  log "tools ready in $TOOLS"
fi
