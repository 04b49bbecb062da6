package dev.ollamapatch.install;

import dev.ollamapatch.elf.FileStamp;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Status records ({@link Manifest.StatRecord}): taken when an in-place apply has put every file in
 * place, written into its manifest, and compared by an already patched {@code apply --quiet} instead
 * of hashing (git's index does the same for {@code git status}).
 *
 * <p>A record proves "not written since" only if it was taken in an earlier clock tick than the
 * manifest was written: a file written again within the tick in which its status was taken keeps the
 * same times (file systems stamp with a coarse clock), so such a record is "racy" and is not kept (the
 * manifest is written again a tick later, or without records). A record is trusted only while all five
 * fields are the same and both its times are before the manifest's own modification time. What it
 * cannot see: a write within the same tick right after the status was taken (while this tool holds
 * the target's lock, in the few milliseconds between the last rename and the status), a clock set
 * back, and a file system that does not keep change times (then every record differs and files are
 * hashed, as without records).
 */
final class FileStatus {
    private FileStatus() {}

    /** The status of a regular file (not followed through a link), or null when it is none or cannot be read. */
    static Manifest.StatRecord of(Path file) {
        FileStamp s = FileStamp.of(file, LinkOption.NOFOLLOW_LINKS);
        return s == null ? null : new Manifest.StatRecord(s.dev(), s.ino(), s.size(), s.mtimeNs(), s.ctimeNs());
    }

    /** The modification time of {@code file} in nanoseconds, or -1. */
    static long modifiedNanos(Path file) {
        try {
            return Files.getLastModifiedTime(file, LinkOption.NOFOLLOW_LINKS).to(TimeUnit.NANOSECONDS);
        } catch (IOException e) {
            return -1;
        }
    }

    /** Whether {@code record} (from a manifest last modified at {@code manifestNanos}) still holds for {@code file}. */
    static boolean unchanged(Path file, Manifest.StatRecord record, long manifestNanos) {
        if (record == null || manifestNanos < 0) return false;
        if (record.ctimeNs() >= manifestNanos || record.mtimeNs() >= manifestNanos) return false; // racy
        return same(record, of(file));
    }

    /**
     * Field by field (a record's own equals is bootstrapped through method handles on first use, which
     * costs an already patched apply several milliseconds of start-up).
     */
    static boolean same(Manifest.StatRecord a, Manifest.StatRecord b) {
        return a != null && b != null && a.dev() == b.dev() && a.ino() == b.ino() && a.size() == b.size()
                && a.mtimeNs() == b.mtimeNs() && a.ctimeNs() == b.ctimeNs();
    }

    /**
     * How long after a record's time the wall clock must be before the manifest is written: file systems
     * stamp times from the kernel's coarse clock, which lags the wall clock by less than one tick (10 ms
     * at the lowest common rate, 100 Hz), so two ticks after the latest record the manifest's time is
     * after it.
     */
    static final long SETTLE_NANOS = 20_000_000L;

    /**
     * Writes {@code manifest} again with the status of each of its files and of the {@code clean} files
     * (absolute paths under the manifest's directory), once they are in place. A file read for the plan
     * (clean, or already patched) is recorded only if its status is still the one taken before it was
     * read ({@code whenPlanned}); a file this run wrote has the status its rename gave it. The write waits
     * until the manifest's time will be after every record's ({@link #SETTLE_NANOS}), so that it is one
     * write, the same steps in every run (the crash tests kill a run at each of them); if the manifest's
     * time is still not after them (a clock set back), it is written again without records. Never fails
     * the apply: records only save hashing later.
     */
    static void record(Manifest manifest, Path manifestPath, List<Path> clean, Map<Path, Manifest.StatRecord> whenPlanned) {
        Path base = manifestPath.getParent();
        try {
            List<Manifest.FileEntry> files = new ArrayList<>();
            long latest = Long.MIN_VALUE;
            for (Manifest.FileEntry f : manifest.files()) {
                Path file = base.resolve(f.path()).normalize();
                Manifest.StatRecord s = of(file);
                if (s == null || (whenPlanned.containsKey(file) && !same(s, whenPlanned.get(file)))) {
                    files.add(f.withStat(null)); // changed since it was read: hashed next time
                    continue;
                }
                latest = Math.max(latest, Math.max(s.ctimeNs(), s.mtimeNs()));
                files.add(f.withStat(s));
            }
            List<Manifest.CleanEntry> cleanEntries = new ArrayList<>();
            for (Path c : clean) {
                Manifest.StatRecord s = of(c);
                if (s == null || !same(s, whenPlanned.get(c))) continue;
                latest = Math.max(latest, Math.max(s.ctimeNs(), s.mtimeNs()));
                cleanEntries.add(new Manifest.CleanEntry(base.relativize(c).toString(), s));
            }
            settleAfter(latest);
            manifest.withStatus(files, cleanEntries).write(manifestPath);
            if (modifiedNanos(manifestPath) > latest) return;
            manifest.write(manifestPath); // its time is not after a record's: the records prove nothing
        } catch (IOException | RuntimeException e) {
            // The manifest written before the swaps stays: it describes every file; only the records are missing.
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Sleeps until the wall clock is {@link #SETTLE_NANOS} past {@code nanos} (epoch nanoseconds). A time
     * further ahead than that (a file's modification time set into the future) is not waited for: the
     * manifest's time will not be after it, and the records are left out.
     */
    private static void settleAfter(long nanos) throws InterruptedException {
        if (nanos == Long.MIN_VALUE) return;
        java.time.Instant now = java.time.Instant.now();
        long wait = nanos + SETTLE_NANOS - (now.getEpochSecond() * 1_000_000_000L + now.getNano());
        if (wait > 0 && wait <= SETTLE_NANOS) Thread.sleep(wait / 1_000_000L, (int) (wait % 1_000_000L));
    }
}
