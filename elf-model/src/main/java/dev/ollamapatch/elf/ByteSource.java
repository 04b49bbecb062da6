package dev.ollamapatch.elf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * Random, read-only access to the bytes of a file without loading it into the heap.
 * Implementations are safe for concurrent readers: they only use absolute buffer operations.
 * Offsets are not validated beyond what the JDK does: callers (ElfFile) check bounds first.
 */
public interface ByteSource extends AutoCloseable {

    /** Maps {@code file} read-only; files larger than 2 GiB are mapped in chunks. */
    static ByteSource map(Path file) throws IOException {
        return MappedByteSource.open(file);
    }

    /** Wraps {@code bytes} without copying; the caller must not modify them afterwards. */
    static ByteSource of(byte[] bytes) {
        return new ArrayByteSource(bytes);
    }

    long size();

    byte get(long offset);

    void read(long offset, byte[] dst, int dstOff, int len);

    /**
     * Like {@link #read}, for bulk passes (hashing, copying, comparing, scanning large regions): a
     * file-backed source reads through the file (positional reads) instead of its mapping, so that a
     * pass over the whole file does not fault the file's pages into this process. A mapping's pages
     * count in the resident set until they are unmapped, and the JDK cannot unmap before close, so
     * streaming through the mapping would make the peak resident set grow with the file.
     */
    default void readBulk(long offset, byte[] dst, int dstOff, int len) {
        read(offset, dst, dstOff, len);
    }

    /** A read-only view of {@code [offset, offset+length)}, position 0, big-endian order. */
    ByteBuffer slice(long offset, int length);

    @Override
    void close();
}
