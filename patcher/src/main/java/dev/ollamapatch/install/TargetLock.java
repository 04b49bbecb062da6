package dev.ollamapatch.install;

import dev.ollamapatch.report.PatchException;
import dev.ollamapatch.report.Refusal;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.DirectoryStream;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * One apply or restore at a time per target. An OS file lock, so a process killed while holding it
 * (even by SIGKILL) releases it; the lock file itself is removed when the run ends, so nothing is
 * left after a normal run (a killed run's lock file is taken over, and removed, by the next run).
 *
 * <p>Removing a lock file races with a process that opened it just before: that process would then
 * lock an inode no longer at the path while a third one creates a new file and locks that. So a
 * lock counts only when the inode locked is the one at the path, compared by {@code stat} through
 * {@code /proc/self/fd} (opening the lock file again is not an option: closing any descriptor of a
 * file drops the process's POSIX locks on it). Without {@code /proc} the lock file is left in place.
 */
public final class TargetLock implements AutoCloseable {
    private final Path path;
    private final FileChannel channel;
    private final FileLock lock;

    private final boolean remove;

    private TargetLock(Path path, FileChannel channel, FileLock lock, boolean remove) {
        this.path = path;
        this.remove = remove;
        this.channel = channel;
        this.lock = lock;
    }

    /** Either the lock or why it was not taken (never both). */
    public record Attempt(TargetLock lock, Refusal refusal) {}

    /**
     * Takes the lock, or says why not: another run holds it (busy, exit 1), or the lock path is a
     * symbolic link (refused, exit 5). Failing to take a free lock 20 times is a fault (thrown).
     */
    public static Attempt tryAcquire(Path lockFile) throws IOException {
        Path abs = lockFile.toAbsolutePath();
        for (int attempt = 0; attempt < 20; attempt++) {
            if (Files.isSymbolicLink(abs)) {
                return new Attempt(null, Refusal.refused(abs
                        + " is a symbolic link; refusing to use it as a lock; nothing changed"));
            }
            FileChannel ch = FileChannel.open(abs, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    LinkOption.NOFOLLOW_LINKS);
            FileLock l;
            try {
                l = ch.tryLock();
            } catch (OverlappingFileLockException e) {
                l = null;
            }
            if (l == null) {
                ch.close();
                return new Attempt(null, Refusal.busy("another ollama-patch is working on this target (lock "
                        + abs + " is held); nothing changed"));
            }
            Boolean current = lockedInodeIsAtPath(abs);
            if (current == null) return new Attempt(new TargetLock(abs, ch, l, false), null);
            if (current) return new Attempt(new TargetLock(abs, ch, l, true), null);
            // The run that held it removed it (and another may have made a new one): lock what is there now.
            l.release();
            ch.close();
        }
        throw new PatchException(PatchException.Kind.FAILED, "could not take the lock " + abs + "; nothing changed");
    }

    /** Whether this process's open descriptor of {@code lock} is the inode now at that path; null: cannot tell. */
    private static Boolean lockedInodeIsAtPath(Path lock) {
        Object atPath;
        try {
            atPath = Files.readAttributes(lock, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
        } catch (IOException e) {
            return false;
        }
        // The kernel names an open file by its real path: a directory reached through a symbolic
        // link (a short /tmp link to a long test directory) is named by where it really is.
        Path real = lock;
        try {
            if (lock.getParent() != null) real = lock.getParent().toRealPath().resolve(lock.getFileName());
        } catch (IOException e) {
            // compared by the given path only
        }
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
            for (Path fd : fds) {
                try {
                    Path target = Files.readSymbolicLink(fd);
                    if (!target.equals(lock) && !target.equals(real)) continue;
                    // stat(2) through the magic link: the open inode, without opening it again.
                    Object locked = Files.readAttributes(fd, BasicFileAttributes.class).fileKey();
                    if (locked != null && locked.equals(atPath)) return true;
                } catch (IOException e) {
                    // a descriptor closed meanwhile, or not a link
                }
            }
            return false;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** Removes the lock file while still holding it, then releases it. */
    @Override
    public void close() throws IOException {
        try {
            // A lock file that cannot be removed is harmless: the next run takes it over and removes it.
            // Only an empty one is the tool's (it never writes to a lock file): a file of the user's stays.
            if (remove && Files.size(path) == 0) Files.deleteIfExists(path);
        } catch (IOException e) {
            // see above
        } finally {
            try {
                lock.release();
            } finally {
                channel.close();
            }
        }
    }
}
