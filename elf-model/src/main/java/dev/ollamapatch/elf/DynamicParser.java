package dev.ollamapatch.elf;

import static dev.ollamapatch.elf.ElfConstants.*;
import static dev.ollamapatch.elf.ElfReader.hex;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

/** Reads the dynamic table and its string table, preferring sections and falling back to PT_DYNAMIC. */
final class DynamicParser {
    private DynamicParser() {
    }

    /** The raw entries (tag, value, file offset) up to and excluding DT_NULL. */
    static List<long[]> rawEntries(ElfFile f, ElfReader r) {
        long start, size;
        String what;
        long whatAt;
        Optional<SectionHeader> sec = f.sections().stream().filter(s -> s.type() == SHT_DYNAMIC).findFirst();
        if (sec.isPresent()) {
            start = sec.get().offset();
            size = sec.get().size();
            what = "sh_offset of the dynamic section " + sec.get().index();
            whatAt = f.header().shoff() + (long) sec.get().index() * f.header().shentsize();
        } else {
            Optional<ProgramHeader> ph = f.programHeaders().stream().filter(p -> p.type() == PT_DYNAMIC).findFirst();
            if (ph.isEmpty()) {
                return List.of();
            }
            start = ph.get().offset();
            size = ph.get().filesz();
            what = "p_offset of PT_DYNAMIC (program header " + ph.get().index() + ")";
            whatAt = f.header().phoff() + (long) ph.get().index() * f.header().phentsize();
        }
        r.checkRange(what, whatAt, start, size);
        int ent = 2 * r.wordSize();
        long n = size / ent; // bounded by file size, so the loop is too
        List<long[]> out = new ArrayList<>();
        for (long i = 0; i < n; i++) {
            long at = start + i * ent;
            long tag = r.word(at);
            if (tag == DT_NULL) {
                break;
            }
            out.add(new long[] {tag, r.word(at + r.wordSize()), at});
        }
        return out;
    }

    /** The first value of {@code tag}, if present. */
    static OptionalLong value(List<long[]> raw, long tag) {
        for (long[] e : raw) {
            if (e[0] == tag) {
                return OptionalLong.of(e[1]);
            }
        }
        return OptionalLong.empty();
    }

    static Optional<StringTable> strings(ElfFile f, ElfReader r, List<long[]> raw) {
        OptionalLong strtab = value(raw, DT_STRTAB);
        if (strtab.isPresent()) {
            OptionalLong off = f.fileOffsetOf(strtab.getAsLong());
            if (off.isPresent()) {
                Optional<ProgramHeader> seg = f.fileBackedSegment(strtab.getAsLong());
                long avail = seg.get().offset() + seg.get().filesz() - off.getAsLong();
                long size = value(raw, DT_STRSZ).orElse(avail);
                if (Long.compareUnsigned(size, avail) > 0) {
                    throw new ElfFormatException("DT_STRSZ " + hex(size) + " at offset " + hex(entryOffset(raw, DT_STRSZ))
                            + " runs past the end of its PT_LOAD segment (" + hex(avail) + " bytes left)");
                }
                r.checkRange("DT_STRTAB", entryOffset(raw, DT_STRTAB), off.getAsLong(), size);
                return Optional.of(new StringTable(r, off.getAsLong(), size, "the dynamic string table (DT_STRTAB)"));
            }
        }
        // No usable DT_STRTAB: take the section the dynamic section links to, else the one named .dynstr.
        Optional<SectionHeader> dyn = f.sections().stream().filter(s -> s.type() == SHT_DYNAMIC).findFirst();
        Optional<SectionHeader> str = Optional.empty();
        if (dyn.isPresent() && dyn.get().link() > 0 && dyn.get().link() < f.sections().size()
                && dyn.get().link() != dyn.get().index()) {
            str = Optional.of(f.sections().get(dyn.get().link()));
        }
        if (str.isEmpty()) {
            str = f.section(".dynstr");
        }
        if (str.isEmpty() || !str.get().hasFileData()) {
            return Optional.empty();
        }
        return Optional.of(new StringTable(r, str.get().offset(), str.get().size(), str.get().name()));
    }

    private static long entryOffset(List<long[]> raw, long tag) {
        for (long[] e : raw) {
            if (e[0] == tag) {
                return e[2];
            }
        }
        return -1;
    }

    static List<DynamicEntry> entries(List<long[]> raw, Optional<StringTable> strings) {
        List<DynamicEntry> out = new ArrayList<>(raw.size());
        for (int i = 0; i < raw.size(); i++) {
            long[] e = raw.get(i);
            String s = null;
            long sOff = -1;
            if (DynamicEntry.isStringTag(e[0])) {
                if (strings.isEmpty()) {
                    throw new ElfFormatException("dynamic entry " + i + " (tag " + ElfNames.dynamicTag(e[0])
                            + ") at offset " + hex(e[2]) + " needs a dynamic string table, but there is none");
                }
                try {
                    s = strings.get().get(e[1]);
                    sOff = strings.get().fileOffsetOf(e[1]);
                } catch (ElfFormatException x) {
                    throw new ElfFormatException("d_val of DT_" + ElfNames.dynamicTag(e[0]) + " (dynamic entry " + i
                            + ") at offset " + hex(e[2]) + ": " + x.getMessage());
                }
            }
            out.add(new DynamicEntry(i, e[0], e[1], e[2], s, sOff));
        }
        return List.copyOf(out);
    }
}
