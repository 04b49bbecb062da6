package dev.ollamapatch.install;

import dev.ollamapatch.io.AtomicFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * What a killed apply or restore can leave behind, by exact name: the temporary file of each
 * patched file, backup, shim and manifest ({@link AtomicFiles#exactTemp}). Removed first thing,
 * under the target's lock; never found by a pattern, so no file of the user's is ever taken for one.
 * Each is safe to delete: the file it was meant to become is renamed into place only when complete.
 */
final class Leftovers {
    private Leftovers() {}

    static List<Path> of(InstallLayout layout, ManifestPaths.Resolved recorded, Collection<Path> shims) {
        Set<Path> out = new LinkedHashSet<>();
        out.add(AtomicFiles.exactTemp(layout.manifest()));
        for (Path f : layout.files()) {
            out.add(AtomicFiles.exactTemp(f));
            out.add(AtomicFiles.exactTemp(InstallLayout.backupOf(f)));
        }
        if (recorded != null) {
            for (ManifestPaths.File f : recorded.files()) {
                out.add(AtomicFiles.exactTemp(f.path()));
                out.add(AtomicFiles.exactTemp(f.backup()));
            }
            for (ManifestPaths.Shim s : recorded.shims()) if (!s.external()) out.add(AtomicFiles.exactTemp(s.path()));
        }
        for (Path s : shims) out.add(AtomicFiles.exactTemp(s));
        return List.copyOf(out);
    }

    static boolean anyExist(List<Path> leftovers) {
        return leftovers.stream().anyMatch(p -> Files.exists(p, LinkOption.NOFOLLOW_LINKS));
    }

    /** Removes those present (a regular file, or a link itself, never what it points to). */
    static void remove(List<Path> leftovers) throws IOException {
        for (Path p : leftovers) {
            if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) || Files.isSymbolicLink(p)) Files.deleteIfExists(p);
        }
    }
}
