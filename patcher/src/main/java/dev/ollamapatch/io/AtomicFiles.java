package dev.ollamapatch.io;

import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * Writes that leave either the old file or the complete new one: a temporary file created
 * exclusively in the same directory, fsynced, renamed over the target, then the directory fsynced.
 */
public final class AtomicFiles {
    private AtomicFiles() {}

    /** A new, empty, exclusively created temporary file beside {@code target} (never follows a planted link). */
    public static Path createTemp(Path target) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        return Files.createTempFile(dir, "." + target.getFileName() + ".", ".ollama-patch.tmp");
    }

    /** The suffix every temporary file of this tool ends with (README, Robustness). */
    public static final String TEMP_SUFFIX = ".ollama-patch.tmp";

    /**
     * The one temporary name an in-place run uses for {@code target}: {@code .<name>.ollama-patch.tmp}
     * beside it. A fixed name, so a later run (under the same target lock) finds a killed run's
     * leftover by this exact name and never by a pattern.
     */
    public static Path exactTemp(Path target) {
        Path abs = target.toAbsolutePath();
        return abs.resolveSibling("." + abs.getFileName() + TEMP_SUFFIX);
    }

    /** Creates {@link #exactTemp} exclusively (never through a planted link); the caller holds the target's lock. */
    public static Path createExactTemp(Path target) throws IOException {
        Path temp = exactTemp(target);
        Files.newByteChannel(temp, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                java.nio.file.LinkOption.NOFOLLOW_LINKS)).close();
        return temp;
    }

    public static void fsync(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
    }

    public static void fsyncDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            // Some file systems refuse fsync on directories; the rename itself is still atomic.
        }
    }

    /** Renames {@code temp} over {@code target} atomically and makes the rename durable. */
    public static void commit(Path temp, Path target) throws IOException {
        try {
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.deleteIfExists(temp);
            throw new IOException("cannot rename atomically into " + target.getParent() + ": " + e.getMessage(), e);
        }
        fsyncDirectory(target.toAbsolutePath().getParent());
    }

    /** Installs the bytes of {@code in} at {@code target} with the given mode, atomically. */
    public static void install(InputStream in, Path target, String mode) throws IOException {
        install(in, target, mode, createTemp(target));
    }

    /** {@link #install} through the exact temporary name of an in-place run (see {@link #exactTemp}). */
    public static void installExact(InputStream in, Path target, String mode) throws IOException {
        install(in, target, mode, createExactTemp(target));
    }

    private static void install(InputStream in, Path target, String mode, Path temp) throws IOException {
        try {
            try (var os = Files.newOutputStream(temp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING,
                    java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                in.transferTo(os);
            } catch (java.nio.file.FileSystemException e) {
                throw e;
            } catch (IOException e) {
                throw new java.nio.file.FileSystemException(target.toString(), null,
                        (e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName()) + " (while writing it)");
            }
            Set<PosixFilePermission> perms = PosixFilePermissions.fromString(mode);
            Files.setPosixFilePermissions(temp, perms);
            fsync(temp);
            commit(temp, target);
        } finally {
            Files.deleteIfExists(temp);
        }
    }
}
