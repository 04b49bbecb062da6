package dev.ollamapatch.site;

import dev.ollamapatch.elf.ElfConstants;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ProgramHeader;
import dev.ollamapatch.elf.SectionHeader;

import java.util.ArrayList;
import java.util.List;

/**
 * A loaded, file-backed piece of an ELF file: a section, or a PT_LOAD segment where the file has no
 * section headers. Only regions matter: strings outside them are never seen by the program.
 * Without section headers the dynamic string table cannot be told apart inside its segment; its
 * entries are still found through the dynamic table.
 */
record Region(String name, long offset, long vaddr, long size, boolean exec, boolean dynstr, boolean segment) {

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
                    s.addr(), s.size(), s.isExecInstr(), s.offset() == dynstrOffset, false));
        }
        if (sectioned) return regions;
        for (ProgramHeader p : elf.programHeaders()) {
            if (p.type() != ElfConstants.PT_LOAD || p.filesz() == 0) continue;
            regions.add(new Region("LOAD[" + p.index() + "]", p.offset(), p.vaddr(), p.filesz(),
                    (p.flags() & ElfConstants.PF_X) != 0, false, true));
        }
        return regions;
    }
}
