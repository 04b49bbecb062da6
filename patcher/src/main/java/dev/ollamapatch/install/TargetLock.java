package dev.ollamapatch.install;

import dev.ollamapatch.report.PatchException;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * One apply or restore at a time per target. An OS file lock, so a process killed while holding it
 * (even by SIGKILL) releases it: a crash never leaves a stale lock behind.
 */
public final class TargetLock implements AutoCloseable {
    private final FileChannel channel;
    private final FileLock lock;

    private TargetLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    public static TargetLock acquire(Path lockFile) throws IOException {
        if (Files.isSymbolicLink(lockFile)) {
            throw new PatchException(PatchException.Kind.REFUSED, lockFile + " is a symbolic link; refusing to use it as a lock");
        }
        FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                LinkOption.NOFOLLOW_LINKS);
        FileLock l;
        try {
            l = ch.tryLock();
        } catch (OverlappingFileLockException e) {
            l = null;
        }
        if (l == null) {
            ch.close();
            throw new PatchException(PatchException.Kind.FAILED, "another ollama-patch is working on this target (lock "
                    + lockFile + " is held); nothing changed");
        }
        return new TargetLock(ch, l);
    }

    @Override
    public void close() throws IOException {
        try {
            lock.release();
        } finally {
            channel.close();
        }
    }
}
