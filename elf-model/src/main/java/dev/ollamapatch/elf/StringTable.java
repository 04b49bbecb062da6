package dev.ollamapatch.elf;

import java.nio.charset.StandardCharsets;

/**
 * A string table (.strtab, .dynstr, .shstrtab): NUL-terminated strings addressed by their offset
 * from the table start. Lookups never read outside {@code [fileOffset, fileOffset+size)}.
 */
public final class StringTable {
    private final ElfReader reader;
    private final long fileOffset;
    private final long size;
    private final String what;

    /** {@code what} names the table in error messages, e.g. ".dynstr". The range is already checked. */
    StringTable(ElfReader reader, long fileOffset, long size, String what) {
        this.reader = reader;
        this.fileOffset = fileOffset;
        this.size = size;
        this.what = what;
    }

    public long fileOffset() {
        return fileOffset;
    }

    public long size() {
        return size;
    }

    /** Where the string at {@code index} starts in the file. */
    public long fileOffsetOf(long index) {
        checkIndex(index);
        return fileOffset + index;
    }

    /** The string at {@code index}, decoded as UTF-8 (names in the wild are ASCII). */
    public String get(long index) {
        checkIndex(index);
        long start = fileOffset + index;
        long end = fileOffset + size;
        // Most strings are short: scan for the NUL without allocating, then copy once.
        for (long p = start; p < end; p++) {
            if (reader.u8(p) == 0) {
                long n = p - start;
                if (n > Integer.MAX_VALUE - 8) {
                    break;
                }
                return new String(reader.bytes(start, (int) n), StandardCharsets.UTF_8);
            }
        }
        throw new ElfFormatException("string at index " + ElfReader.hex(index) + " in " + what + " (offset "
                + ElfReader.hex(start) + ") has no terminating NUL before the end of the table");
    }

    private void checkIndex(long index) {
        if (index < 0 || index >= size) {
            throw new ElfFormatException("string index " + ElfReader.hex(index) + " is past the end of " + what
                    + " at offset " + ElfReader.hex(fileOffset) + " (size " + ElfReader.hex(size) + ")");
        }
    }
}
