package dev.ollamapatch.elf;

import static dev.ollamapatch.elf.ElfConstants.SHT_GNU_versym;
import static dev.ollamapatch.elf.ElfReader.hex;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Reads the GNU symbol version table ({@code SHT_GNU_versym}): one Elf_Half per {@code .dynsym} entry,
 * the low 15 bits a version index (0 local, 1 global, otherwise a vd_ndx / vna_other), bit 15 "hidden".
 */
final class SymbolVersionParser {
    private static final int VERSYM_HIDDEN = 0x8000, VER_NDX_GLOBAL = 1;

    private SymbolVersionParser() {
    }

    static List<Integer> read(ElfFile f, ElfReader r) {
        Optional<SectionHeader> found = f.sections().stream().filter(s -> s.type() == SHT_GNU_versym).findFirst();
        if (found.isEmpty()) {
            return List.of();
        }
        SectionHeader s = found.get();
        long n = s.size() / 2; // Elf_Half entries; the range was checked at open
        if (n > f.dynamicSymbols().size() && !f.dynamicSymbols().isEmpty() || s.size() % 2 != 0) {
            throw new ElfFormatException("section " + s.index() + " (" + s.name() + ") at offset " + hex(s.offset())
                    + " has " + hex(s.size()) + " bytes, not 2 for each of the " + f.dynamicSymbols().size() + " dynamic symbols");
        }
        List<Integer> out = new ArrayList<>((int) n);
        for (long i = 0; i < n; i++) {
            out.add(r.u16(s.offset() + 2 * i));
        }
        return List.copyOf(out);
    }

    static List<SymbolVersionNeed> needs(ElfFile f) {
        List<Integer> versym = f.symbolVersions();
        if (versym.isEmpty()) {
            return List.of();
        }
        Map<Integer, String[]> byIndex = new HashMap<>();
        for (VersionNeed need : f.versionNeeds()) {
            for (VersionNeedAux aux : need.aux()) {
                byIndex.put(aux.other(), new String[] {need.file(), aux.name()});
            }
        }
        List<SymbolVersionNeed> out = new ArrayList<>();
        for (Symbol sym : f.dynamicSymbols()) {
            if (sym.index() == 0 || sym.shndx() != 0 || sym.index() >= versym.size()) {
                continue; // defined here, or no version entry
            }
            int v = versym.get(sym.index()) & ~VERSYM_HIDDEN;
            String[] fv = byIndex.get(v);
            if (v > VER_NDX_GLOBAL && fv != null) {
                out.add(new SymbolVersionNeed(sym.name(), fv[0], fv[1]));
            }
        }
        return List.copyOf(out);
    }
}
