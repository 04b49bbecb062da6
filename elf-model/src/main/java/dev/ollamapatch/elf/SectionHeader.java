package dev.ollamapatch.elf;

/** One section header, fields as in Elf64_Shdr; {@code name} is resolved through e_shstrndx ("" if none). */
public record SectionHeader(int index, String name, long nameIndex, int type, long flags, long addr, long offset,
                            long size, int link, int info, long addralign, long entsize) {

    /** Whether {@code [offset, offset+size)} are bytes of this section in the file. */
    public boolean hasFileData() {
        return type != ElfConstants.SHT_NOBITS && type != ElfConstants.SHT_NULL;
    }

    public boolean isAlloc() {
        return (flags & ElfConstants.SHF_ALLOC) != 0;
    }

    public boolean isExecInstr() {
        return (flags & ElfConstants.SHF_EXECINSTR) != 0;
    }

    public boolean isWrite() {
        return (flags & ElfConstants.SHF_WRITE) != 0;
    }
}
