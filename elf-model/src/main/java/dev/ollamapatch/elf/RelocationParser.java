package dev.ollamapatch.elf;

import static dev.ollamapatch.elf.ElfConstants.*;
import static dev.ollamapatch.elf.ElfReader.hex;

import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;

/**
 * Reads REL/RELA tables (from sections, else from the dynamic table) and RELR tables, and builds
 * the sorted table of RELATIVE relocations.
 */
final class RelocationParser {
    /** Bytes of a relocation table read at once. */
    private static final int BLOCK = 1 << 16;

    private RelocationParser() {
    }

    /** A table located in the file: where, how big, entry size, RELA or not, and who said so. */
    private record Table(long offset, long size, long entsize, boolean rela, String what, long whatAt) {
    }

    static List<Relocation> read(ElfFile f, ElfReader r) {
        List<Relocation> out = new ArrayList<>();
        for (Table t : relTables(f, r)) {
            int minEnt = (r.is64() ? 8 : 4) * (t.rela ? 3 : 2);
            long ent = t.entsize == 0 ? minEnt : t.entsize;
            if (ent < minEnt) {
                throw new ElfFormatException("entry size " + hex(t.entsize) + " of " + t.what + " at offset "
                        + hex(t.whatAt) + " is smaller than a " + (t.rela ? "RELA" : "REL") + " entry (" + minEnt + ")");
            }
            r.checkRange(t.what, t.whatAt, t.offset, t.size);
            long n = t.size / ent;
            int w = r.wordSize();
            // The whole table is inside the file (checked above): it is read in bulk, a block of whole
            // entries at a time, and decoded from the array (152 000 entries in a large Go program;
            // read a byte at a time through the file they took a tenth of a scan).
            int perBlock = (int) Math.max(1, Math.min(n, BLOCK / ent));
            byte[] block = new byte[(int) ((perBlock - 1) * ent + minEnt)]; // a huge sh_entsize reads one entry's fields
            for (long first = 0; first < n; first += perBlock) {
                int count = (int) Math.min(perBlock, n - first);
                // The last entry needs only its fields, not its padding up to the entry size.
                r.readInto(t.offset + first * ent, block, (int) ((count - 1) * ent + minEnt));
                for (int k = 0; k < count; k++) {
                    int at = (int) (k * ent);
                    long off = r.word(block, at), info = r.word(block, at + w);
                    long addend = t.rela ? r.word(block, at + 2 * w) : 0;
                    if (!r.is64() && t.rela) {
                        addend = (int) addend; // Elf32_Sword
                    }
                    long sym = r.is64() ? info >>> 32 : info >>> 8;
                    long type = r.is64() ? info & 0xffffffffL : info & 0xff;
                    out.add(new Relocation(off, type, sym, addend, t.rela));
                }
            }
        }
        return List.copyOf(out);
    }

    /** The entries of {@code all} that name a symbol (r_sym not 0), in order. */
    static List<Relocation> naming(List<Relocation> all) {
        List<Relocation> out = new ArrayList<>();
        for (Relocation r : all) {
            if (r.symbol() != 0) {
                out.add(r);
            }
        }
        return List.copyOf(out);
    }

    private static List<Table> relTables(ElfFile f, ElfReader r) {
        List<Table> tables = new ArrayList<>();
        if (!f.sections().isEmpty()) {
            for (SectionHeader s : f.sections()) {
                if (s.type() == SHT_REL || s.type() == SHT_RELA) {
                    tables.add(new Table(s.offset(), s.size(), s.entsize(), s.type() == SHT_RELA,
                            "sh_offset of section " + s.index() + " (" + s.name() + ")", shdrAt(f, s)));
                }
            }
            return tables;
        }
        List<DynamicEntry> dyn = f.dynamic();
        addDynamicTable(f, dyn, tables, DT_RELA, DT_RELASZ, DT_RELAENT, true);
        addDynamicTable(f, dyn, tables, DT_REL, DT_RELSZ, DT_RELENT, false);
        OptionalLong pltrel = value(dyn, DT_PLTREL);
        addDynamicTable(f, dyn, tables, DT_JMPREL, DT_PLTRELSZ, -1,
                pltrel.isPresent() ? pltrel.getAsLong() == DT_RELA : r.is64());
        return tables;
    }

