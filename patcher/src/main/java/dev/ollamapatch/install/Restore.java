package dev.ollamapatch.install;

import dev.ollamapatch.io.AtomicFiles;
import dev.ollamapatch.io.Sha256;
import dev.ollamapatch.report.ApplyOutcome;
import dev.ollamapatch.report.PatchException;
import dev.ollamapatch.report.Refusal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code restore TARGET} as a transaction that a second run completes. Every check is made before
 * anything moves; then each original is put back by renaming its backup over the file (one atomic
 * step per file), the shims no other manifest still uses are removed, and the manifest goes last.
 * A run stopped at any point leaves a manifest that still describes every file: a file whose
 * backup is gone and that holds its original is already restored, and the next run goes on from
 * there.
 */
public final class Restore {
    private Restore() {}

    private enum Step { RENAME_BACKUP, DROP_BACKUP, DONE }

    private record Action(ManifestPaths.File file, Step step) {}

    /**
     * Restores, or says why not as a value: nothing recorded (nothing to restore), another run holds the
     * lock (busy), a file that cannot be put back safely (refused, nothing restored). Exceptions are
     * left for faults: a manifest that cannot be read or points outside its tree, and I/O failing
     * part-way (the message says to run restore again).
     */
    public static ApplyOutcome run(InstallLayout layout, boolean force) throws IOException {
        if (!Manifest.exists(layout.manifest())) {
            // Nothing recorded; a killed apply may still have left its temporary files (exact names).
            Leftovers left = Leftovers.of(layout, null, shimTargets(layout));
            if (Leftovers.anyExist(left) || Files.exists(layout.lock(), LinkOption.NOFOLLOW_LINKS)) {
                TargetLock.Attempt attempt = TargetLock.tryAcquire(layout.lock());
                if (attempt.refusal() != null) return attempt.refusal().outcome();
                try (TargetLock lock = attempt.lock()) {
                    Leftovers.remove(left);
                }
            }
            return ApplyOutcome.nothingToPatch(List.of(layout.target() + ": no manifest at " + layout.manifest()
                    + "; nothing to restore"), List.of());
        }
        TargetLock.Attempt attempt = TargetLock.tryAcquire(layout.lock());
        if (attempt.refusal() != null) return attempt.refusal().outcome();
        try (TargetLock lock = attempt.lock()) {
            ManifestPaths.Resolved r = ManifestPaths.resolve(layout, Manifest.read(layout.manifest()));
            Leftovers.remove(Leftovers.of(layout, r, shimTargets(layout)));
            List<Action> actions = new ArrayList<>();
            for (ManifestPaths.File f : r.files()) {
                Object checked = check(f, force);
                if (checked instanceof Refusal refusal) return refusal.outcome();
                actions.add((Action) checked);
            }

            List<String> done = new ArrayList<>();
            int restored = 0;
            for (Action a : actions) {
                try {
                    switch (a.step) {
                        case RENAME_BACKUP -> {
                            // rename(2): the backup becomes the file again, atomically.
                            Files.move(a.file.backup(), a.file.path(), StandardCopyOption.ATOMIC_MOVE);
                            AtomicFiles.fsyncDirectory(a.file.path().getParent());
                        }
                        case DROP_BACKUP -> {
                            // The file already holds the original (a run stopped before or after its swap).
                            Files.delete(a.file.backup());
                            AtomicFiles.fsyncDirectory(a.file.path().getParent());
                        }
                        case DONE -> { }
                    }
                } catch (IOException e) {
                    throw new PatchException(PatchException.Kind.FAILED, "restore stopped at " + a.file.path() + ": "
                            + reason(e) + "; " + restored + " of " + actions.size() + " files restored, " + layout.manifest()
                            + " kept: run 'ollama-patch restore " + layout.target() + "' again to finish", e);
                }
                restored++;
                done.add("restored " + a.file.path());
            }
            for (ManifestPaths.Shim s : r.shims()) {
                Path shim = s.path();
                if (s.entry().preexisting()) continue;
                if (s.external()) {
                    if (Files.exists(shim, LinkOption.NOFOLLOW_LINKS)) {
                        done.add("left " + shim + ": outside " + layout.base() + "; remove it yourself once nothing loads it");
                    }
                    continue;
                }
                Map<Path, Manifest.ShimEntry> others = ShimRefs.others(shim, layout.manifest());
                if (!others.isEmpty()) {
                    done.add("kept " + shim + ": " + others.keySet().iterator().next() + " still uses it");
                } else if (Files.isRegularFile(shim, LinkOption.NOFOLLOW_LINKS) && Sha256.of(shim).hex().equals(s.entry().sha256())) {
                    try {
                        Files.delete(shim);
                    } catch (IOException e) {
                        throw new PatchException(PatchException.Kind.FAILED, "restore stopped at " + shim + ": " + reason(e)
                                + "; every original is back, " + layout.manifest() + " kept: run 'ollama-patch restore "
                                + layout.target() + "' again to finish", e);
                    }
                    done.add("removed shim " + shim);
                } else if (Files.exists(shim, LinkOption.NOFOLLOW_LINKS)) {
                    done.add("kept " + shim + ": it is no longer the shim this tool installed");
                }
            }
            // Directories apply made for shims, now empty: gone too (never one that was there before).
            for (ManifestPaths.Shim s : r.shims()) {
                if (!Files.exists(s.path(), LinkOption.NOFOLLOW_LINKS)) ShimDirectories.removeEmpty(s.directories());
            }
            try {
                Files.delete(layout.manifest());
            } catch (IOException e) {
                throw new PatchException(PatchException.Kind.FAILED, "restore stopped at " + layout.manifest() + ": "
                        + reason(e) + "; every original is back: run 'ollama-patch restore " + layout.target()
                        + "' again to finish", e);
            }
            AtomicFiles.fsyncDirectory(layout.manifest().getParent());
            return ApplyOutcome.done(done, List.of());
        }
    }

