#!/bin/sh
# Trunk's post_build hook (Trunk.toml), release builds only: shrinks the wasm with wasm-opt
# -Oz, then writes gzip copies that the server sends to clients accepting gzip.
#
# wasm-opt is binaryen 132 from npm (node_modules/.bin, `npm ci`): Debian bookworm's binaryen
# 108 cannot parse what rustc 1.95 emits (bulk memory, reference types). Trunk's own wasm-opt
# step is off (`data-wasm-opt="0"` in index.html) so the feature flags can be given here.
set -eu
[ "${TRUNK_PROFILE:-}" = release ] || exit 0
: "${TRUNK_STAGING_DIR:?run by trunk}"
root=${TRUNK_SOURCE_DIR:-$(pwd)}
wasm_opt="$root/node_modules/.bin/wasm-opt"
for wasm in "$TRUNK_STAGING_DIR"/*.wasm; do
    [ -e "$wasm" ] || continue
    if [ -x "$wasm_opt" ]; then
        before=$(wc -c <"$wasm")
        "$wasm_opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
            --enable-sign-ext --enable-mutable-globals --enable-reference-types \
            --enable-multivalue "$wasm" -o "$wasm.opt"
        mv "$wasm.opt" "$wasm"
        echo "web-post-build: wasm-opt -Oz $(basename "$wasm"): $before -> $(wc -c <"$wasm") bytes"
    else
        echo "web-post-build: $wasm_opt missing (npm ci): the wasm is not optimised" >&2
    fi
done
find "$TRUNK_STAGING_DIR" -type f \( -name '*.wasm' -o -name '*.js' -o -name '*.css' -o -name '*.html' \) \
    -exec gzip -9 -k -f {} \;
