package dev.ollamapatch.install;

import dev.ollamapatch.site.LibraryTarget;
import dev.ollamapatch.report.Refusal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.UserPrincipal;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Where the tool may write when it runs as root (README "Robustness"). All checks are read-only and
 * run before anything is created; a violation is a {@link Refusal} (exit 5), returned.
 *
 * <ol>
 *   <li>As root, a directory that receives the shim, the patched file or their temporary files must
 *       not be writable by group or others (sticky or not), and must be owned by root or by the
 *       owner of the file being patched: anyone else could swap what root installs.</li>
 *   <li>The shim's directory, resolved through every symbolic link, must be the directory as
 *       written or lie inside the target's tree; a symlink chain that leads elsewhere is refused
 *       unless {@code --allow-outside}.</li>
 *   <li>Nothing is written through a symbolic link: a link at the backup ({@code <file>.orig}), the
 *       manifest, the lock or the shim path is refused. Temporary files are created exclusively
 *       (O_CREAT|O_EXCL, random names), so a planted link is never followed.</li>
 * </ol>
 */
public final class InstallSafety {
    private InstallSafety() {}

    /** Whether this process runs with uid 0 (effective), falling back to the user name. */
    public static boolean isRoot() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    String[] f = line.substring(4).trim().split("\\s+");
                    return f.length > 1 ? f[1].equals("0") : f[0].equals("0");
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or /proc is not mounted
        }
        return "root".equals(System.getProperty("user.name"));
    }

    /** Checks for {@code apply TARGET} in place, before the lock is taken: the first rule broken, if any. */
    public static Optional<Refusal> checkInPlace(InstallLayout layout, List<LibraryTarget> libraries, boolean allowOutside)
            throws IOException {
        Path tree = layout.directory() ? layout.target() : layout.target().getParent();
        Optional<Refusal> r = noLink(layout.manifest(), "manifest").or(() -> noLink(layout.lock(), "lock file"));
        if (r.isPresent()) return r;
        String nvmlPath = libraries.get(0).defaultPath();
        boolean root = isRoot();
        for (Path file : layout.files()) {
            r = noLink(InstallLayout.backupOf(file), "backup");
            if (r.isPresent()) return r;
            UserPrincipal owner = Files.readAttributes(file, PosixFileAttributes.class).owner();
            if (root && (r = checkDirectory(file.getParent(), owner, "the patched file")).isPresent()) return r;
            r = checkShimPath(ShimInstall.installTarget(file, nvmlPath), tree, owner, root, allowOutside);
            if (r.isPresent()) return r;
        }
        return Optional.empty();
    }

    /** Checks for {@code apply TARGET -o OUT}: OUT's directory and the shim's; the first rule broken, if any. */
    public static Optional<Refusal> checkOutput(Path source, Path destination, Path shim, boolean allowOutside)
            throws IOException {
        Path dest = destination.toAbsolutePath().normalize();
        Path tree = resolve(dest.getParent());
        boolean root = isRoot();
        UserPrincipal owner = Files.readAttributes(source, PosixFileAttributes.class).owner();
        Optional<Refusal> r;
        if (root && (r = checkDirectory(dest.getParent(), owner, "the patched copy")).isPresent()) return r;
        if (shim != null) return checkShimPath(shim, tree, owner, root, allowOutside);
        return Optional.empty();
    }

    private static Optional<Refusal> checkShimPath(Path shim, Path tree, UserPrincipal owner, boolean root,
                                                   boolean allowOutside) throws IOException {
        Path abs = shim.toAbsolutePath().normalize();
        Optional<Refusal> r = noLink(abs, "shim path");
        if (r.isPresent()) return r;
        Path parent = abs.getParent();
        Path real = resolve(parent);
        if (!real.equals(parent) && !real.startsWith(tree) && !allowOutside) {
            return Optional.of(Refusal.refused(String.format(
                    "%s: the shim's directory %s leads through a symbolic link to %s, outside %s; "
                            + "refusing to install there (use --allow-outside if that is intended); nothing changed",
                    abs, parent, real, tree)));
        }
        return root ? checkDirectory(parent, owner, "the shim") : Optional.empty();
    }

    /**
     * The directory {@code dir} (or, where it does not exist yet, its nearest existing ancestor, which
     * is where it would be created) must be writable by its owner alone, and owned by root or by
     * {@code owner}.
     */
    static Optional<Refusal> checkDirectory(Path dir, UserPrincipal owner, String what) throws IOException {
        Path d = dir.toAbsolutePath().normalize();
        while (d != null && !Files.exists(d)) d = d.getParent();
        if (d == null) return Optional.empty();
        PosixFileAttributes a = Files.readAttributes(d, PosixFileAttributes.class);
        Set<PosixFilePermission> p = a.permissions();
        List<String> writable = new ArrayList<>();
        if (p.contains(PosixFilePermission.GROUP_WRITE)) writable.add("group");
        if (p.contains(PosixFilePermission.OTHERS_WRITE)) writable.add("others");
        if (!writable.isEmpty()) {
            return Optional.of(Refusal.refused(String.format(
                    "%s: directory for %s is writable by %s; as root, refusing to install into it "
                            + "(chmod go-w it, or choose another place); nothing changed",
                    d, what, String.join(" and ", writable))));
        }
        String dirOwner = a.owner().getName();
        if (!dirOwner.equals("root") && !a.owner().equals(owner)) {
            return Optional.of(Refusal.refused(String.format(
                    "%s: directory for %s is owned by %s, neither root nor the owner of the file (%s); "
                            + "as root, refusing to install into it; nothing changed",
                    d, what, dirOwner, owner.getName())));
        }
        return Optional.empty();
    }

    /** The real path of {@code p}: its longest existing prefix resolved through links, the rest appended. */
    static Path resolve(Path p) throws IOException {
        Path abs = p.toAbsolutePath().normalize();
        Path existing = abs;
        while (existing != null && !Files.exists(existing)) existing = existing.getParent();
        if (existing == null) return abs;
        return existing.toRealPath().resolve(existing.relativize(abs)).normalize();
    }

    private static Optional<Refusal> noLink(Path p, String what) {
        if (Files.isSymbolicLink(p)) {
            return Optional.of(Refusal.refused(p + ": the " + what
                    + " path is a symbolic link; refusing to write through it; nothing changed"));
        }
        return Optional.empty();
    }
}
