#!/usr/bin/env bash
# build-kernels.sh [OUT]: assembles engine/kernels/simd/kernels.wat with wabt's
# wat2wasm into OUT (default: <repo>/build/kernels/kernels.wasm, gitignored).
# An OUT named *-fma.wasm gets the relaxed-SIMD variant (tools/watfma: fused
# multiply-adds in the functions marked ;; @fma), as cmd/build-wasm ships it.
# The write is atomic (temp file + rename), so concurrent test binaries that
# trigger a rebuild never see a half-written module.
set -euo pipefail
here="$(cd -P "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
src="$repo/engine/kernels/simd/kernels.wat"
out="${1:-$repo/build/kernels/kernels.wasm}"
if ! command -v wat2wasm >/dev/null 2>&1; then
	echo "build-kernels: wat2wasm not found (apt-get install wabt)" >&2
	exit 1
fi
mkdir -p "$(dirname "$out")"
tmp="$(mktemp "$out.tmp.XXXXXX")"
trap 'rm -f "$tmp" "$tmp.wat"' EXIT
case "$out" in
*-fma.wasm)
	(cd "$repo" && GOOS= GOARCH= go run ./tools/watfma -o "$tmp.wat" "$src")
	wat2wasm --enable-relaxed-simd "$tmp.wat" -o "$tmp"
	;;
*)
	wat2wasm "$src" -o "$tmp"
	;;
esac
chmod 644 "$tmp"
mv -f "$tmp" "$out"
trap - EXIT
rm -f "$tmp.wat"
