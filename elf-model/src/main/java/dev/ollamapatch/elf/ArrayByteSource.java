package dev.ollamapatch.elf;

import java.nio.ByteBuffer;
import java.util.Objects;

/** A {@link ByteSource} over a heap array, for tests and small inputs. */
final class ArrayByteSource implements ByteSource {
    private final byte[] bytes;

    ArrayByteSource(byte[] bytes) {
        this.bytes = Objects.requireNonNull(bytes, "bytes");
    }

    @Override
    public long size() {
        return bytes.length;
    }

    @Override
    public byte get(long offset) {
        return bytes[Math.toIntExact(offset)];
    }

    @Override
    public void read(long offset, byte[] dst, int dstOff, int len) {
        Objects.checkFromIndexSize(offset, len, bytes.length);
        System.arraycopy(bytes, (int) offset, dst, dstOff, len);
    }

    @Override
    public ByteBuffer slice(long offset, int length) {
        Objects.checkFromIndexSize(offset, length, bytes.length);
        return ByteBuffer.wrap(bytes, (int) offset, length).slice().asReadOnlyBuffer();
    }

    @Override
    public void close() {
        // nothing to release
    }
}
