package dev.ollamapatch.install;

import dev.ollamapatch.io.AtomicFiles;
import dev.ollamapatch.io.Digests;
import dev.ollamapatch.report.PatchException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code restore TARGET}: puts each original back, only when its backup matches the manifest and
 * the file is still the one this tool wrote; then removes the shims it installed and the manifest.
 * Every check is made before anything moves.
 */
public final class Restore {
    private Restore() {}

    public static List<String> run(InstallLayout layout, boolean force) throws IOException {
        try (TargetLock lock = TargetLock.acquire(layout.lock())) {
            if (!Manifest.exists(layout.manifest())) {
                throw new PatchException(PatchException.Kind.NOTHING_TO_PATCH, layout.target()
                        + ": no manifest at " + layout.manifest() + "; nothing to restore");
            }
            Manifest m = Manifest.read(layout.manifest());
            List<String> done = new ArrayList<>();
            for (Manifest.FileEntry f : m.files()) {
                Path backup = Path.of(f.backup());
                if (Files.isSymbolicLink(backup) || !Files.isRegularFile(backup, LinkOption.NOFOLLOW_LINKS)) {
                    throw refused(backup + " is missing or not a regular file");
                }
                String have = Digests.sha256(backup);
                if (!have.equals(f.originalSha256())) {
                    throw refused(backup + ": SHA-256 is " + have + ", the manifest records " + f.originalSha256());
                }
                Path file = Path.of(f.path());
                if (Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
                    String now = Digests.sha256(file);
                    if (!now.equals(f.patchedSha256()) && !now.equals(f.originalSha256()) && !force) {
                        throw refused(file + " changed since it was patched (SHA-256 " + now
                                + "); restoring would replace that version; use --force to restore anyway");
                    }
                }
            }
            for (Manifest.FileEntry f : m.files()) {
                Path file = Path.of(f.path());
                Path backup = Path.of(f.backup());
                AtomicFiles.commit(backup, file); // rename: the backup becomes the file again
                done.add("restored " + file);
            }
            if (m.shims() != null) {
                for (Manifest.ShimEntry s : m.shims()) {
                    if (s.preexisting()) continue;
                    Path shim = Path.of(s.path());
                    if (Files.isRegularFile(shim, LinkOption.NOFOLLOW_LINKS) && Digests.sha256(shim).equals(s.sha256())) {
                        Files.delete(shim);
                        done.add("removed shim " + shim);
                    } else if (Files.exists(shim, LinkOption.NOFOLLOW_LINKS)) {
                        done.add("kept " + shim + ": it is no longer the shim this tool installed");
                    }
                }
            }
            Files.delete(layout.manifest());
            AtomicFiles.fsyncDirectory(layout.manifest().getParent());
            return done;
        }
    }

    private static PatchException refused(String why) {
        return new PatchException(PatchException.Kind.REFUSED, why + "; nothing restored");
    }
}
