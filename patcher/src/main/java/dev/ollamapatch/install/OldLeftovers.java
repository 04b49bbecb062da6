package dev.ollamapatch.install;

import dev.ollamapatch.io.AtomicFiles;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * What OLDER versions of this tool left behind when they were killed: they named temporary files at
 * random or by process id, so the exact names of {@link Leftovers} miss them. The shapes, from this
 * repository's history ({@code <k>}: a name the run knows — a file it patches, its manifest, a shim,
 * the output of {@code -o}; {@code <n>}: digits only):
 * <ul>
 *   <li>{@link Kind#COPY}, {@link Kind#MANIFEST}, {@link Kind#SHIM}, {@link Kind#OUTPUT}:
 *       {@code .<k>.<n>.ollama-patch.tmp} (a patched copy, a manifest, a shim, an output being written);</li>
 *   <li>{@link Kind#LINK}: {@code .<k>.orig.<pid>.link} (a backup being linked into place);</li>
 *   <li>{@link Kind#ROLLBACK}: {@code .<k>.rollback.ollama-patch.tmp} (an original being put back);</li>
 *   <li>{@link Kind#SPOOL}: {@code .ollama-patch-entry.<n>.ollama-patch.tmp} and
 *       {@code .ollama-patch-entry.<pid>.<n>.ollama-patch.tmp} beside an archive's output.</li>
 * </ul>
 * Matching is plain string comparison of the prefix and suffix around the known name and a
 * digits-only middle: never a glob or a regular expression, so any file name works ({@code ollama[}).
 *
 * <p>A name is not proof. A file is removed only when it is also proven to be the tool's own:
 * <ul>
 *   <li>{@code LINK}, {@code ROLLBACK}: a regular file that is the same inode as {@code <k>} or
 *       {@code <k>.orig} (both were hard links): removing that name loses no byte. Otherwise it may be the
 *       only copy of an original (an older version's failed rollback) and is left where it is.</li>
 *   <li>the others: a regular file with one link, owned by the user running the tool, not modified in
 *       the last minute, open or mapped by no process this user can see (so no run of any version is
 *       still writing it), and holding what the tool writes there: nothing yet, or a start that fits —
 *       an ELF header for copies, shims and spools (a copy no larger than the file it copies), {@code {}
 *       for manifests, ELF/gzip/zstd/tar for outputs.</li>
 * </ul>
 * A file that fails a proof stays; one that cannot be removed (permissions) stays too: either is harmless.
 */
public final class OldLeftovers {
    private static final String TMP = AtomicFiles.TEMP_SUFFIX;
    private static final String SPOOL_PREFIX = ".ollama-patch-entry.";
    /** Time for an older run between closing a spool and opening it again. */
    private static final Duration QUIET = Duration.ofMinutes(1);

    public enum Kind { COPY, MANIFEST, SHIM, OUTPUT, LINK, ROLLBACK, SPOOL }

    /** A file of an old shape; {@code of}: the file it stood for (null for a spool). */
    public record Candidate(Path path, Kind kind, Path of) {}

    private OldLeftovers() {}

    /** The middle of {@code name} between {@code prefix} and {@code suffix} when it is one or more digits; else null. */
    static String digitsBetween(String name, String prefix, String suffix) {
        String middle = between(name, prefix, suffix);
        return middle != null && digits(middle) ? middle : null;
    }

    private static String between(String name, String prefix, String suffix) {
        if (name.length() <= prefix.length() + suffix.length()) return null;
        if (!name.startsWith(prefix) || !name.endsWith(suffix)) return null;
        return name.substring(prefix.length(), name.length() - suffix.length());
    }

    private static boolean digits(String s) {
        if (s.isEmpty()) return false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') return false;
        }
        return true;
    }

    /**
     * Whether {@code name} in {@code dir} is an older version's backup link {@code .<k>.orig.<pid>.link}
     * of a file {@code <k>} there: such a file is a second name of an install file, never one to patch.
     */
    public static boolean isBackupLink(Path dir, String name) {
        if (!name.startsWith(".") || !name.endsWith(".link")) return false;
        String rest = name.substring(1, name.length() - ".link".length());
        int dot = rest.lastIndexOf('.');
        if (dot < 0 || !digits(rest.substring(dot + 1))) return false;
        String backup = rest.substring(0, dot);
        if (!backup.endsWith(InstallLayout.BACKUP_SUFFIX)) return false;
        String k = backup.substring(0, backup.length() - InstallLayout.BACKUP_SUFFIX.length());
        return !k.isEmpty() && Files.exists(dir.resolve(k), LinkOption.NOFOLLOW_LINKS);
    }

    /** Old shapes beside the files of an in-place target, its manifest(s) and its shims. */
    static List<Candidate> inPlace(Collection<Path> files, Collection<Path> manifests, Collection<Path> shims) {
        Map<Path, Map<String, Kind>> known = new LinkedHashMap<>();
        for (Path f : shims) put(known, f, Kind.SHIM);
        for (Path f : manifests) put(known, f, Kind.MANIFEST);
        for (Path f : files) put(known, f, Kind.COPY);
        List<Candidate> out = new ArrayList<>();
        known.forEach((dir, names) -> {
            for (String entry : list(dir)) {
                if (names.containsKey(entry)) continue; // a file the run knows is never a leftover
                for (Map.Entry<String, Kind> k : names.entrySet()) {
                    Candidate c = match(dir, entry, k.getKey(), k.getValue());
                    if (c != null) {
                        out.add(c);
                        break;
                    }
                }
            }
        });
        return out;
    }

    /** Old shapes beside the output of {@code apply -o} or of an archive: its temporary files, spools and shims'. */
    public static List<Candidate> besideOutput(Path output, Collection<Path> shims) {
        Path out = output.toAbsolutePath();
        Map<Path, Map<String, Kind>> known = new LinkedHashMap<>();
        for (Path f : shims) put(known, f, Kind.SHIM);
        put(known, out, Kind.OUTPUT);
        List<Candidate> found = new ArrayList<>();
        known.forEach((dir, names) -> {
            for (String entry : list(dir)) {
                if (names.containsKey(entry)) continue;
                if (dir.equals(out.getParent()) && isSpool(entry)) {
                    found.add(new Candidate(dir.resolve(entry), Kind.SPOOL, null));
                    continue;
                }
                for (Map.Entry<String, Kind> k : names.entrySet()) {
                    String n = digitsBetween(entry, "." + k.getKey() + ".", TMP);
                    if (n != null) {
                        found.add(new Candidate(dir.resolve(entry), k.getValue(), dir.resolve(k.getKey())));
                        break;
                    }
                }
            }
        });
        return found;
    }

    /** {@code .ollama-patch-entry.<n>.ollama-patch.tmp} or {@code .ollama-patch-entry.<pid>.<n>.ollama-patch.tmp}. */
    static boolean isSpool(String name) {
        String middle = between(name, SPOOL_PREFIX, TMP);
        if (middle == null) return false;
        int dot = middle.indexOf('.');
        return dot < 0 ? digits(middle) : digits(middle.substring(0, dot)) && digits(middle.substring(dot + 1));
    }

    private static Candidate match(Path dir, String entry, String k, Kind kind) {
        if (digitsBetween(entry, "." + k + ".", TMP) != null) return new Candidate(dir.resolve(entry), kind, dir.resolve(k));
        if (kind != Kind.COPY) return null;
        if (digitsBetween(entry, "." + k + InstallLayout.BACKUP_SUFFIX + ".", ".link") != null) {
            return new Candidate(dir.resolve(entry), Kind.LINK, dir.resolve(k));
        }
        if (entry.equals("." + k + ".rollback" + TMP)) return new Candidate(dir.resolve(entry), Kind.ROLLBACK, dir.resolve(k));
        return null;
    }

    private static void put(Map<Path, Map<String, Kind>> known, Path file, Kind kind) {
        Path abs = file.toAbsolutePath();
        if (abs.getParent() == null || abs.getFileName() == null) return;
        known.computeIfAbsent(abs.getParent(), d -> new LinkedHashMap<>()).putIfAbsent(abs.getFileName().toString(), kind);
    }

    /** The names in {@code dir}, read once, without any pattern; none when it cannot be read. */
    private static List<String> list(Path dir) {
        List<String> names = new ArrayList<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
            for (Path p : s) names.add(p.getFileName().toString());
        } catch (IOException | RuntimeException e) {
            // a directory not there (yet) or not readable holds nothing to clean
        }
        return names;
    }

    /** Removes each candidate proven to be the tool's own (see the class comment); returns those removed. */
    public static List<Path> removeProven(List<Candidate> candidates) {
        List<Path> removed = new ArrayList<>();
        Set<String> inUse = null;
        for (Candidate c : candidates) {
            try {
                boolean proven;
                if (c.kind == Kind.LINK || c.kind == Kind.ROLLBACK) {
                    proven = sameInodeAsFileOrBackup(c);
                } else {
                    if (inUse == null) inUse = openOrMapped();
                    proven = inUse != null && unusedOwnFile(c, inUse) && contentFits(c);
                }
                if (proven && Files.deleteIfExists(c.path)) removed.add(c.path);
            } catch (IOException | RuntimeException e) {
                // not proven, or not ours to remove: left as it is
            }
        }
        return removed;
    }

    private static boolean sameInodeAsFileOrBackup(Candidate c) throws IOException {
        BasicFileAttributes a = Files.readAttributes(c.path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (!a.isRegularFile() || a.fileKey() == null) return false;
        for (Path other : List.of(c.of, InstallLayout.backupOf(c.of))) {
            try {
                BasicFileAttributes o = Files.readAttributes(other, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                if (o.isRegularFile() && a.fileKey().equals(o.fileKey())) return true;
            } catch (NoSuchFileException e) {
                // try the other name
            }
        }
        return false;
    }

    private static boolean unusedOwnFile(Candidate c, Set<String> inUse) throws IOException {
        Map<String, Object> a = Files.readAttributes(c.path, "unix:isRegularFile,nlink,uid,lastModifiedTime,ino,dev",
                LinkOption.NOFOLLOW_LINKS);
        if (!Boolean.TRUE.equals(a.get("isRegularFile")) || ((Integer) a.get("nlink")) != 1) return false;
        Object me = Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        if (!Objects.equals(me, a.get("uid"))) return false;
        Instant modified = ((java.nio.file.attribute.FileTime) a.get("lastModifiedTime")).toInstant();
        if (modified.isAfter(Instant.now().minus(QUIET))) return false;
        String real = c.path.getParent().toRealPath().resolve(c.path.getFileName()).toString();
        return !inUse.contains(real) && !inUse.contains(c.path.toString());
    }

    private static final byte[] ELF = {0x7f, 'E', 'L', 'F'};
    private static final byte[] GZIP = {0x1f, (byte) 0x8b};
    private static final byte[] ZSTD = {0x28, (byte) 0xb5, 0x2f, (byte) 0xfd};

    private static boolean contentFits(Candidate c) throws IOException {
        long size = Files.size(c.path);
        if (size == 0) return true; // created, killed before the first byte
        byte[] head = new byte[262];
        int n;
        try (InputStream in = Files.newInputStream(c.path, LinkOption.NOFOLLOW_LINKS)) {
            n = in.readNBytes(head, 0, head.length);
        }
        head = Arrays.copyOf(head, n);
        return switch (c.kind) {
            case COPY -> startsWith(head, ELF) && (!Files.isRegularFile(c.of, LinkOption.NOFOLLOW_LINKS)
                    || size <= Files.size(c.of));
            case SHIM, SPOOL -> startsWith(head, ELF);
            case MANIFEST -> head[0] == '{';
            case OUTPUT -> startsWith(head, ELF) || startsWith(head, GZIP) || startsWith(head, ZSTD)
                    || (n >= 262 && new String(head, 257, 5, StandardCharsets.US_ASCII).equals("ustar"));
            default -> false;
        };
    }

    private static boolean startsWith(byte[] head, byte[] magic) {
        if (head.length < magic.length) return false;
        for (int i = 0; i < magic.length; i++) if (head[i] != magic[i]) return false;
        return true;
    }

    /**
     * The paths every process this user can see has open or mapped ({@code /proc/PID/fd}, {@code /proc/PID/maps});
     * null when {@code /proc} cannot be read (then nothing is proven unused).
     */
    private static Set<String> openOrMapped() {
        Set<String> paths = new HashSet<>();
        try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"))) {
            for (Path proc : procs) {
                if (!digits(proc.getFileName().toString())) continue;
                try (DirectoryStream<Path> fds = Files.newDirectoryStream(proc.resolve("fd"))) {
                    for (Path fd : fds) {
                        try {
                            paths.add(Files.readSymbolicLink(fd).toString());
                        } catch (IOException e) {
                            // closed meanwhile
                        }
                    }
                } catch (IOException e) {
                    // another user's process, or gone
                }
                try {
                    // Decoded leniently: a name that is not UTF-8 must not hide the other lines.
                    String maps = new String(Files.readAllBytes(proc.resolve("maps")), StandardCharsets.UTF_8);
                    for (String line : maps.split("\n")) {
                        int slash = line.indexOf('/');
                        if (slash >= 0) paths.add(line.substring(slash));
                    }
                } catch (IOException | RuntimeException e) {
                    // another user's process, or gone
                }
            }
        } catch (IOException e) {
            return null;
        }
        return paths;
    }

    /** The names of {@code candidates}, for tests and messages. */
    static Set<String> names(Collection<Candidate> candidates) {
        Set<String> s = new LinkedHashSet<>();
        for (Candidate c : candidates) s.add(c.path.getFileName().toString());
        return s;
    }
}
