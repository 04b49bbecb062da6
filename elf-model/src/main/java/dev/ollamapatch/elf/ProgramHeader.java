package dev.ollamapatch.elf;

/** One program header (segment), fields as in Elf64_Phdr. */
public record ProgramHeader(int index, int type, int flags, long offset, long vaddr, long paddr, long filesz,
                            long memsz, long align) {

    /** True when {@code vaddr} lies in the part of the segment backed by file bytes. */
    public boolean containsFileBackedVaddr(long address) {
        return Long.compareUnsigned(address - vaddr, filesz) < 0 && Long.compareUnsigned(address, vaddr) >= 0;
    }

    /** True when {@code vaddr} lies anywhere in the segment's memory image. */
    public boolean containsVaddr(long address) {
        return Long.compareUnsigned(address, vaddr) >= 0 && Long.compareUnsigned(address - vaddr, memsz) < 0;
    }
}
