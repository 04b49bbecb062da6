package dev.ollamapatch.site;

import dev.ollamapatch.elf.ElfConstants;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ProgramHeader;
import dev.ollamapatch.elf.SectionHeader;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * A loaded, file-backed piece of an ELF file: a section, or a PT_LOAD segment where the file has no
 * section headers. Only regions matter: strings outside them are never seen by the program.
 * Without section headers the dynamic string table cannot be told apart inside its segment; its
 * entries are still found through the dynamic table.
 *
 * @param holdsAddresses whether the region can store an address in data (DESIGN.md hazard 7): code,
 *                       string tables, notes, hash and symbol tables, relocation tables and unwind
 *                       tables cannot, so a word there is never read as a pointer
 */
record Region(String name, long offset, long vaddr, long size, boolean exec, boolean dynstr, boolean segment,
              boolean holdsAddresses) {

    /**
     * PROGBITS sections whose contents are defined to be something other than addresses: DWARF call
     * frame information and its index (LSB "Exception Frames"), the program interpreter's name, and the
     * Go runtime's tables that hold offsets, or data the Go compiler put there because it has no pointers.
     */
    private static final Set<String> NO_ADDRESSES = Set.of(".eh_frame", ".eh_frame_hdr", ".gcc_except_table",
            ".interp", ".gopclntab", ".gosymtab", ".typelink", ".itablink", ".noptrdata");

    boolean containsVaddr(long va) { return va >= vaddr && va - vaddr < size; }

    long vaddrOf(long off) { return vaddr + (off - offset); }

    long offsetOf(long va) { return offset + (va - vaddr); }

    static List<Region> of(ElfFile elf) {
        List<Region> regions = new ArrayList<>();
        long dynstrOffset = elf.dynamicStrings().map(t -> t.fileOffset()).orElse(-1L);
        boolean sectioned = false;
        for (SectionHeader s : elf.sections()) {
            if (s.index() == 0 || !s.isAlloc() || !s.hasFileData() || s.size() == 0) continue;
            sectioned = true;
            regions.add(new Region(s.name().isEmpty() ? "[" + s.index() + "]" : s.name(), s.offset(),
                    s.addr(), s.size(), s.isExecInstr(), s.offset() == dynstrOffset, false, holdsAddresses(s)));
        }
        if (sectioned) return regions;
        for (ProgramHeader p : elf.programHeaders()) {
            if (p.type() != ElfConstants.PT_LOAD || p.filesz() == 0) continue;
            boolean exec = (p.flags() & ElfConstants.PF_X) != 0;
            regions.add(new Region("LOAD[" + p.index() + "]", p.offset(), p.vaddr(), p.filesz(), exec, false, true,
                    !exec));
        }
        return regions;
    }

    private static boolean holdsAddresses(SectionHeader s) {
        // Not SHF_MERGE: a linked section carries the flag when any of its inputs did (lld's .rodata holding
        // a constant array of pointers is "AM"), so it says nothing about the rest of its contents.
        if (s.isExecInstr() || NO_ADDRESSES.contains(s.name())) return false;
        // gABI types that hold data; others (notes, hash, symbol, string, relocation and dynamic tables, and
        // the x86-64 psABI's SHT_X86_64_UNWIND that lld gives .eh_frame) hold no addresses to follow.
        return s.type() == ElfConstants.SHT_PROGBITS || s.type() == ElfConstants.SHT_INIT_ARRAY
                || s.type() == ElfConstants.SHT_FINI_ARRAY || s.type() == ElfConstants.SHT_PREINIT_ARRAY;
    }
}
