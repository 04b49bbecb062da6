package dev.ollamapatch.elf;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Objects;

/**
 * A read-only memory mapping of a file. A single MappedByteBuffer is limited to 2 GiB, so the
 * file is mapped as a sequence of 1 GiB chunks; reads that straddle a chunk boundary are split.
 */
final class MappedByteSource implements ByteSource {
    static final int CHUNK_SHIFT = 30;
    private static final long CHUNK_SIZE = 1L << CHUNK_SHIFT;
    private static final long CHUNK_MASK = CHUNK_SIZE - 1;

    private final FileChannel channel;
    private final MappedByteBuffer[] chunks;
    private final long size;

    private MappedByteSource(FileChannel channel, MappedByteBuffer[] chunks, long size) {
        this.channel = channel;
        this.chunks = chunks;
        this.size = size;
    }

    static MappedByteSource open(Path file) throws IOException {
        FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
        try {
            long size = channel.size();
            int n = (int) ((size + CHUNK_SIZE - 1) >>> CHUNK_SHIFT);
            MappedByteBuffer[] chunks = new MappedByteBuffer[n];
            for (int i = 0; i < n; i++) {
                long start = (long) i << CHUNK_SHIFT;
                chunks[i] = channel.map(FileChannel.MapMode.READ_ONLY, start, Math.min(CHUNK_SIZE, size - start));
            }
            return new MappedByteSource(channel, chunks, size);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public byte get(long offset) {
        Objects.checkIndex(offset, size);
        return chunks[(int) (offset >>> CHUNK_SHIFT)].get((int) (offset & CHUNK_MASK));
    }

    @Override
    public void read(long offset, byte[] dst, int dstOff, int len) {
        Objects.checkFromIndexSize(offset, len, size);
        Objects.checkFromIndexSize(dstOff, len, dst.length);
        while (len > 0) {
            int within = (int) (offset & CHUNK_MASK);
            int n = (int) Math.min(len, CHUNK_SIZE - within);
            chunks[(int) (offset >>> CHUNK_SHIFT)].get(within, dst, dstOff, n);
            offset += n;
            dstOff += n;
            len -= n;
        }
    }

    @Override
    public void readBulk(long offset, byte[] dst, int dstOff, int len) {
        Objects.checkFromIndexSize(offset, len, size);
        Objects.checkFromIndexSize(dstOff, len, dst.length);
        ByteBuffer into = ByteBuffer.wrap(dst, dstOff, len);
        try {
            while (into.hasRemaining()) {
                int n = channel.read(into, offset + (into.position() - dstOff));
                if (n < 0) {
                    throw new IOException("the file ended at " + (offset + into.position() - dstOff)
                            + " while reading it (it was " + size + " bytes when opened)");
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public ByteBuffer slice(long offset, int length) {
        Objects.checkFromIndexSize(offset, length, size);
        int first = (int) (offset >>> CHUNK_SHIFT);
        int within = (int) (offset & CHUNK_MASK);
        if (within + (long) length <= CHUNK_SIZE) {
            return chunks[first].slice(within, length).asReadOnlyBuffer();
        }
        // The range straddles chunks: a fresh mapping is cheaper than copying up to 2 GiB.
        try {
            return channel.map(FileChannel.MapMode.READ_ONLY, offset, length).asReadOnlyBuffer();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
