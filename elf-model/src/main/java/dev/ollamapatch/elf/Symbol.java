package dev.ollamapatch.elf;

/** One symbol table entry; {@code shndx} is the raw 16-bit st_shndx. */
public record Symbol(int index, String name, long nameIndex, long value, long size, int info, int other, int shndx) {
    /** STB_* binding: the high nibble of st_info. */
    public int bind() {
        return (info >>> 4) & 0xf;
    }

    /** STT_* type: the low nibble of st_info. */
    public int type() {
        return info & 0xf;
    }
}
