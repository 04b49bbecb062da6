package dev.ollamapatch.elf;

import java.nio.ByteOrder;

/**
 * Bounds-checked, byte-order and class aware reads of a {@link ByteSource}. Every read and every
 * range is checked against the file size first, so nothing but {@link ElfFormatException} escapes.
 */
final class ElfReader {
    private final ByteSource src;
    private final long size;
    private final boolean little;
    private final boolean is64;

    ElfReader(ByteSource src, ByteOrder order, boolean is64) {
        this.src = src;
        this.size = src.size();
        this.little = order == ByteOrder.LITTLE_ENDIAN;
        this.is64 = is64;
    }

    long size() {
        return size;
    }

    boolean is64() {
        return is64;
    }

    int wordSize() {
        return is64 ? 8 : 4;
    }

    static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }

    /**
     * Checks that {@code [start, start+length)} lies within the file. {@code field} names what
     * supplied {@code start} (the value that is reported), {@code fieldOffset} where that field is.
     */
    void checkRange(String field, long fieldOffset, long start, long length) {
        if (length < 0) {
            throw new ElfFormatException(field + " " + hex(start) + " at offset " + hex(fieldOffset)
                    + " has a size " + hex(length) + " that is too large for the file (size " + hex(size) + ")");
        }
        if (start < 0 || start > size) {
            throw new ElfFormatException(field + " " + hex(start) + " at offset " + hex(fieldOffset)
                    + " is past the end of the file (size " + hex(size) + ")");
        }
        if (length > size - start) {
            throw new ElfFormatException(field + " " + hex(start) + " at offset " + hex(fieldOffset)
                    + " with size " + hex(length) + " runs past the end of the file (size " + hex(size) + ")");
        }
    }

    private void checkRead(long off, int n) {
        if (off < 0 || off > size - n) {
            throw new ElfFormatException("read of " + n + " bytes at offset " + hex(off)
                    + " is past the end of the file (size " + hex(size) + ")");
        }
    }

    int u8(long off) {
        checkRead(off, 1);
        return src.get(off) & 0xff;
    }

    int u16(long off) {
        checkRead(off, 2);
        int a = src.get(off) & 0xff, b = src.get(off + 1) & 0xff;
        return little ? a | b << 8 : a << 8 | b;
    }

    long u32(long off) {
        checkRead(off, 4);
        long v = 0;
        for (int i = 0; i < 4; i++) {
            long b = src.get(off + i) & 0xffL;
            v |= little ? b << (8 * i) : b << (8 * (3 - i));
        }
        return v;
    }

    long u64(long off) {
        checkRead(off, 8);
        long v = 0;
        for (int i = 0; i < 8; i++) {
            long b = src.get(off + i) & 0xffL;
            v |= little ? b << (8 * i) : b << (8 * (7 - i));
        }
        return v;
    }

    /** An address-sized value: 8 bytes in ELF64, 4 in ELF32. */
    long word(long off) {
        return is64 ? u64(off) : u32(off);
    }

    /** The {@code n} bytes at {@code off} into the start of {@code dst}, read in bulk. */
    void readInto(long off, byte[] dst, int n) {
        checkRead(off, n);
        src.readBulk(off, dst, 0, n);
    }

    /** An address-sized value at {@code i} of an array read from this file, in its byte order. */
    long word(byte[] b, int i) {
        int n = is64 ? 8 : 4;
        long v = 0;
        if (little) {
            for (int k = n - 1; k >= 0; k--) v = v << 8 | (b[i + k] & 0xffL);
        } else {
            for (int k = 0; k < n; k++) v = v << 8 | (b[i + k] & 0xffL);
        }
        return v;
    }

    byte[] bytes(long off, int n) {
        checkRead(off, n);
        byte[] b = new byte[n];
        src.read(off, b, 0, n);
        return b;
    }
}