    private static void addDynamicTable(ElfFile f, List<DynamicEntry> dyn, List<Table> tables, long addrTag,
                                        long sizeTag, long entTag, boolean rela) {
        OptionalLong addr = value(dyn, addrTag);
        if (addr.isEmpty()) {
            return;
        }
        long at = entryOffset(dyn, addrTag);
        String name = "DT_" + ElfNames.dynamicTag(addrTag);
        OptionalLong off = f.fileOffsetOf(addr.getAsLong());
        if (off.isEmpty()) {
            throw new ElfFormatException(name + " " + hex(addr.getAsLong()) + " at offset " + hex(at)
                    + " is not inside any PT_LOAD segment's file data");
        }
        long size = value(dyn, sizeTag).orElse(0);
        long ent = entTag < 0 ? 0 : value(dyn, entTag).orElse(0);
        tables.add(new Table(off.getAsLong(), size, ent, rela, name, at));
    }

    /** Every RELATIVE relocation and every RELR entry, as (place, target) sorted by place. */
    static RelativeRelocations relative(ElfFile f, ElfReader r) {
        long relType = relativeRelocationType(f.header().machine());
        long limit = r.size() / r.wordSize() + 1; // more places than words in the file means a corrupt table
        RelativeRelocations.Builder b = new RelativeRelocations.Builder();
        if (relType >= 0) {
            for (Relocation rel : f.relocations()) {
                if (rel.type() != relType || rel.symbol() != 0) {
                    continue;
                }
                if (rel.hasAddend()) {
                    b.add(rel.offset(), rel.addend());
                } else {
                    inPlace(f, r, b, rel.offset());
                }
            }
        }
        for (Table t : relrTables(f, r)) {
            r.checkRange(t.what, t.whatAt, t.offset, t.size);
            int w = r.wordSize();
            if (t.entsize != 0 && t.entsize != w) {
                throw new ElfFormatException("entry size " + hex(t.entsize) + " of " + t.what + " at offset "
                        + hex(t.whatAt) + " is not the word size " + w);
            }
            long n = t.size / w;
            long where = 0;
            for (long i = 0; i < n; i++) {
                long e = r.word(t.offset + i * w);
                if ((e & 1) == 0) {
                    inPlace(f, r, b, e);
                    where = e + w;
                } else {
                    long bits = e >>> 1;
                    for (int k = 0; k < 8 * w - 1; k++, bits >>>= 1) {
                        if ((bits & 1) != 0) {
                            inPlace(f, r, b, where + (long) k * w);
                        }
                    }
                    where += (long) (8 * w - 1) * w;
                }
                if (b.size() > limit) {
                    throw new ElfFormatException(t.what + " at offset " + hex(t.whatAt)
                            + " describes more relocations than the file has words");
                }
            }
        }
        return b.build();
    }

    /** REL and RELR keep the addend in the relocated word itself; places outside the file are skipped. */
    private static void inPlace(ElfFile f, ElfReader r, RelativeRelocations.Builder b, long place) {
        OptionalLong off = f.fileOffsetOf(place);
        if (off.isPresent() && off.getAsLong() <= r.size() - r.wordSize()) {
            b.add(place, r.word(off.getAsLong()));
        }
    }

    private static List<Table> relrTables(ElfFile f, ElfReader r) {
        List<Table> tables = new ArrayList<>();
        if (!f.sections().isEmpty()) {
            for (SectionHeader s : f.sections()) {
                if (s.type() == SHT_RELR) {
                    tables.add(new Table(s.offset(), s.size(), s.entsize(), false,
                            "sh_offset of section " + s.index() + " (" + s.name() + ")", shdrAt(f, s)));
                }
            }
            return tables;
        }
        List<DynamicEntry> dyn = f.dynamic();
        OptionalLong addr = value(dyn, DT_RELR);
        if (addr.isPresent()) {
            long at = entryOffset(dyn, DT_RELR);
            OptionalLong off = f.fileOffsetOf(addr.getAsLong());
            if (off.isEmpty()) {
                throw new ElfFormatException("DT_RELR " + hex(addr.getAsLong()) + " at offset " + hex(at)
                        + " is not inside any PT_LOAD segment's file data");
            }
            tables.add(new Table(off.getAsLong(), value(dyn, DT_RELRSZ).orElse(0), value(dyn, DT_RELRENT).orElse(0),
                    false, "DT_RELR", at));
        }
        return tables;
    }

    private static long shdrAt(ElfFile f, SectionHeader s) {
        return f.header().shoff() + (long) s.index() * f.header().shentsize();
    }

    private static OptionalLong value(List<DynamicEntry> dyn, long tag) {
        for (DynamicEntry e : dyn) {
            if (e.tag() == tag) {
                return OptionalLong.of(e.value());
            }
        }
        return OptionalLong.empty();
    }

    private static long entryOffset(List<DynamicEntry> dyn, long tag) {
        for (DynamicEntry e : dyn) {
            if (e.tag() == tag) {
                return e.fileOffset();
            }
        }
        return -1;
    }
}
