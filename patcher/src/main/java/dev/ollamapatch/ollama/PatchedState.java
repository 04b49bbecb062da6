package dev.ollamapatch.ollama;

import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.site.DataScan;
import dev.ollamapatch.site.NeedleCensus;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Whether a file was already patched by this tool, and what says so: its manifest (which records
 * the tool version, the hashes and the paths written) or, without one, its bytes (strings that hold
 * the shim path the tool writes, right-aligned behind {@code /} padding).
 *
 * @param patched    whether the file is in its patched state
 * @param by         "manifest", "bytes", or null when not patched
 * @param tool       the tool version that patched it (manifest only), or null
 * @param paths      the library paths its sites hold
 * @param evidence   one line per fact ("manifest /x/ollama.ollama-patch.json records SHA-256 ...",
 *                   "file offset 0x1234: \"//$ORIGIN/nvml.so\"")
 * @param written    per string found in the bytes, where it is and the path it holds (empty for the
 *                   manifest's word: the manifest records its sites itself)
 */
public record PatchedState(boolean patched, String by, String tool, List<String> paths, List<String> evidence,
                           List<Written> written) {
    public PatchedState {
        paths = List.copyOf(paths);
        evidence = List.copyOf(evidence);
        written = List.copyOf(written);
    }

    /**
     * A replacement found in the bytes: {@code offset} and {@code length} cover the string with its '/'
     * padding ({@code //$ORIGIN/nvml.so}), {@code path} is the path without it ({@code $ORIGIN/nvml.so}).
     */
    public record Written(long offset, int length, String path) {}

    public static final PatchedState NOT_PATCHED = new PatchedState(false, null, null, List.of(), List.of(), List.of());

    /**
     * What a manifest records about one file.
     *
     * @param manifest       where the manifest is
     * @param tool           the tool version it names
     * @param originalSha256 the file's original SHA-256
     * @param patchedSha256  the file's patched SHA-256
     * @param paths          the distinct paths written into its sites
     */
    public record ManifestFacts(String manifest, String tool, String originalSha256, String patchedSha256,
                                List<String> paths) {}

    /** The manifest's word when the file's hash is the patched one it records; else the bytes'. */
    public static PatchedState of(ElfFile elf, String sha256, ManifestFacts manifest, Set<String> shimPaths) {
        if (manifest != null && sha256.equals(manifest.patchedSha256())) {
            return new PatchedState(true, "manifest", manifest.tool(), manifest.paths(), List.of(
                    "manifest " + manifest.manifest() + " records this file's SHA-256 as its patched state (by "
                            + manifest.tool() + ")"), List.of());
        }
        PatchedState bytes = fromBytes(elf, shimPaths);
        if (manifest != null && sha256.equals(manifest.originalSha256())) {
            List<String> ev = new ArrayList<>(bytes.evidence());
            ev.add(0, "manifest " + manifest.manifest() + " records this file's SHA-256 as the original (not patched)");
            return new PatchedState(false, null, null, List.of(), ev, List.of());
        }
        return bytes;
    }

    /**
     * Strings in loaded data that end with one of {@code shimPaths} (e.g. {@code $ORIGIN/nvml.so}) or,
     * for the NVML shim's file name, any absolute path to it: the tool's replacements.
     */
    public static PatchedState fromBytes(ElfFile elf, Set<String> shimPaths) {
        Set<String> needles = new LinkedHashSet<>(shimPaths);
        needles.add("/nvml.so");
        // A file's decision and its identity both ask (scan, apply): its data, which may be gigabytes,
        // is searched once per open file and set of needles.
        List<String> key = List.copyOf(needles);
        synchronized (SEARCHED) {
            PatchedState known = SEARCHED.computeIfAbsent(elf, e -> new java.util.HashMap<>()).get(key);
            if (known != null) return known;
        }
        PatchedState found = search(elf, needles);
        synchronized (SEARCHED) {
            SEARCHED.computeIfAbsent(elf, e -> new java.util.HashMap<>()).put(key, found);
        }
        return found;
    }

    /** Results of {@link #fromBytes} by open file (identity, dropped with it) and needles in order. */
    private static final java.util.Map<ElfFile, java.util.Map<List<String>, PatchedState>> SEARCHED =
            new java.util.WeakHashMap<>();

    /** The shim's file name: every NVML replacement path ends with it. */
    private static final String SHIM_SUFFIX = "/nvml.so";
    /**
     * Occurrences kept per needle: at most 32 become evidence, and at most 32 others can be skipped as
     * already seen (evidence holds at most 32 offsets), so the first 64 distinct ones decide.
     */
    private static final int KEEP = 64;

    /** One occurrence as evidence: where the string starts and what it holds. */
    private record Found(long offset, String region, String text, String path) {}

    /**
     * Evidence in needle order, each needle's occurrences in file order, at most 32 lines and each
     * string once. The needles that end with {@code /nvml.so} ({@code $ORIGIN/nvml.so} and the name
     * itself) are found in one pass over the data, by the name and the bytes before it: every byte of
     * data is read once for them together, not once per needle. Others get a pass each.
     */
    private static PatchedState search(ElfFile elf, Set<String> needles) {
        Map<String, Map<Long, Found>> byNeedle = new LinkedHashMap<>();
        for (String n : needles) byNeedle.put(n, new LinkedHashMap<>());
        List<String> withSuffix = needles.stream().filter(n -> n.endsWith(SHIM_SUFFIX)).toList();
        byte[] suffix = SHIM_SUFFIX.getBytes(StandardCharsets.ISO_8859_1);
        // Needles a census of the whole file found nowhere are not searched for again (NeedleCensus).
        if (!NeedleCensus.provesAbsent(elf, suffix)) DataScan.forEachAt(elf, suffix, Set.of(), (b, i, fileOffset, region) -> {
            for (String n : withSuffix) {
                int k = n.length() - suffix.length; // the needle's bytes before the name
                if (i - k < 0 || !prefixAt(b, i - k, n, k)) continue;
                record(byNeedle.get(n), b, i - k, n.length(), fileOffset - k, region);
            }
        });
        for (String n : needles) {
            if (n.endsWith(SHIM_SUFFIX)) continue;
            byte[] needle = n.getBytes(StandardCharsets.ISO_8859_1);
            if (NeedleCensus.provesAbsent(elf, needle)) continue;
            DataScan.forEachAt(elf, needle, Set.of(), (b, i, fileOffset, region) ->
                    record(byNeedle.get(n), b, i, needle.length, fileOffset, region));
        }
        List<String> evidence = new ArrayList<>();
        List<Written> written = new ArrayList<>();
        Set<String> paths = new LinkedHashSet<>();
        Set<Long> seen = new java.util.HashSet<>();
        for (Map<Long, Found> found : byNeedle.values()) {
            for (Found f : found.values()) {
                if (evidence.size() >= 32) break;
                if (!seen.add(f.offset())) continue;
                evidence.add(String.format("file offset 0x%x (%s): \"%s\"", f.offset(), f.region(), f.text()));
                written.add(new Written(f.offset(), f.text().length(), f.path()));
                paths.add(f.path());
            }
        }
        if (evidence.isEmpty()) return NOT_PATCHED;
        return new PatchedState(true, "bytes", null, new ArrayList<>(paths), evidence, written);
    }

    private static boolean prefixAt(ByteBuffer b, int at, String n, int k) {
        for (int j = 0; j < k; j++) {
            if ((b.get(at + j) & 0xff) != n.charAt(j)) return false;
        }
        return true;
    }

    /** The string around a needle found at {@code b[i]} ({@code fileOffset}), kept as its needle's evidence. */
    private static void record(Map<Long, Found> found, ByteBuffer b, int i, int length, long fileOffset, String region) {
        if (found.size() >= KEEP) return;
        int end = i + length;
        int start = i;
        // Back over the path (and the tool's '/' padding) to the string's first byte.
        while (start > 0 && i - start < 512 && isPathByte(b.get(start - 1))) start--;
        String run = ascii(b, start, end);
        // Packed Go strings: the previous string's bytes may precede the padding. A $ORIGIN
        // path starts at the '/' run before its last $ORIGIN; an absolute one at its first '/'.
        int dollar = run.lastIndexOf("$ORIGIN");
        int from = dollar >= 0 ? dollar : run.indexOf('/');
        if (from < 0) return;
        while (dollar >= 0 && from > 0 && run.charAt(from - 1) == '/') from--;
        String text = run.substring(from);
        String bare = text.replaceFirst("^/+", "");
        String path = bare.startsWith("$ORIGIN") ? bare : "/" + bare;
        long offset = fileOffset - (i - start) + from;
        found.putIfAbsent(offset, new Found(offset, region, text, path));
    }

    private static boolean isPathByte(byte c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' || c == '.'
                || c == '-' || c == '_' || c == '$' || c == '+';
    }

    private static String ascii(ByteBuffer b, int from, int to) {
        StringBuilder s = new StringBuilder(to - from);
        for (int i = from; i < to; i++) s.append((char) (b.get(i) & 0xff));
        return s.toString();
    }
}
