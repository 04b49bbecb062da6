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
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
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

    /** One file's pass: what it found, and its SHA-256 when asked for (else null). */
    public record Pass(NeedleCensus census, String sha256, FileStamp status) {}

    private final ExecutorService pool;
    private final Map<Path, Future<Pass>> passes = new LinkedHashMap<>();

    private FilePasses(ExecutorService pool) {
        this.pool = pool;
    }

    /**
     * What every search of a decision looks for: each library's stem, and what the already-patched
     * search looks for (the shim's file name {@code /nvml.so}, and each library's default path).
     */
    public static List<byte[]> needles(List<LibraryTarget> libraries) {
        Set<String> n = new LinkedHashSet<>();
        for (LibraryTarget l : libraries) n.add(l.stem());
        n.add("/nvml.so");
        for (LibraryTarget l : libraries) n.add(l.defaultPath());
        return NeedleCensus.needles(n);
    }

    /** Starts a pass over each of {@code files}, in order; {@code hash} says which also get a SHA-256. */
    public static FilePasses start(List<Path> files, List<byte[]> needles, Predicate<Path> hash) {
        ExecutorService pool = Executors.newFixedThreadPool(THREADS, r -> {
            Thread t = new Thread(r, "ollama-patch-read");
            t.setDaemon(true);
            return t;
        });
        FilePasses p = new FilePasses(pool);
        for (Path f : files) {
            boolean h = hash.test(f);
            p.passes.putIfAbsent(f, pool.submit(() -> pass(f, needles, h)));
        }
        return p;
    }

    private static Pass pass(Path file, List<byte[]> needles, boolean hash) {
        try {
            FileStamp status = status(file);
            if (status == null) return null;
            try (ByteSource source = ByteSource.map(file)) {
                MessageDigest md = hash ? Sha256.digest() : null;
                NeedleCensus census = NeedleCensus.take(source, needles, md);
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
        if (f == null) return null;
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
