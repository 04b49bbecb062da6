#!/usr/bin/env bash
# Makes the release artifacts from the patcher's shaded jar, for linux x86_64 and aarch64:
#   ollama-patch-<version>-linux-<arch>.tar.gz   bin/ollama-patch, lib/ollama-patch/runtime (a jlink'd
#                                                 Java runtime holding the tool as a module, with its
#                                                 class-data-sharing archive), man pages, completions,
#                                                 licenses
#   ollama-patch_<version>_<debarch>.deb           the same under /usr
# Reproducible: every time stamp is SOURCE_DATE_EPOCH, owners are 0/0, entries sorted, gzip without
# a name or time, and the CDS archive is dumped with address-space randomisation off (a dump records
# a few native addresses), the serial collector (no archived heap objects, whose identity hashes vary),
# and every thread of the dumping JVM on one CPU under SCHED_FIFO (see run_arch: which thread loads
# jdk.internal.misc.VM first decides the order of the archive's classes).
# The x86_64 runtime is linked from the JDK running this build; the aarch64 one from Debian's
# openjdk-17 jmods for arm64 (fetched as packages), and its CDS archive dumped under qemu-aarch64.
# Usage: build.sh VERSION SHADED_JAR OUTDIR        (DIST_ARCHES="x86_64" for one machine)
set -euo pipefail
version=$1; jar=$(readlink -f "$2"); out=$(mkdir -p "$3" && cd "$3" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1767225600}   # 2026-01-01T00:00:00Z, as the jars' outputTimestamp
export TZ=UTC LC_ALL=C
arches=${DIST_ARCHES:-x86_64 aarch64}
work=$out/work
rm -rf "$work"; mkdir -p "$work"
log() { echo "[dist] $*" >&2; }
die() { echo "[dist] error: $*" >&2; exit 1; }
for t in jlink javac jar zip asciidoctor dpkg-deb setarch chrt taskset; do command -v $t >/dev/null || die "$t not found (.ci/install-tools installs it)"; done
host_jdk=$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")
[ -d "$host_jdk/jmods" ] || die "the JDK at $host_jdk has no jmods (Debian: openjdk-17-jdk-headless)"

# --- the tool as a named module (module-info compiled once; natives of other platforms dropped) ---
mkdir -p "$work/mi"
javac --release 17 -d "$work/mi" "$here/src/module-info.java"
modjar() {  # arch -> path of the module jar for it
  local arch=$1 zarch m=$work/$1/app.jar
  case $arch in x86_64) zarch=amd64 ;; aarch64) zarch=aarch64 ;; esac
  mkdir -p "$work/$arch"; cp "$jar" "$m"
  # META-INF/versions: the shaded jar is not multi-release, so these are never loaded (and jlink
  # cannot read the Java 21 ones); zstd-jni's libraries for other systems are never loaded either.
  local drop; drop=$(unzip -Z1 "$m" | grep -P '^META-INF/versions/|^(darwin|freebsd|win|aix|linux/(?!'"$zarch"'/))' || true)
  # shellcheck disable=SC2086
  [ -n "$drop" ] && zip -q -d "$m" $drop
  jar --update --file "$m" --date=2026-01-01T00:00:00Z --main-class dev.ollamapatch.cli.Main -C "$work/mi" module-info.class
  echo "$m"
}

