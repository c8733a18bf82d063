#!/usr/bin/env bash
# scripts/build-web.sh: builds the web app into dist/ (trunk build --release) unless dist/ is
# newer than everything it is built from. Used by scripts/run.sh and tests/browser/run.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
sources=(playground-web protocol Cargo.lock Trunk.toml index.html package-lock.json scripts/web-post-build.sh)
if [ -f dist/index.html ] &&
    [ -z "$(find "${sources[@]}" -newer dist/index.html -not -path '*/target/*' -print -quit)" ]; then
    echo "web: dist/ is up to date"
else
    echo "web: trunk build --release"
    trunk build --release
fi
