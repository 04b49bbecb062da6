package dev.ollamapatch.install;

import dev.ollamapatch.io.AtomicFiles;
import dev.ollamapatch.report.PatchException;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * What a manifest may name, decided here and not by the manifest (a user who owns a patched tree
 * can rewrite its manifest; root may run restore later). Every path is resolved inside the
 * manifest's own directory (the base): relative, no {@code ..}, no symbolic link on the way; a
 * patched file is an install file (never a backup, shim, manifest, lock or temporary file), its
 * backup is exactly {@code <file>.orig}, a single-file target's manifest names that file only, and
 * a shim is a {@code *.so} that is none of those (one outside the target, from an absolute
 * {@code --shim-path}, is only ever read). Anything else is refused with exit 5 before a
 * byte changes.
 */
public final class ManifestPaths {
    private ManifestPaths() {}

    public record File(Manifest.FileEntry entry, String relative, Path path, Path backup) {}

    /** {@code external}: an absolute {@code --shim-path} outside the target (verified, never removed). */
    public record Shim(Manifest.ShimEntry entry, Path path, boolean external, List<Path> directories) {
        public Shim(Manifest.ShimEntry entry, Path path, boolean external) {
            this(entry, path, external, List.of());
        }
    }

    public record Resolved(Manifest manifest, List<File> files, List<Shim> shims) {
        public File file(Path path) {
            for (File f : files) if (f.path().equals(path)) return f;
            return null;
        }

        public Shim shim(Path path) {
            for (Shim s : shims) if (s.path().equals(path)) return s;
            return null;
        }
    }

    public static Resolved resolve(InstallLayout layout, Manifest m) {
        Path base = layout.base();
        Path where = layout.manifest();
        List<File> files = new ArrayList<>();
        Set<Path> taken = new HashSet<>();
        for (Manifest.FileEntry f : m.files()) {
            String rel = relative(base, f.path(), m, where);
            Path path = confined(base, rel, where);
            String name = path.getFileName().toString();
            if (name.endsWith(InstallLayout.BACKUP_SUFFIX) || name.endsWith(AtomicFiles.TEMP_SUFFIX)
                    || name.endsWith(InstallLayout.MANIFEST_SUFFIX) || name.endsWith(InstallLayout.LOCK_SUFFIX)
                    || name.equals(Targets.SHIM_FILE)) {
                throw refused(where, f.path(), "names a file this tool keeps for itself, not an install file");
            }
            if (!layout.directory() && !path.equals(layout.target())) {
                throw refused(where, f.path(), "is not " + layout.target().getFileName() + ", the file this manifest belongs to");
            }
            Path backup = InstallLayout.backupOf(path);
            if (f.backup() != null) {
                String b = relative(base, f.backup(), m, where);
                if (!b.equals(rel + InstallLayout.BACKUP_SUFFIX)) {
                    throw refused(where, f.backup(), "is not the backup " + rel + InstallLayout.BACKUP_SUFFIX
                            + " this tool keeps for " + rel);
                }
            }
            if (!taken.add(path)) throw refused(where, f.path(), "is named twice");
            files.add(new File(f, rel, path, backup));
        }
        List<Shim> shims = new ArrayList<>();
        // A --lib-file replacement is installed and recorded like the shim, under its --lib path's name.
        Set<String> libraryNames = new HashSet<>();
        if (m.libraries() != null) {
            for (Manifest.LibraryEntry l : m.libraries()) {
                if (l != null && l.path() != null) libraryNames.add(l.path().substring(l.path().lastIndexOf('/') + 1));
            }
        }
        for (Manifest.ShimEntry s : m.shimsOrEmpty()) {
            Path p = Path.of(s.path());
            if (p.isAbsolute() && !(m.format() == null && p.normalize().startsWith(base))) {
                // An absolute --shim-path (this one or an earlier one): verified, never removed by restore.
                if (!p.equals(p.normalize()) || !libraryName(p.getFileName().toString(), libraryNames)) {
                    throw refused(where, s.path(), "lies outside " + base + " and is not a shim path (*.so)");
                }
                shims.add(new Shim(s, p, true));
                continue;
            }
            String rel = relative(base, s.path(), m, where);
            Path path = confined(base, rel, where);
            String name = path.getFileName().toString();
            if (!libraryName(name, libraryNames) || taken.contains(path) || files.stream().anyMatch(f -> f.backup().equals(path))) {
                throw refused(where, s.path(), "is not a shim this tool installs (a *.so beside the patched files)");
            }
            List<Path> dirs = new ArrayList<>();
            for (String d : s.directoriesOrEmpty()) {
                Path dir = d == null ? null : confined(base, d, where);
                // Only a directory on the way from the target to this shim: nothing else is ever removed.
                if (dir == null || !path.startsWith(dir) || path.equals(dir)) {
                    throw refused(where, String.valueOf(d), "is not a directory on the way to the shim " + s.path());
                }
                dirs.add(dir);
            }
            shims.add(new Shim(s, path, false, dirs));
        }
        return new Resolved(m, files, shims);
    }

    /** A shared library's name ({@code *.so}, {@code *.so.N}), or the name of a recorded {@code --lib} path. */
    private static boolean libraryName(String name, Set<String> libraryNames) {
        return name.endsWith(".so") || name.contains(".so.") || libraryNames.contains(name);
    }

    /** The path relative to {@code base}; a format-1 manifest's absolute path is accepted only inside base. */
    private static String relative(Path base, String recorded, Manifest m, Path where) {
        Path p = Path.of(recorded);
        if (p.isAbsolute()) {
            if (m.format() == null && p.normalize().equals(p) && p.startsWith(base) && !p.equals(base)) {
                return base.relativize(p).toString();
            }
            throw refused(where, recorded, "is an absolute path; a manifest names files inside " + base + " only");
        }
        return recorded;
    }

    /** {@code base/rel} where rel has no {@code ..} or {@code .} and no directory on the way is a symbolic link. */
    private static Path confined(Path base, String rel, Path where) {
        Path r = Path.of(rel);
        if (r.isAbsolute() || rel.contains("\0")) throw refused(where, rel, "is not a relative path");
        for (Path part : r) {
            String n = part.toString();
            if (n.isEmpty() || n.equals("..") || n.equals(".")) throw refused(where, rel, "leaves or re-enters the target");
        }
        Path cur = base;
        for (int i = 0; i < r.getNameCount() - 1; i++) {
            cur = cur.resolve(r.getName(i));
            if (Files.isSymbolicLink(cur)) {
                throw refused(where, rel, "goes through the symbolic link " + cur + "; refusing to follow it");
            }
            if (!Files.exists(cur, LinkOption.NOFOLLOW_LINKS)) break;
        }
        Path path = base.resolve(r);
        if (!path.normalize().startsWith(base)) throw refused(where, rel, "lies outside " + base);
        return path;
    }

    private static PatchException refused(Path manifest, String path, String why) {
        return new PatchException(PatchException.Kind.REFUSED, manifest + ": the path \"" + path + "\" " + why
                + "; refusing to use this manifest; nothing changed");
    }
}