# --- aarch64: Debian's openjdk-17 jmods for arm64, linked by the amd64 jlink of exactly the same
# version (jlink requires that), both fetched as packages and unpacked (cached between builds);
# the arm64 zlib lets the linked runtime run under qemu-aarch64 for its class-data-sharing dump. ---
cross_jdk() {
  local cache=${OLLAMA_PATCH_DIST_CACHE:-$HOME/.cache/ollama-patch-dist} a o v
  if [ ! -x "$cache/amd64/usr/lib/jvm/java-17-openjdk-amd64/bin/jlink" ] || [ ! -d "$cache/arm64/usr/lib/jvm/java-17-openjdk-arm64/jmods" ]; then
    log "fetching Debian's openjdk-17 (arm64 jmods, and the amd64 jlink of the same version)"
    for a in arm64 amd64; do
      o="-oAPT::Architecture=$a -oAPT::Architectures=$a -oDir::State::Lists=$cache/lists-$a -oDir::Cache=$cache/apt-$a -oDebug::NoDropPrivs=1 -oAPT::Sandbox::User=root"
      mkdir -p "$cache/lists-$a/partial" "$cache/apt-$a/archives/partial" "$cache/debs-$a"
      # shellcheck disable=SC2086
      apt-get $o update -qq >&2
      # shellcheck disable=SC2086
      [ "$a" = arm64 ] && v=$(apt-cache $o policy openjdk-17-jdk-headless | sed -n 's/^ *Candidate: //p')
      # shellcheck disable=SC2086
      (cd "$cache/debs-$a" && rm -f ./*.deb && apt-get $o download "openjdk-17-jdk-headless=$v" "openjdk-17-jre-headless=$v" zlib1g >&2)
      rm -rf "${cache:?}/$a"; mkdir -p "$cache/$a"
      for d in "$cache/debs-$a"/*.deb; do dpkg-deb -x "$d" "$cache/$a"; done
    done
  fi
  echo "$cache"
}
# A dump orders the archive's classes by the addresses of their names' symbols, which are allocated
# in the order they are created, so two threads racing to load the same class give two archives: the
# Finalizer thread, started during VM start-up, loads jdk.internal.misc.VM while the main thread goes
# on to load it too. Natively the main thread has always won; under qemu-user (slow thread start)
# either wins (measured: 3 archives from 3 dumps, 473 to 54,607 bytes apart). On one CPU under
# SCHED_FIFO a new thread runs only once the running one blocks, so every dump takes the same path
# (measured: 9 of 9 dumps identical, at load average 33). SCHED_FIFO needs CAP_SYS_NICE (root).
chrt -f 1 true 2>/dev/null || die "dumping the class-data-sharing archive reproducibly runs the JVM under SCHED_FIFO (chrt -f), which needs root or CAP_SYS_NICE"
cpu=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*\([0-9]*\).*/\1/p' /proc/self/status)
pin="chrt -f 1 taskset -c ${cpu:-0}"
run_arch() {  # [--pinned] arch cmd... : runs a program of that machine (aarch64 under qemu-user), without ASLR
  # --pinned: on one CPU under SCHED_FIFO (the dump only: a training run of the tool under qemu was
  # seen to stall there, and its class list is sorted anyway), bounded in time so it cannot hang a build
  local p=""; [ "$1" = --pinned ] && { p="timeout 900 $pin"; shift; }
  local arch=$1; shift
  if [ "$arch" = x86_64 ]; then $p setarch x86_64 -R "$@"
  else
    $p setarch "$(uname -m)" -R qemu-aarch64 -L /usr/aarch64-linux-gnu \
      -E LD_LIBRARY_PATH="$(cross_jdk)/arm64/lib/aarch64-linux-gnu" "$@"
  fi
}

# --- man pages and completions (machine independent) ---
log "man pages and completions"
gen=$work/gen; mkdir -p "$gen/adoc" "$gen/man" "$gen/completion"
java -cp "${PICOCLI_CODEGEN:-$here/target/tools/picocli-codegen.jar}:$jar" picocli.codegen.docgen.manpage.ManPageGenerator \
  -d "$gen/adoc" dev.ollamapatch.cli.Main >/dev/null
asciidoctor -b manpage -a reproducible -D "$gen/man" "$gen"/adoc/*.adoc
for f in "$gen"/man/*.1; do gzip -9nc "$f" > "$f.gz"; done
java -cp "$jar" picocli.AutoComplete -f -n ollama-patch -o "$gen/completion/ollama-patch" dev.ollamapatch.cli.Main >/dev/null
cat > "$gen/completion/_ollama-patch" <<'EOF'
#compdef ollama-patch
# zsh completion for ollama-patch: the bash completion picocli generates, through zsh's bashcompinit.
autoload -U +X bashcompinit && bashcompinit
source "${0:h}/../../bash-completion/completions/ollama-patch" 2>/dev/null \
  || source /usr/share/bash-completion/completions/ollama-patch
EOF

launcher() {  # the bin/ollama-patch of an artifact; $1 = path of lib/ollama-patch relative to bin/
  cat <<EOF
#!/bin/sh
# ollama-patch: runs the tool on the Java runtime shipped with it (no Java needed on the machine).
# The serial collector suits a short command and matches the class-data-sharing archive in the runtime.
# JIT: C1 only (C2 gives up at once under MaxNodeLimit=1), except the loops over every byte of large data
# that pay off at C2 in a long run (SHA-256's intrinsic, Arrays.mismatch, the string search over data): in
# a run of about a second C2 cost more CPU than it saved (benchmarks/README.md).
# Keep in step with ./ollama-patch.
here=\$(dirname "\$(readlink -f "\$0")")
export OLLAMA_PATCH_COMMAND="\$(readlink -f "\$0")"   # what 'service install' writes into the systemd drop-in
c2=80000
exec "\$here/$1/runtime/bin/java" -XX:+UseSerialGC -Xshare:auto \\
  -XX:CompileCommand=quiet -XX:CompileCommand='MaxNodeLimit,*.*,1' \\
  -XX:CompileCommand="MaxNodeLimit,sun.security.provider.*::*,\$c2" \\
  -XX:CompileCommand="MaxNodeLimit,jdk.internal.util.ArraysSupport::*,\$c2" \\
  -XX:CompileCommand="MaxNodeLimit,java.util.Arrays::mismatch,\$c2" \\
  -XX:CompileCommand="MaxNodeLimit,dev.ollamapatch.site.ByteSearch::*,\$c2" \\
  -XX:CompileCommand="MaxNodeLimit,dev.ollamapatch.site.NeedleCensus::*,\$c2" \\
  -XX:CompileCommand="MaxNodeLimit,dev.ollamapatch.image.Needles::*,\$c2" \\
  \${OLLAMA_PATCH_JAVA_OPTS:-} -m dev.ollamapatch/dev.ollamapatch.cli.Main "\$@"
EOF
}

licenses() {  # dir: the project's license and those of everything bundled
  local d=$1; mkdir -p "$d/licenses"
  cp "$here/../LICENSE" "$d/LICENSE"
  cp "$here/THIRD-PARTY.md" "$d/licenses/THIRD-PARTY.md"
  for e in META-INF/LICENSE META-INF/NOTICE META-INF/LICENSE.txt META-INF/NOTICE.txt META-INF/FastDoubleParser-LICENSE \
           META-INF/FastDoubleParser-NOTICE META-INF/thirdparty-LICENSE; do
    unzip -p "$jar" "$e" > "$d/licenses/$(basename "$e")" 2>/dev/null || rm -f "$d/licenses/$(basename "$e")"
  done
}

stamp() { find "$1" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +; }

for arch in $arches; do
  case $arch in x86_64) debarch=amd64 ;; aarch64) debarch=arm64 ;; *) die "unknown machine $arch" ;; esac
  log "$arch: runtime"
  m=$(modjar "$arch")
  if [ "$arch" = x86_64 ]; then jlink=$host_jdk/bin/jlink; jmods=$host_jdk/jmods
  else c=$(cross_jdk); jlink=$c/amd64/usr/lib/jvm/java-17-openjdk-amd64/bin/jlink; jmods=$c/arm64/usr/lib/jvm/java-17-openjdk-arm64/jmods; fi
  rt=$work/$arch/runtime
  # --strip-java-debug-attributes, not --strip-debug: the latter runs objcopy through a spawn
  # helper; the native libraries are stripped below with the machine's own strip instead.
  setarch x86_64 -R "$jlink" --module-path "$m:$jmods" --add-modules dev.ollamapatch \
    --strip-java-debug-attributes --no-header-files --no-man-pages --compress=2 --output "$rt"
  # Native symbol tables out (Debian policy; lintian's unstripped-binary-or-object), keytool too
  # (the tool has no use for it).
  strip=strip; [ "$arch" = aarch64 ] && strip=aarch64-linux-gnu-strip
  rm -f "$rt/bin/keytool"
  find "$rt/bin" "$rt/lib" -type f \( -name '*.so' -o -perm -u+x \) -exec "$strip" --strip-unneeded {} +
  log "$arch: class-data-sharing archive"
    # The classes that training runs load, listed, then dumped into the runtime's default archive
    # (lib/server/classes.jsa), which the JVM maps without any option. The runs: --version, a scan,
    # an apply of a small program that dlopens NVML, and the same apply again, already patched
    # (the systemd ExecStartPre= case, run at every start of Ollama).
    train=$work/$arch/train; mkdir -p "$train"
    printf '#include <dlfcn.h>\nint main(void) { return dlopen("libnvidia-ml.so.1", RTLD_NOW) == 0; }\n' > "$train/ollama.c"
    ${CC:-cc} -o "$train/ollama" "$train/ollama.c" || die "cc could not build the training program"
    i=0
    for args in "--version" "scan --json $rt/lib/libjava.so" "apply $train/ollama" "apply --quiet $train/ollama"; do
      i=$((i + 1))
      rc=0
      # shellcheck disable=SC2086
      (cd "$work" && run_arch "$arch" "$rt/bin/java" -XX:+UseSerialGC -Xshare:off -XX:DumpLoadedClassList="$train/classes.$i" \
         -m dev.ollamapatch/dev.ollamapatch.cli.Main $args >"$train/out.$i" 2>&1) || rc=$?
      # 3: the scan of libjava.so finds nothing to patch, as it should
      [ "$rc" = 0 ] || [ "$rc" = 3 ] || die "$arch: the training run '$args' failed (exit $rc): $(tail -1 "$train/out.$i")"
    done
    grep -q 'already patched' "$train/out.3" 2>/dev/null && die "$arch: the training apply found its program already patched"
    # The order in which a run loads classes varies from run to run; the dump does not depend on it,
    # so the list is sorted: the same classes give the same archive.
    LC_ALL=C sort -u -o "$work/$arch/classes.lst" "$train"/classes.*
    # A class that a run loads only when one of its threads happens to wait (seen:
    # AbstractQueuedSynchronizer$ExclusiveNode, when the apply's read-ahead thread and the main thread
    # meet at a lock) made two builds' lists, and so their archives, differ. Every nested class of a
    # listed java.util.concurrent class is therefore listed too, taken from the runtime's own modules:
    # the same runtime gives the same list, whatever the threads did.
    "$(dirname "$jlink")/jimage" list "$rt/lib/modules" \
      | awk '/^Module: / { m = $2; next } m == "java.base" && $1 ~ /^java\/util\/concurrent\/.*\$.*\.class$/ { sub(/\.class$/, "", $1); print $1 }' \
      | awk -v list="$work/$arch/classes.lst" 'BEGIN { while ((getline l < list) > 0) listed[l] = 1 }
          { outer = substr($1, 1, index($1, "$") - 1); if (outer in listed) print $1 }' >"$train/nested"
    [ -s "$train/nested" ] || die "$arch: no nested java.util.concurrent classes found in the runtime (jimage list)"
    LC_ALL=C sort -u -o "$work/$arch/classes.lst" "$work/$arch/classes.lst" "$train/nested"
    (cd "$work" && run_arch --pinned "$arch" "$rt/bin/java" -XX:+UseSerialGC -Xshare:dump -Xlog:cds=off -Xlog:cds+dynamic=off \
       -XX:SharedClassListFile="$work/$arch/classes.lst" -XX:SharedArchiveFile="$rt/lib/server/classes.jsa" \
       -m dev.ollamapatch/dev.ollamapatch.cli.Main >/dev/null 2>&1)
    [ -s "$rt/lib/server/classes.jsa" ] || die "$arch: no class-data-sharing archive was written"

  # --- the tarball ---
  name=ollama-patch-$version-linux-$arch
  t=$work/$arch/tar/$name; mkdir -p "$t/bin" "$t/lib/ollama-patch" "$t/share/man/man1" \
    "$t/share/bash-completion/completions" "$t/share/zsh/site-functions" "$t/share/doc/ollama-patch"
  cp -a "$rt" "$t/lib/ollama-patch/runtime"
  launcher ../lib/ollama-patch > "$t/bin/ollama-patch"; chmod 0755 "$t/bin/ollama-patch"
  cp "$gen"/man/*.1 "$t/share/man/man1/"
  cp "$gen/completion/ollama-patch" "$t/share/bash-completion/completions/"
  cp "$gen/completion/_ollama-patch" "$t/share/zsh/site-functions/"
  cp "$here/../README.md" "$t/share/doc/ollama-patch/"
  licenses "$t/share/doc/ollama-patch"; cp "$t/share/doc/ollama-patch/LICENSE" "$t/LICENSE"
  chmod -R u+w,go-w "$t"; stamp "$t"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" --format=gnu \
      -C "$work/$arch/tar" -cf - "$name" | gzip -9n > "$out/$name.tar.gz"
  log "wrote $out/$name.tar.gz"

  # --- the .deb: the same under /usr ---
  d=$work/$arch/deb; mkdir -p "$d/DEBIAN" "$d/usr/bin" "$d/usr/lib/ollama-patch" "$d/usr/share/man/man1" \
    "$d/usr/share/bash-completion/completions" "$d/usr/share/zsh/vendor-completions" "$d/usr/share/doc/ollama-patch"
  cp -a "$rt" "$d/usr/lib/ollama-patch/runtime"
  launcher ../lib/ollama-patch > "$d/usr/bin/ollama-patch"; chmod 0755 "$d/usr/bin/ollama-patch"
  cp "$gen"/man/*.1.gz "$d/usr/share/man/man1/"
  cp "$gen/completion/ollama-patch" "$d/usr/share/bash-completion/completions/"
  cp "$gen/completion/_ollama-patch" "$d/usr/share/zsh/vendor-completions/"
  sed "s/@VERSION@/$version/" "$here/debian/copyright" > "$d/usr/share/doc/ollama-patch/copyright"
  sed "s/@VERSION@/$version/; s/@DATE@/$(date -u -d "@$SOURCE_DATE_EPOCH" -R)/" "$here/debian/changelog" \
    | gzip -9n > "$d/usr/share/doc/ollama-patch/changelog.gz"
  size=$(du -sk --exclude=DEBIAN "$d" | cut -f1)
  sed "s/@VERSION@/$version/; s/@ARCH@/$debarch/; s/@SIZE@/$size/" "$here/debian/control" > "$d/DEBIAN/control"
  chmod -R u+w,go-w "$d"; find "$d" -type d -exec chmod 0755 {} +; stamp "$d"
  dpkg-deb --root-owner-group -Zxz --build "$d" "$out/ollama-patch_${version}_${debarch}.deb" >/dev/null
  log "wrote $out/ollama-patch_${version}_${debarch}.deb"
done
(cd "$out" && sha256sum ./*.tar.gz ./*.deb > SHA256SUMS)
cat "$out/SHA256SUMS" >&2
