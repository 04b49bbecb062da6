package dev.ollamapatch.install;

import dev.ollamapatch.decide.ShimSource;
import dev.ollamapatch.io.AtomicFiles;
import dev.ollamapatch.report.PatchException;
import dev.ollamapatch.site.LibraryTarget;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Where the shim goes beside a patched file, and putting it there. */
public final class ShimInstall {
    private ShimInstall() {}

    /**
     * Where the shim goes for a patched file at {@code destination} whose sites name {@code path}:
     * beside it for {@code $ORIGIN/...}, or the absolute path itself.
     */
    public static Path installTarget(Path destination, String path) {
        if (path.startsWith(LibraryTarget.ORIGIN + "/")) {
            return destination.toAbsolutePath().getParent().resolve(path.substring(LibraryTarget.ORIGIN.length() + 1)).normalize();
        }
        if (path.startsWith("/")) return Path.of(path);
        throw new PatchException(PatchException.Kind.USAGE, "--shim-path " + path
                + ": must be absolute or start with $ORIGIN/ (a bare name would be searched for, not found)");
    }

    /** {@link #installAt} through the exact temporary name of an in-place run (the caller holds the target's lock). */
    public static void installAtExact(ShimSource shim, Path target) throws IOException {
        Files.createDirectories(target.toAbsolutePath().getParent());
        AtomicFiles.installExact(new ByteArrayInputStream(shim.bytes()), target, "rwxr-xr-x");
    }

    public static void installAt(ShimSource shim, Path target) throws IOException {
        Files.createDirectories(target.toAbsolutePath().getParent());
        AtomicFiles.install(new ByteArrayInputStream(shim.bytes()), target, "rwxr-xr-x");
    }
}
