package dev.ollamapatch.install;

import dev.ollamapatch.io.AtomicFiles;
import dev.ollamapatch.io.Sha256;
import dev.ollamapatch.report.PatchException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Carries out an {@link InPlacePlan} as one transaction; the caller holds the target's lock. Order:
 * every patched copy written and verified under its exact temporary name; the manifest (it names both
 * hashes of every file); the shims; then per file the original hard-linked as {@code .orig} and the
 * copy renamed over the file. Any failure puts back every file already swapped and removes what this
 * run created; once a put-back fails nothing more is removed: the backups, the shims and the manifest
 * (which records them) stay for {@code restore}.
 */
public final class InPlaceTransaction {
    private InPlaceTransaction() {}

    /** One file swapped: its patched copy's hash as stored. */
    public record Patched(InPlacePlan.FileChange change, String patchedSha256) {}

    /** What the run did: the files swapped (in order) and the shims that were there before and installed again. */
    public record Committed(List<Patched> patched, List<Path> reinstalledShims) {
        public List<Path> files() {
            return patched.stream().map(p -> p.change().file()).toList();
        }
    }

    /** Runs the plan; an exception means everything was put back (or, when that failed, it says how to finish). */
    public static Committed run(InPlacePlan plan, Path target) throws IOException {
        return run(plan, target, Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
    }

    static Committed run(InPlacePlan plan, Path target, String time) throws IOException {
        // Every patched copy is written and verified before anything else changes.
        List<Pending> pending = new ArrayList<>();
        for (InPlacePlan.FileChange f : plan.files()) {
            try {
                Path temp = AtomicFiles.createExactTemp(f.file());
                InPlacePlan.Copied copied;
                try {
                    copied = f.writer().write(temp);
                } catch (IOException | RuntimeException e) {
                    Files.deleteIfExists(temp);
                    throw e;
                }
                pending.add(new Pending(f, temp, copied.outputSha256()));
                // The copy hashes what it read: a different digest means the source (the file, or its
                // kept original when re-targeting) changed after it was planned.
                if (!copied.inputSha256().equals(f.sourceSha256())) {
                    throw new PatchException(PatchException.Kind.REFUSED, f.source() + ": changed while it was being "
                            + "patched (SHA-256 " + f.sourceSha256() + " when planned, " + copied.inputSha256()
                            + " when copied); nothing changed");
                }
            } catch (IOException | RuntimeException e) {
                for (Pending p : pending) Files.deleteIfExists(p.temp);
                throw e;
            }
        }
        Manifest manifest = plan.manifestFor(pending.stream().map(Pending::patchedSha256).toList(), time);
        List<Swapped> swapped = new ArrayList<>();
        List<Path> newBackups = new ArrayList<>();
        List<Path> installedShims = new ArrayList<>();
        List<Path> shimDirectories = new ArrayList<>();
        List<Path> reinstalled = new ArrayList<>();
        try {
            // The manifest first: whatever happens next, it describes both possible states of every file
            // and records every shim and backup this run creates.
            manifest.write(plan.manifestPath());
            for (InPlacePlan.ShimChange s : plan.shims()) {
                if (!s.install()) continue;
                if (!s.existed()) installedShims.add(s.path());
                shimDirectories.addAll(ShimDirectories.resolved(plan.manifestPath().getParent(), s.entry().directoriesOrEmpty()));
                ShimInstall.installAtExact(s.source(), s.path());
                if (s.existed() || plan.files().isEmpty()) reinstalled.add(s.path());
            }
            for (Pending p : pending) {
                Path file = p.change.file();
                Path backup = InstallLayout.backupOf(file);
                boolean fresh = false;
                if (!p.change.fromBackup()) fresh = ensureBackup(file, backup, p.change.originalSha256());
                if (fresh) newBackups.add(backup);
                BasicFileAttributes before = p.change.before();
                BasicFileAttributes now = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                if (!Objects.equals(now.fileKey(), before.fileKey()) || now.size() != before.size()
                        || !now.lastModifiedTime().equals(before.lastModifiedTime())) {
                    throw new PatchException(PatchException.Kind.REFUSED, file
                            + " changed while it was being patched; everything was put back");
                }
                // Re-targeting replaces a file patched before: that file, not the original, is what a
                // rollback must put back, so it is kept (a hard link) until the run has finished.
                Path previous = null;
                if (p.change.fromBackup()) {
                    previous = previousOf(file);
                    Files.deleteIfExists(previous);
                    Files.createLink(previous, file);
                }
                AtomicFiles.commit(p.temp, file);
                swapped.add(new Swapped(file, fresh, previous));
            }
        } catch (IOException | RuntimeException e) {
            List<String> unfinished = rollBack(swapped, newBackups, installedShims, shimDirectories, pending, plan.previous(),
                    plan.manifestPath());
            if (!unfinished.isEmpty()) {
                throw new PatchException(PatchException.Kind.FAILED, oneLine(e) + "; putting back failed too ("
                        + String.join("; ", unfinished) + "); every original is kept as <file>" + InstallLayout.BACKUP_SUFFIX
                        + " and " + plan.manifestPath() + " records them: run 'ollama-patch restore " + target
                        + "' to finish", e);
            }
            throw e;
        }
        for (Swapped w : swapped) {
            if (w.previous() != null) Files.deleteIfExists(w.previous());
        }
        // Every file in place: their status (and the clean files') lets the next apply skip hashing them.
        FileStatus.record(manifest, plan.manifestPath(), plan.clean(), plan.statusWhenPlanned());
        List<Patched> patched = pending.stream().map(p -> new Patched(p.change, p.patchedSha256)).toList();
        return new Committed(patched, reinstalled);
    }

    static String oneLine(Throwable e) {
        if (e instanceof java.nio.file.FileSystemException f) {
            return f.getFile() + (f.getOtherFile() != null ? " -> " + f.getOtherFile() : "") + ": "
                    + (f.getReason() != null ? f.getReason() : "file system error");
        }
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }

    /** A verified copy under its exact temporary name, not yet in place. */
    private record Pending(InPlacePlan.FileChange change, Path temp, String patchedSha256) {}

    /**
     * {@code fresh}: its backup was made by this run (a link to the original), so putting back is one
     * rename; {@code previous}: when re-targeting, the file as it was (patched before), kept until the end.
     */
    private record Swapped(Path file, boolean fresh, Path previous) {}

    /** Where a re-targeted file's previous (patched) state is kept during the run: an exact name, one per file. */
    static Path previousOf(Path file) {
        return AtomicFiles.exactTemp(file.resolveSibling(file.getFileName() + ".previous"));
    }

    /**
     * The backup is a hard link to the original's inode: no copy, and the rename leaves it intact.
     * Returns whether this run created it. A backup already there is this tool's (the manifest
     * records it; any other was refused while planning): kept when it is this original, else
     * replaced atomically by it (the file was upgraded since it was patched).
     */
    private static boolean ensureBackup(Path file, Path backup, String originalSha) throws IOException {
        if (Files.isSymbolicLink(backup)) {
            throw new PatchException(PatchException.Kind.REFUSED, backup + " is a symbolic link; refusing to write through it");
        }
        if (Files.exists(backup, LinkOption.NOFOLLOW_LINKS)) {
            String have = Sha256.of(backup).hex();
            if (have.equals(originalSha)) return false;
            Path temp = AtomicFiles.exactTemp(backup);
            Files.deleteIfExists(temp);
            Files.createLink(temp, file);
            AtomicFiles.commit(temp, backup);
            return false;
        }
        try {
            Files.createLink(backup, file);
        } catch (UnsupportedOperationException | java.nio.file.FileSystemException e) {
            if (e instanceof java.nio.file.FileSystemException f && !(f.getReason() != null
                    && f.getReason().contains("not permitted"))) throw f;
            // No hard links here (some file systems): a verified copy, through the exact temporary name.
            Path temp = AtomicFiles.exactTemp(backup);
            Files.deleteIfExists(temp);
            Files.copy(file, temp, StandardCopyOption.COPY_ATTRIBUTES);
            AtomicFiles.fsync(temp);
            if (!Sha256.of(temp).hex().equals(originalSha)) {
                Files.deleteIfExists(temp);
                throw new PatchException(PatchException.Kind.REFUSED, file + " changed while it was being backed up; nothing changed");
            }
            Files.move(temp, backup, StandardCopyOption.ATOMIC_MOVE);
        }
        AtomicFiles.fsyncDirectory(backup.getParent());
        return true;
    }

    /**
     * Puts back every file this run swapped, then removes what it created. Nothing is removed once a
     * put-back fails: the backups, shims and the manifest (which records them) stay for restore.
     * Returns what could not be put back, one phrase each.
     */
    private static List<String> rollBack(List<Swapped> swapped, List<Path> newBackups, List<Path> installedShims,
                                         List<Path> shimDirectories, List<Pending> pending, Manifest previous, Path manifestPath) {
        List<String> failed = new ArrayList<>();
        List<Path> consumed = new ArrayList<>();
        for (int i = swapped.size() - 1; i >= 0; i--) {
            Path file = swapped.get(i).file();
            Path backup = InstallLayout.backupOf(file);
            try {
                if (swapped.get(i).previous() != null) {
                    // Re-targeted: the file patched before goes back, as it was.
                    Files.move(swapped.get(i).previous(), file, StandardCopyOption.ATOMIC_MOVE);
                    AtomicFiles.fsyncDirectory(file.getParent());
                } else if (swapped.get(i).fresh()) {
                    // The backup made by this run is the original's inode: renamed back, it is the file again.
                    Files.move(backup, file, StandardCopyOption.ATOMIC_MOVE);
                    AtomicFiles.fsyncDirectory(file.getParent());
                    consumed.add(backup);
                } else {
                    Path temp = AtomicFiles.exactTemp(file);
                    Files.deleteIfExists(temp);
                    Files.createLink(temp, backup);
                    AtomicFiles.commit(temp, file);
                }
            } catch (IOException | RuntimeException e) {
                failed.add(file + ": " + oneLine(e));
            }
        }
        for (Pending p : pending) {
            try { Files.deleteIfExists(p.temp); } catch (IOException ignored) { /* removed by the next run */ }
        }
        if (!failed.isEmpty()) return failed;
        boolean clean = true;
        for (Path b : newBackups) {
            if (consumed.contains(b)) continue;
            // Made for a file that was never swapped: the file itself is still the original.
            try { Files.deleteIfExists(b); } catch (IOException e) { clean = false; }
        }
        for (Path s : installedShims) {
            try { Files.deleteIfExists(s); } catch (IOException e) { clean = false; }
        }
        ShimDirectories.removeEmpty(shimDirectories); // made by this run; one that holds anything stays
        if (!clean) return failed; // the manifest stays: it records what is left, and restore removes it
        try {
            if (previous != null) previous.write(manifestPath); else Files.deleteIfExists(manifestPath);
            AtomicFiles.fsyncDirectory(manifestPath.getParent());
        } catch (IOException ignored) {
            // The new manifest still describes both states of every file; verify says what holds.
        }
        return failed;
    }
}
