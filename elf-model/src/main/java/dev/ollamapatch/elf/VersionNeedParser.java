package dev.ollamapatch.elf;

import static dev.ollamapatch.elf.ElfConstants.*;
import static dev.ollamapatch.elf.ElfReader.hex;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * Reads the GNU version-needed chain (Elf_Verneed / Elf_Vernaux). The chain is linked by relative
 * offsets, so every step is checked to stay inside the table and the walk is bounded by its size.
 */
final class VersionNeedParser {
    private static final int ENTRY = 16; // both Elf_Verneed and Elf_Vernaux are 16 bytes in both classes

    private VersionNeedParser() {
    }

    static List<VersionNeed> read(ElfFile f, ElfReader r) {
        long start, size, count;
        StringTable strings;
        String what;
        Optional<SectionHeader> sec = f.sections().stream().filter(s -> s.type() == SHT_GNU_verneed).findFirst();
        if (sec.isPresent()) {
            SectionHeader s = sec.get();
            start = s.offset();
            size = s.size();
            count = Integer.toUnsignedLong(s.info());
            strings = ElfFile.linkedStrings(f, r, s);
            what = "section " + s.index() + " (" + s.name() + ")";
        } else {
            List<DynamicEntry> dyn = f.dynamic();
            OptionalLong addr = dyn.stream().filter(e -> e.tag() == DT_VERNEED).mapToLong(DynamicEntry::value).findFirst();
            if (addr.isEmpty()) {
                return List.of();
            }
            OptionalLong off = f.fileOffsetOf(addr.getAsLong());
            if (off.isEmpty()) {
                throw new ElfFormatException("DT_VERNEED " + hex(addr.getAsLong()) + " is not inside any PT_LOAD segment's file data");
            }
            start = off.getAsLong();
            ProgramHeader seg = f.fileBackedSegment(addr.getAsLong()).orElseThrow();
            size = seg.offset() + seg.filesz() - start;
            count = dyn.stream().filter(e -> e.tag() == DT_VERNEEDNUM).mapToLong(DynamicEntry::value).findFirst().orElse(0);
            strings = f.dynamicStrings().orElseThrow(() ->
                    new ElfFormatException("DT_VERNEED " + hex(addr.getAsLong()) + " needs a dynamic string table, but there is none"));
            what = "DT_VERNEED";
        }
        if (Long.compareUnsigned(count, size / ENTRY) > 0) {
            throw new ElfFormatException("version need count " + count + " of " + what + " at offset " + hex(start)
                    + " cannot fit in its " + hex(size) + " bytes");
        }
        long budget = size / ENTRY; // each visited record consumes one slot: a cyclic chain runs out
        List<VersionNeed> out = new ArrayList<>();
        long at = start;
        for (long i = 0; i < count; i++) {
            check(at, start, size, what);
            if (--budget < 0) {
                throw new ElfFormatException(what + " at offset " + hex(start) + " has a looping vn_next chain");
            }
            int cnt = r.u16(at + 2);
            long file = r.u32(at + 4), aux = r.u32(at + 8), next = r.u32(at + 12);
            List<VersionNeedAux> auxes = new ArrayList<>();
            long a = at + aux;
            for (int j = 0; j < cnt; j++) {
                check(a, start, size, what);
                if (--budget < 0) {
                    throw new ElfFormatException(what + " at offset " + hex(start) + " has a looping vna_next chain");
                }
                long hash = r.u32(a), name = r.u32(a + 8), anext = r.u32(a + 12);
                auxes.add(new VersionNeedAux(named(strings, name, "vna_name", a + 8), name, hash, r.u16(a + 4), r.u16(a + 6)));
                if (anext == 0) {
                    break;
                }
                a += anext;
            }
            out.add(new VersionNeed(named(strings, file, "vn_file", at + 4), file, auxes));
            if (next == 0) {
                break;
            }
            at += next;
        }
        return List.copyOf(out);
    }

    private static String named(StringTable strings, long index, String field, long at) {
        try {
            return strings.get(index);
        } catch (ElfFormatException e) {
            throw new ElfFormatException(field + " " + hex(index) + " at offset " + hex(at) + ": " + e.getMessage());
        }
    }

    private static void check(long at, long start, long size, String what) {
        if (at < start || at - start > size - ENTRY) {
            throw new ElfFormatException("vn_next/vna_next leads to offset " + hex(at) + ", outside " + what
                    + " at offset " + hex(start) + " (size " + hex(size) + ")");
        }
    }
}
