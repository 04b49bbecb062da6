package dev.ollamapatch.elf;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Which regular file a path named, and its last write, as {@code stat(2)} gives them: device and inode,
 * size, and the modification and status-change times in nanoseconds. Writing a file's bytes or metadata
 * sets its change time to the current time and no call sets it back, so two equal stamps of one path
 * mean it was not written between them (within the file system's clock tick). The one reading of a
 * file's status: what an open file was ({@link ElfFile#openedFileStatus}), what a read-ahead pass saw,
 * and the records an in-place apply keeps in its manifest.
 */
public record FileStamp(long dev, long ino, long size, long mtimeNs, long ctimeNs) {
    private static final int S_IFMT = 0170000;
    private static final int S_IFREG = 0100000; // inode(7)

    /** The stamp of the regular file at {@code file}, or null when it is none or its status cannot be read. */
    public static FileStamp of(Path file, LinkOption... options) {
        try {
            Map<String, Object> a = Files.readAttributes(file, "unix:dev,ino,size,lastModifiedTime,ctime,mode", options);
            if (((Integer) a.get("mode") & S_IFMT) != S_IFREG) return null;
            return new FileStamp((Long) a.get("dev"), (Long) a.get("ino"), (Long) a.get("size"),
                    nanos(a.get("lastModifiedTime")), nanos(a.get("ctime")));
        } catch (IOException | RuntimeException e) {
            return null; // no unix view, or the file went away: nothing can be proved by its status
        }
    }

    private static long nanos(Object time) {
        return ((FileTime) time).to(TimeUnit.NANOSECONDS);
    }

    // Field by field: a record's generated equals and hashCode are bootstrapped through method handles
    // on first use, which costs an already patched apply several milliseconds of start-up.
    @Override
    public boolean equals(Object o) {
        return o instanceof FileStamp s && dev == s.dev && ino == s.ino && size == s.size
                && mtimeNs == s.mtimeNs && ctimeNs == s.ctimeNs;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(dev) * 31 * 31 + Long.hashCode(ino) * 31 + Long.hashCode(ctimeNs);
    }
}
