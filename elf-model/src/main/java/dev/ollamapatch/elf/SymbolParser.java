package dev.ollamapatch.elf;

import static dev.ollamapatch.elf.ElfReader.hex;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Reads a symbol table section (.symtab or .dynsym) through the string table named by its sh_link. */
final class SymbolParser {
    private SymbolParser() {
    }

    static List<Symbol> read(ElfFile f, ElfReader r, int sectionType) {
        Optional<SectionHeader> found = f.sections().stream().filter(s -> s.type() == sectionType).findFirst();
        if (found.isEmpty()) {
            return List.of();
        }
        SectionHeader s = found.get();
        long shdrAt = f.header().shoff() + (long) s.index() * f.header().shentsize();
        int minEnt = r.is64() ? 24 : 16;
        long ent = s.entsize() == 0 ? minEnt : s.entsize();
        if (ent < minEnt || ent > s.size() && s.size() != 0) {
            throw new ElfFormatException("sh_entsize " + hex(s.entsize()) + " of section " + s.index() + " (" + s.name()
                    + ") at offset " + hex(shdrAt + (r.is64() ? 0x38 : 0x24)) + " is invalid for a symbol table");
        }
        StringTable names = ElfFile.linkedStrings(f, r, s);
        long n = s.size() / ent; // the range was checked at open, so n is bounded by the file size
        List<Symbol> out = new ArrayList<>((int) Math.min(n, 1 << 20));
        for (long i = 0; i < n; i++) {
            long at = s.offset() + i * ent;
            long name = r.u32(at), value, size;
            int info, other, shndx;
            if (r.is64()) {
                info = r.u8(at + 4);
                other = r.u8(at + 5);
                shndx = r.u16(at + 6);
                value = r.u64(at + 8);
                size = r.u64(at + 16);
            } else {
                value = r.u32(at + 4);
                size = r.u32(at + 8);
                info = r.u8(at + 12);
                other = r.u8(at + 13);
                shndx = r.u16(at + 14);
            }
            String str;
            try {
                str = names.get(name);
            } catch (ElfFormatException e) {
                throw new ElfFormatException("st_name " + hex(name) + " of symbol " + i + " in " + s.name()
                        + " at offset " + hex(at) + ": " + e.getMessage());
            }
            out.add(new Symbol((int) i, str, name, value, size, info, other, shndx));
        }
        return List.copyOf(out);
    }
}
