#!/usr/bin/env bash
# Installs everything Blaine and its tests need: Debian packages (par2, rsync, fuse3, gocryptfs, dc3dd,
# smartmontools (disk health), a C/C++ toolchain for better-sqlite3 and Blaine's native scanner, chromium for the report's
# browser test and zsh for the completion test) when missing, then the npm packages (which also compiles the C scanner and the
# TypeScript).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for pair in par2:par2 rsync:rsync fusermount3:fuse3 gocryptfs:gocryptfs dc3dd:dc3dd cc:gcc c++:g++ make:make python3:python3 chromium:chromium smartctl:smartmontools zsh:zsh; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: ${need[*]}; install them as root (apt-get install ${need[*]})" >&2
    exit 1
  fi
  echo "setup: installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
npm ci --no-audit --no-fund
