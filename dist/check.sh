#!/usr/bin/env bash
# Checks the release artifacts in OUTDIR (made by build.sh): every file is reproduced byte for byte
# by a second build, the .debs have no lintian errors, and the tool runs from each tarball as a user
# would run it (x86_64 natively, aarch64 under qemu-aarch64), class-data sharing in use.
# Usage: check.sh VERSION SHADED_JAR OUTDIR
set -euo pipefail
version=$1; jar=$2; out=$(cd "$3" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fail() { echo "[dist-check] FAILED: $*" >&2; exit 1; }
arches=${DIST_ARCHES:-x86_64 aarch64}

echo "[dist-check] second build, for reproducibility" >&2
bash "$here/build.sh" "$version" "$jar" "$out/again" >/dev/null 2>&1 || fail "the second build failed"
(cd "$out" && diff SHA256SUMS again/SHA256SUMS >&2) || fail "the second build made different bytes (SHA256SUMS differ)"
echo "[dist-check] reproducible: $(wc -l < "$out/SHA256SUMS") artifacts identical across two builds" >&2

for deb in "$out"/*.deb; do
  errors=$(lintian --tag-display-limit 0 "$deb" 2>/dev/null | grep '^E:' || true)
  [ -z "$errors" ] || fail "lintian errors in $(basename "$deb"):"$'\n'"$errors"
  echo "[dist-check] lintian: no errors in $(basename "$deb")" >&2
done

for arch in $arches; do
  t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
  tar -xzf "$out/ollama-patch-$version-linux-$arch.tar.gz" -C "$t"
  bin=$t/ollama-patch-$version-linux-$arch/bin/ollama-patch
  rt=$t/ollama-patch-$version-linux-$arch/lib/ollama-patch/runtime
  if [ "$arch" = x86_64 ]; then
    got=$(env -i PATH=/usr/bin:/bin "$bin" --version | head -1)
    shared=$("$rt/bin/java" -XX:+UseSerialGC -Xshare:on -Xlog:class+load=info -m dev.ollamapatch/dev.ollamapatch.cli.Main --version \
             | grep -c 'dev.ollamapatch.cli.Main source: shared objects file' || true)
  else
    zlib=${OLLAMA_PATCH_DIST_CACHE:-$HOME/.cache/ollama-patch-dist}/arm64/lib/aarch64-linux-gnu
    run=(qemu-aarch64 -L /usr/aarch64-linux-gnu -E LD_LIBRARY_PATH="$zlib" "$rt/bin/java" -XX:+UseSerialGC)
    # The launcher's own command line, under qemu-aarch64 (it runs the runtime's java directly).
    got=$("${run[@]}" -Xshare:auto -m dev.ollamapatch/dev.ollamapatch.cli.Main --version | head -1)
    shared=$("${run[@]}" -Xshare:on -Xlog:class+load=info -m dev.ollamapatch/dev.ollamapatch.cli.Main --version \
             | grep -c 'dev.ollamapatch.cli.Main source: shared objects file' || true)
  fi
  [ -s "$rt/lib/server/classes.jsa" ] || fail "$arch: the tarball has no class-data-sharing archive (lib/server/classes.jsa)"
  [ "$got" = "ollama-patch $version" ] || fail "$arch: bin/ollama-patch --version printed '$got'"
  [ "$shared" = 1 ] || fail "$arch: the tool's classes do not come from the shipped class-data-sharing archive"
  echo "[dist-check] $arch: '$got' from the unpacked tarball, classes mapped from the shipped CDS archive" >&2
  rm -rf "$t"; trap - EXIT
done
echo "[dist-check] passed" >&2
