package dev.ollamapatch.elf;

import static dev.ollamapatch.elf.ElfConstants.*;
import static dev.ollamapatch.elf.ElfReader.hex;

import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads and validates the ELF header, the program header table and the section header table,
 * including extended numbering. Everything here is small, so it is parsed eagerly.
 */
final class HeaderParser {
    /** Beyond this many headers a table is treated as corrupt, even if the file is large enough. */
    private static final long MAX_HEADERS = 1 << 24;

    record Result(ElfReader reader, ElfHeader header, List<ProgramHeader> segments, List<SectionHeader> sections) {
    }

    private HeaderParser() {
    }

    static Result parse(ByteSource src) {
        long size = src.size();
        if (size < 4 || src.get(0) != 0x7f || src.get(1) != 'E' || src.get(2) != 'L' || src.get(3) != 'F') {
            StringBuilder magic = new StringBuilder();
            for (int i = 0; i < Math.min(4, size); i++) {
                magic.append(String.format("%02x", src.get(i)));
            }
            throw new ElfFormatException("not an ELF file: bad magic " + (size == 0 ? "(empty file)" : "0x" + magic)
                    + " at offset 0x0 (expected 0x7f454c46)");
        }
        if (size < 16) {
            throw new ElfFormatException("e_ident at offset 0x0 is truncated: file size " + hex(size) + " < 0x10");
        }
        int cls = src.get(4) & 0xff;
        if (cls != ELFCLASS32 && cls != ELFCLASS64) {
            throw new ElfFormatException("EI_CLASS " + hex(cls) + " at offset 0x4 is neither ELFCLASS32 nor ELFCLASS64");
        }
        int data = src.get(5) & 0xff;
        if (data != ELFDATA2LSB && data != ELFDATA2MSB) {
            throw new ElfFormatException("EI_DATA " + hex(data) + " at offset 0x5 is neither ELFDATA2LSB nor ELFDATA2MSB");
        }
        boolean is64 = cls == ELFCLASS64;
        ByteOrder order = data == ELFDATA2LSB ? ByteOrder.LITTLE_ENDIAN : ByteOrder.BIG_ENDIAN;
        ElfReader r = new ElfReader(src, order, is64);
        int ehdrSize = is64 ? 64 : 52;
        if (size < ehdrSize) {
            throw new ElfFormatException("ELF header at offset 0x0 is truncated: file size " + hex(size)
                    + " is smaller than the " + hex(ehdrSize) + "-byte ELF" + (is64 ? "64" : "32") + " header");
        }
        int w = r.wordSize();
        int type = r.u16(16), machine = r.u16(18);
        long version = r.u32(20);
        long entry = r.word(24);
        long phoffAt = 24 + w, shoffAt = 24 + 2L * w, tail = 24 + 3L * w;
        long phoff = r.word(phoffAt), shoff = r.word(shoffAt);
        int flags = (int) r.u32(tail);
        int ehsize = r.u16(tail + 4), phentsize = r.u16(tail + 6), rawPhnum = r.u16(tail + 8);
        int shentsize = r.u16(tail + 10), rawShnum = r.u16(tail + 12), rawShstrndx = r.u16(tail + 14);

        int minPhent = is64 ? 56 : 32;
        if (rawPhnum != PN_XNUM && rawPhnum > 0) {
            // Checked before the section headers so that a cut inside the program headers is named as such.
            checkPhentsize(phentsize, minPhent, tail, is64);
            r.checkRange("e_phoff", phoffAt, phoff, (long) rawPhnum * phentsize);
        }

        // Section 0 carries the real counts when they do not fit in the 16-bit header fields.
        long shnum = 0, phnum = rawPhnum, shstrndx = rawShstrndx;
        List<SectionHeader> sections = List.of();
        long[] raw0 = null;
        if (shoff != 0) {
            int minShent = is64 ? 64 : 40;
            if (shentsize < minShent) {
                throw new ElfFormatException("e_shentsize " + hex(shentsize) + " at offset " + hex(tail + 10)
                        + " is smaller than an ELF" + (is64 ? "64" : "32") + " section header (" + hex(minShent) + ")");
            }
            r.checkRange("e_shoff", shoffAt, shoff, shentsize);
            raw0 = readShdr(r, shoff);
            shnum = rawShnum;
            if (rawShnum == 0) {
                shnum = raw0[5];
                if (shnum == 0) {
                    // e_shoff set but no sections at all: tolerated, there is just section 0's slot.
                    shnum = 0;
                }
                checkCount("sh_size of section 0 (extended e_shnum)", shoff + (is64 ? 0x20 : 0x14), shnum);
            }
            if (shnum > 0) {
                r.checkRange("e_shoff", shoffAt, shoff, shnum * shentsize);
            }
            if (rawShstrndx == SHN_XINDEX) {
                shstrndx = raw0[6];
            }
            if (rawPhnum == PN_XNUM) {
                phnum = raw0[7];
                checkCount("sh_info of section 0 (extended e_phnum)", shoff + (is64 ? 0x2c : 0x1c), phnum);
            }
            if (shstrndx != SHN_UNDEF && shstrndx >= shnum) {
                String field = rawShstrndx == SHN_XINDEX ? "sh_link of section 0 (extended e_shstrndx)" : "e_shstrndx";
                long at = rawShstrndx == SHN_XINDEX ? shoff + (is64 ? 0x28 : 0x18) : tail + 14;
                throw new ElfFormatException(field + " " + hex(shstrndx) + " at offset " + hex(at)
                        + " is out of range (" + shnum + " section headers)");
            }
        } else {
            if (rawPhnum == PN_XNUM) {
                throw new ElfFormatException("e_phnum PN_XNUM (0xffff) at offset " + hex(tail + 8)
                        + " needs section 0, but e_shoff is 0");
            }
            shstrndx = SHN_UNDEF;
        }

        List<ProgramHeader> segments = List.of();
        if (phnum > 0) {
            checkPhentsize(phentsize, minPhent, tail, is64);
            r.checkRange("e_phoff", phoffAt, phoff, phnum * phentsize);
            segments = readSegments(r, phoff, phentsize, (int) phnum);
        }

        if (shnum > 0) {
            sections = readSections(r, shoff, shentsize, (int) shnum, (int) shstrndx);
        }
        ElfHeader header = new ElfHeader(is64 ? 64 : 32, order, src.get(7) & 0xff, src.get(8) & 0xff, type, machine,
                version, entry, phoff, shoff, flags, ehsize, phentsize, (int) phnum, shentsize, (int) shnum,
                (int) shstrndx);
        return new Result(r, header, segments, sections);
    }