    /**
     * What restore will do for one file, decided from what is on disk: an {@link Action}, or a
     * {@link Refusal} when it cannot be done safely.
     */
    private static Object check(ManifestPaths.File f, boolean force) throws IOException {
        Path file = f.path();
        Path backup = f.backup();
        String original = f.entry().originalSha256();
        if (Files.isSymbolicLink(file) || (Files.exists(file, LinkOption.NOFOLLOW_LINKS)
                && !Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS))) {
            return refused(file + " is not a regular file");
        }
        String now = Files.exists(file, LinkOption.NOFOLLOW_LINKS) ? Sha256.of(file).hex() : null;
        boolean hasBackup = Files.exists(backup, LinkOption.NOFOLLOW_LINKS);
        if (!hasBackup) {
            if (original.equals(now)) return new Action(f, Step.DONE); // restored by an earlier run
            return refused(backup + " is missing and " + file + " is not the original (SHA-256 " + original
                    + "); the original cannot be put back");
        }
        if (Files.isSymbolicLink(backup) || !Files.isRegularFile(backup, LinkOption.NOFOLLOW_LINKS)) {
            return refused(backup + " is not a regular file");
        }
        String have = Sha256.of(backup).hex();
        if (!have.equals(original)) {
            return refused(backup + ": SHA-256 is " + have + ", the manifest records " + original);
        }
        if (original.equals(now)) return new Action(f, Step.DROP_BACKUP);
        if (now != null && !now.equals(f.entry().patchedSha256()) && !force) {
            return refused(file + " changed since it was patched (SHA-256 " + now
                    + "); restoring would replace that version; use --force to restore anyway");
        }
        return new Action(f, Step.RENAME_BACKUP);
    }

    private static List<Path> shimTargets(InstallLayout layout) {
        List<Path> out = new ArrayList<>();
        for (Path f : layout.files()) out.add(ShimInstall.installTarget(f, "$ORIGIN/" + Targets.SHIM_FILE));
        return out;
    }

    private static String reason(IOException e) {
        if (e instanceof java.nio.file.FileSystemException f && f.getReason() != null) return f.getReason();
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }

    private static Refusal refused(String why) {
        return Refusal.refused(why + "; nothing restored");
    }
}
