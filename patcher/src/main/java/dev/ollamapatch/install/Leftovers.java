package dev.ollamapatch.install;

import dev.ollamapatch.io.AtomicFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * What a killed apply or restore can leave behind, by exact name: the temporary file of each
 * patched file, backup, shim and manifest ({@link AtomicFiles#exactTemp}). Removed first thing,
 * under the target's lock; never found by a pattern, so no file of the user's is ever taken for one.
 * Each is safe to delete: the file it was meant to become is renamed into place only when complete.
 * Older versions' leftovers (random and process-id names) are matched and proven by {@link OldLeftovers}.
 */
final class Leftovers {
    private final List<Path> exact;
    private final List<OldLeftovers.Candidate> old;

    private Leftovers(List<Path> exact, List<OldLeftovers.Candidate> old) {
        this.exact = exact;
        this.old = old;
    }

    static Leftovers of(InstallLayout layout, ManifestPaths.Resolved recorded, Collection<Path> shims) {
        Set<Path> out = new LinkedHashSet<>();
        Set<Path> files = new LinkedHashSet<>(layout.files());
        Set<Path> shimFiles = new LinkedHashSet<>(shims);
        out.add(AtomicFiles.exactTemp(layout.manifest()));
        for (Path f : layout.files()) {
            out.add(AtomicFiles.exactTemp(f));
            out.add(AtomicFiles.exactTemp(InstallLayout.backupOf(f)));
            out.add(InPlaceTransaction.previousOf(f));
        }
        if (recorded != null) {
            for (ManifestPaths.File f : recorded.files()) {
                out.add(AtomicFiles.exactTemp(f.path()));
                out.add(AtomicFiles.exactTemp(f.backup()));
                out.add(InPlaceTransaction.previousOf(f.path()));
                files.add(f.path());
            }
            for (ManifestPaths.Shim s : recorded.shims()) {
                if (s.external()) continue;
                out.add(AtomicFiles.exactTemp(s.path()));
                shimFiles.add(s.path());
            }
        }
        for (Path s : shims) out.add(AtomicFiles.exactTemp(s));
        return new Leftovers(List.copyOf(out), OldLeftovers.inPlace(files, List.of(layout.manifest()), shimFiles));
    }

    /** The exact names, for tests. */
    List<Path> exact() {
        return exact;
    }

    static boolean anyExist(Leftovers leftovers) {
        return !leftovers.old.isEmpty() || leftovers.exact.stream().anyMatch(p -> Files.exists(p, LinkOption.NOFOLLOW_LINKS));
    }

    /**
     * Removes those present (a regular file, or a link itself, never what it points to), then the older
     * versions' leftovers that are proven the tool's own; returns what was removed.
     */
    static List<Path> remove(Leftovers leftovers) throws IOException {
        List<Path> removed = new ArrayList<>();
        for (Path p : leftovers.exact) {
            if ((Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) || Files.isSymbolicLink(p)) && Files.deleteIfExists(p)) {
                removed.add(p);
            }
        }
        removed.addAll(OldLeftovers.removeProven(leftovers.old));
        return removed;
    }
}
