package dev.ollamapatch.elf;

import java.nio.ByteOrder;

/**
 * The ELF file header. {@code phnum}, {@code shnum} and {@code shstrndx} are the resolved values
 * after extended numbering (PN_XNUM, e_shnum 0, SHN_XINDEX), not the raw header fields.
 */
public record ElfHeader(int elfClass, ByteOrder data, int osAbi, int abiVersion, int type, int machine, long version,
                        long entry, long phoff, long shoff, int flags, int ehsize, int phentsize, int phnum,
                        int shentsize, int shnum, int shstrndx) {
}
