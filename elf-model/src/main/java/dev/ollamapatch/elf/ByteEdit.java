package dev.ollamapatch.elf;

/** Replace {@code replacement.length} bytes at {@code offset}; the array is copied so the edit is immutable. */
public record ByteEdit(long offset, byte[] replacement) {
    public ByteEdit {
        replacement = replacement.clone();
    }

    @Override
    public byte[] replacement() {
        return replacement.clone();
    }

    public int length() {
        return replacement.length;
    }

    public long end() {
        return offset + replacement.length;
    }
}