    private static void checkPhentsize(int phentsize, int minPhent, long tail, boolean is64) {
        if (phentsize < minPhent) {
            throw new ElfFormatException("e_phentsize " + hex(phentsize) + " at offset " + hex(tail + 6)
                    + " is smaller than an ELF" + (is64 ? "64" : "32") + " program header (" + hex(minPhent) + ")");
        }
    }

    private static void checkCount(String field, long at, long n) {
        if (n < 0 || n > MAX_HEADERS) {
            throw new ElfFormatException(field + " " + hex(n) + " at offset " + hex(at) + " is absurdly large");
        }
    }

    /** name, type, flags, addr, offset, size, link, info, addralign, entsize. */
    private static long[] readShdr(ElfReader r, long at) {
        if (r.is64()) {
            return new long[] {r.u32(at), r.u32(at + 4), r.u64(at + 8), r.u64(at + 0x10), r.u64(at + 0x18),
                    r.u64(at + 0x20), r.u32(at + 0x28), r.u32(at + 0x2c), r.u64(at + 0x30), r.u64(at + 0x38)};
        }
        return new long[] {r.u32(at), r.u32(at + 4), r.u32(at + 8), r.u32(at + 0xc), r.u32(at + 0x10),
                r.u32(at + 0x14), r.u32(at + 0x18), r.u32(at + 0x1c), r.u32(at + 0x20), r.u32(at + 0x24)};
    }

    private static List<ProgramHeader> readSegments(ElfReader r, long phoff, int phentsize, int phnum) {
        List<ProgramHeader> out = new ArrayList<>(phnum);
        for (int i = 0; i < phnum; i++) {
            long at = phoff + (long) i * phentsize;
            ProgramHeader p;
            if (r.is64()) {
                p = new ProgramHeader(i, (int) r.u32(at), (int) r.u32(at + 4), r.u64(at + 8), r.u64(at + 0x10),
                        r.u64(at + 0x18), r.u64(at + 0x20), r.u64(at + 0x28), r.u64(at + 0x30));
            } else {
                p = new ProgramHeader(i, (int) r.u32(at), (int) r.u32(at + 0x18), r.u32(at + 4), r.u32(at + 8),
                        r.u32(at + 0xc), r.u32(at + 0x10), r.u32(at + 0x14), r.u32(at + 0x1c));
            }
            if (p.filesz() != 0 && p.type() != PT_NULL) {
                r.checkRange("p_offset of program header " + i, at + (r.is64() ? 8 : 4), p.offset(), p.filesz());
            }
            out.add(p);
        }
        return List.copyOf(out);
    }

    private static List<SectionHeader> readSections(ElfReader r, long shoff, int shentsize, int shnum, int shstrndx) {
        long[][] raw = new long[shnum][];
        for (int i = 0; i < shnum; i++) {
            long at = shoff + (long) i * shentsize;
            raw[i] = readShdr(r, at);
            int type = (int) raw[i][1];
            if (i != 0 && type != SHT_NOBITS && type != SHT_NULL) {
                r.checkRange("sh_offset of section " + i, at + (r.is64() ? 0x18 : 0x10), raw[i][4], raw[i][5]);
            }
        }
        StringTable names = null;
        if (shstrndx != SHN_UNDEF) {
            long[] s = raw[shstrndx];
            if (s[1] == SHT_NOBITS || s[1] == SHT_NULL) {
                throw new ElfFormatException("e_shstrndx " + shstrndx + " names section of type " + hex(s[1])
                        + " at offset " + hex(shoff + (long) shstrndx * shentsize) + ", which has no file data");
            }
            names = new StringTable(r, s[4], s[5], "the section name table (section " + shstrndx + ")");
        }
        List<SectionHeader> out = new ArrayList<>(shnum);
        for (int i = 0; i < shnum; i++) {
            long[] s = raw[i];
            String name = "";
            if (names != null && (i != 0 || s[0] != 0)) {
                try {
                    name = names.get(s[0]);
                } catch (ElfFormatException e) {
                    throw new ElfFormatException("sh_name " + hex(s[0]) + " of section " + i + " at offset "
                            + hex(shoff + (long) i * shentsize) + ": " + e.getMessage());
                }
            }
            out.add(new SectionHeader(i, name, s[0], (int) s[1], s[2], s[3], s[4], s[5], (int) s[6], (int) s[7],
                    s[8], s[9]));
        }
        return List.copyOf(out);
    }
}
