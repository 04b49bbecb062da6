package dev.ollamapatch.decide;

import dev.ollamapatch.elf.ByteSource;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.FileStamp;
import dev.ollamapatch.io.Sha256;
import dev.ollamapatch.site.LibraryTarget;
import dev.ollamapatch.site.NeedleCensus;

import java.io.IOException;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * The one read of each file of a target, made ahead on two threads while the caller decides the files
 * in order: a {@link NeedleCensus} of every byte (library stems and the tool's own replacement paths)
 * and, where the caller needs it, the file's SHA-256 from the same chunks. A file that names none of
 * the needles is then decided without being read again ({@link NeedleCensus#provesAbsent}).
 *
 * <p>A pass is used only for the file it was taken of, unchanged since: its status (device, inode,
 * size, modification and change times) is read before the pass and again when the caller opens the
 * file; if they differ, or the pass failed, {@link #take} gives null and the caller reads the file as
 * it always did. Reports are unchanged either way: the census only skips searches that would find
 * nothing, and the digest is of the same bytes.
 */
public final class FilePasses implements AutoCloseable {
    /** Threads reading ahead: the tool runs on small machines; two keep one core reading while the other decides. */
    static final int THREADS = Math.max(1, Math.min(2, Runtime.getRuntime().availableProcessors()));

    /**
     * One file's pass: what it found, and its SHA-256 when asked for (else null): taken from the same
     * read, or ({@code hashing}) by a read of its own right after the census, waited for here and null if
     * that read failed or found the file changed since the census.
     */
    public record Pass(NeedleCensus census, String sha256, FileStamp status, Future<String> hashing) {
        public Pass(NeedleCensus census, String sha256, FileStamp status) {
            this(census, sha256, status, null);
        }

        @Override
        public String sha256() {
            return sha256 != null || hashing == null ? sha256 : waitFor(hashing);
        }
    }

    private final ExecutorService pool;
    private final Map<Path, Future<Pass>> passes = new LinkedHashMap<>();
    private volatile Consumer<Path> whenLocated;
    /** Files whose pass found a located needle before {@link #whenLocated} was given. */
    private final List<Path> locatedFiles = new ArrayList<>();

    private FilePasses(ExecutorService pool) {
        this.pool = pool;
    }

    /**
     * What every search of a decision looks for: each library's stem, and what the already-patched
     * search looks for (the shim's file name {@code /nvml.so}, and each library's default path).
     */
    public static List<byte[]> needles(List<LibraryTarget> libraries) {
        Set<String> n = stems(libraries);
        n.add("/nvml.so");
        for (LibraryTarget l : libraries) n.add(l.defaultPath());
        return NeedleCensus.needles(n);
    }

    /** The needles whose every position a pass keeps: each library's stem, where the site finder starts. */
    public static List<byte[]> located(List<LibraryTarget> libraries) {
        return NeedleCensus.needles(stems(libraries));
    }

    private static Set<String> stems(List<LibraryTarget> libraries) {
        Set<String> n = new LinkedHashSet<>();
        for (LibraryTarget l : libraries) n.add(l.stem());
        return n;
    }

    /** {@link #start(List, List, List, Predicate)} locating none of the needles. */
    public static FilePasses start(List<Path> files, List<byte[]> needles, Predicate<Path> hash) {
        return start(files, needles, List.of(), hash);
    }

    /**
     * {@link #start(List, List, List, Predicate)} for a single file whose hash is not needed before its
     * decision (a scan of one file): the census is read first and given out at once, the work of
     * {@link #whenLocated} runs next, and the SHA-256 is taken by a second read after those. One file has
     * no later files whose reads would overlap its decision, so its decision would otherwise wait for
     * the hash too; the second read costs a copy of the file from the page cache.
     */
    public static FilePasses startCensusFirst(Path file, List<byte[]> needles, List<byte[]> located) {
        FilePasses p = new FilePasses(pool());
        CompletableFuture<Pass> done = new CompletableFuture<>();
        p.passes.put(file, done);
        p.pool.execute(() -> {
            Pass census = null;
            CompletableFuture<String> hashing = new CompletableFuture<>();
            try {
                census = pass(file, needles, located, false);
            } finally {
                done.complete(census == null ? null : new Pass(census.census(), null, census.status(), hashing));
            }
            try {
                if (census != null) p.afterPass(file, census, located);
            } finally {
                hashing.complete(census == null ? null : hashOf(file, census.status()));
            }
        });
        return p;
    }

    /** The SHA-256 of {@code file} if it still has {@code status} before and after the read; else null. */
    static String hashOf(Path file, FileStamp status) {
        try {
            if (!status.equals(status(file))) return null;
            String hex;
            try (ByteSource source = ByteSource.map(file)) {
                hex = Sha256.of(source).hex();
            }
            return status.equals(status(file)) ? hex : null;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static ExecutorService pool() {
        return Executors.newFixedThreadPool(THREADS, r -> {
            Thread t = new Thread(r, "ollama-patch-read");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Runs the work of {@link #whenLocated} if the pass found a located needle, or keeps the file for that
     * work when it is given later.
     */
    private void afterPass(Path file, Pass pass, List<byte[]> located) {
        if (located.stream().allMatch(n -> pass.census().absent(n))) return;
        Consumer<Path> then;
        synchronized (locatedFiles) {
            then = whenLocated;
            if (then == null) {
                locatedFiles.add(file);
                return;
            }
        }
        runQuietly(then, file);
    }

    private static void runQuietly(Consumer<Path> work, Path file) {
        try {
            work.accept(file);
        } catch (RuntimeException e) {
            // work ahead only: the decision does it again and meets the fault itself
        }
    }

    /**
     * Starts a pass over each of {@code files}, in order; {@code located}: the needles whose positions
     * each pass keeps; {@code hash} says which files also get a SHA-256.
     */
    public static FilePasses start(List<Path> files, List<byte[]> needles, List<byte[]> located, Predicate<Path> hash) {
        FilePasses p = new FilePasses(pool());
        for (Path f : files) {
            if (p.passes.containsKey(f)) continue;
            boolean h = hash.test(f);
            CompletableFuture<Pass> done = new CompletableFuture<>();
            p.passes.put(f, done);
            p.pool.execute(() -> {
                Pass pass = null;
                try {
                    pass = pass(f, needles, located, h);
                } finally {
                    done.complete(pass);
                }
                if (pass != null) p.afterPass(f, pass, located);
            });
        }
        return p;
    }

    /**
     * Work to run on a reading thread right after the pass of a file that holds one of the located
     * needles (for a pass already done: at once): what the decision of such a file will need next,
     * computed while the caller is still deciding. It must not change what the caller decides.
     */
    public void whenLocated(Consumer<Path> work) {
        List<Path> waiting;
        synchronized (locatedFiles) {
            whenLocated = work;
            waiting = new ArrayList<>(locatedFiles);
            locatedFiles.clear();
        }
        for (Path f : waiting) pool.execute(() -> runQuietly(work, f));
    }

    private static Pass pass(Path file, List<byte[]> needles, List<byte[]> located, boolean hash) {
        try {
            FileStamp status = status(file);
            if (status == null) return null;
            try (ByteSource source = ByteSource.map(file)) {
                MessageDigest md = hash ? Sha256.digest() : null;
                NeedleCensus census = NeedleCensus.take(source, needles, located, md);
                return new Pass(census, md == null ? null : Sha256.of(md).hex(), status);
            }
        } catch (IOException | RuntimeException e) {
            return null; // the caller reads the file itself, and meets whatever failed in its own words
        }
    }

    /** A regular file's stamp, not followed through a link; null if it is not one. */
    static FileStamp status(Path file) {
        return FileStamp.of(file, LinkOption.NOFOLLOW_LINKS);
    }

    /**
     * The pass of {@code file}, waited for, if it was taken of the bytes {@code elf} (just opened from
     * {@code file}) holds: its census is attached to {@code elf}. Null when there is none to rely on.
     */
    public Pass take(Path file, ElfFile elf) {
        Pass p = await(file);
        if (p == null) return null;
        if (!p.status().equals(status(file)) || p.census().size() != elf.bytes().size()) return null;
        NeedleCensus.attach(elf, p.census());
        return p;
    }

    /** The pass of {@code file} without an open file to attach it to (checked against the file's status now). */
    public Pass take(Path file) {
        Pass p = await(file);
        if (p == null) return null;
        return p.status().equals(status(file)) ? p : null;
    }

    Pass await(Path file) {
        Future<Pass> f = passes.get(file);
        return f == null ? null : waitFor(f);
    }

    /** The value, waited for; null if its work failed or this thread was interrupted (the caller then reads for itself). */
    private static <T> T waitFor(Future<T> f) {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        } catch (ExecutionException e) {
            return null;
        }
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }

    /** For tests: the files passes were started for, in order. */
    List<Path> files() {
        return new ArrayList<>(passes.keySet());
    }
}
