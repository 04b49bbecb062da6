package dev.ollamapatch.install;

import java.io.IOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;

/**
 * Directories made for a shim ({@code $ORIGIN/sub/nvml.so} needs {@code sub/}): recorded in the
 * manifest before they are made, removed by rollback and restore when empty, never one that existed
 * before the apply that recorded it.
 */
final class ShimDirectories {
    private ShimDirectories() {}

    /**
     * The directories between {@code base} and {@code shim} that do not exist yet, relative to base,
     * outermost first; none for a shim outside base (an absolute {@code --shim-path} elsewhere).
     */
    static List<String> missing(Path base, Path shim) {
        Path abs = shim.toAbsolutePath().normalize();
        Path parent = abs.getParent();
        if (parent == null || !parent.startsWith(base) || parent.equals(base)) return List.of();
        List<String> out = new ArrayList<>();
        for (Path d = parent; d != null && !d.equals(base); d = d.getParent()) {
            if (Files.exists(d, LinkOption.NOFOLLOW_LINKS)) break;
            out.add(0, base.relativize(d).toString());
        }
        return out;
    }

    /**
     * A shim inside {@code base} is reached through real directories only: a manifest never names a
     * path through a symbolic link ({@link ManifestPaths}), so a shim installed through one could be
     * neither verified nor removed. Refused before anything changes: the refusal, or null.
     */
    static dev.ollamapatch.report.Refusal linkOnTheWay(Path base, Path shim) {
        Path abs = shim.toAbsolutePath().normalize();
        if (!abs.startsWith(base) || abs.equals(base)) return null;
        Path cur = base;
        Path rel = base.relativize(abs);
        for (int i = 0; i < rel.getNameCount() - 1; i++) {
            cur = cur.resolve(rel.getName(i));
            if (Files.isSymbolicLink(cur)) {
                return dev.ollamapatch.report.Refusal.refused(
                        abs + ": the shim's directory goes through the symbolic link " + cur
                                + "; the manifest could not record it; give a --shim-path without it; nothing changed");
            }
            if (!Files.exists(cur, LinkOption.NOFOLLOW_LINKS)) return null;
        }
        return null;
    }

    /** The same, as absolute paths below {@code base}. */
    static List<Path> resolved(Path base, Collection<String> relative) {
        return relative.stream().map(base::resolve).toList();
    }

    /** Removes each directory that is empty, deepest first; one that holds anything, or is a link, stays. */
    static List<Path> removeEmpty(Collection<Path> directories) {
        List<Path> removed = new ArrayList<>();
        List<Path> deepestFirst = new ArrayList<>(directories);
        deepestFirst.sort(Comparator.comparingInt(Path::getNameCount).reversed());
        for (Path d : deepestFirst) {
            if (!Files.isDirectory(d, LinkOption.NOFOLLOW_LINKS)) continue;
            try {
                Files.delete(d); // rmdir(2): fails unless empty
                removed.add(d);
            } catch (DirectoryNotEmptyException | NoSuchFileException e) {
                // not empty: someone's files are in it; or gone already
            } catch (IOException e) {
                // cannot be removed (permissions): harmless, left as it is
            }
        }
        return removed;
    }
}
