package dev.ollamapatch.elf;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds small but complete ELF shared objects in either class and byte order, so tests can
 * exercise ELF32 and big-endian parsing without cross toolchains, and corrupt precise fields.
 *
 * <p>Layout: ELF header, program headers (LOAD covering the file, DYNAMIC, NOTE), then the
 * sections .dynstr .dynsym .dynamic .note.gnu.build-id .rela.dyn .data .shstrtab, then the section
 * header table. Everything is loaded at {@link #BASE} + file offset.
 */
final class ElfImageBuilder {
    static final long BASE = 0x10000;
    static final String[] SECTION_NAMES = {"", ".dynstr", ".dynsym", ".dynamic", ".note.gnu.build-id", ".rela.dyn",
            ".data", ".shstrtab"};
    static final byte[] BUILD_ID = {(byte) 0xde, (byte) 0xad, (byte) 0xbe, (byte) 0xef, 1, 2, 3, 4};

    private final boolean is64;
    private final ByteOrder order;
    private int machine;
    private boolean extendedNumbering;

    /** Where things ended up in the last image built. */
    record Layout(boolean is64, ByteOrder order, long phoff, long shoff, int shentsize, int phentsize,
                  Map<String, long[]> sections /* name -> {offset, size} */, Map<String, Long> dynstr) {
        long shdr(int index) {
            return shoff + (long) index * shentsize;
        }

        long phdr(int index) {
            return phoff + (long) index * phentsize;
        }

        /** File offset of a section header field, by spec name. */
        long shdrField(int index, String field) {
            String[] f64 = {"sh_name", "sh_type", "sh_flags", "sh_addr", "sh_offset", "sh_size", "sh_link", "sh_info",
                    "sh_addralign", "sh_entsize"};
            int[] o64 = {0, 4, 8, 0x10, 0x18, 0x20, 0x28, 0x2c, 0x30, 0x38};
            int[] o32 = {0, 4, 8, 0xc, 0x10, 0x14, 0x18, 0x1c, 0x20, 0x24};
            for (int i = 0; i < f64.length; i++) {
                if (f64[i].equals(field)) {
                    return shdr(index) + (is64 ? o64[i] : o32[i]);
                }
            }
            throw new IllegalArgumentException(field);
        }

        /** File offset of an ELF header field, by spec name. */
        long ehdrField(String field) {
            int w = is64 ? 8 : 4;
            switch (field) {
                case "e_phoff": return 24 + w;
                case "e_shoff": return 24 + 2 * w;
                case "e_phentsize": return 24 + 3 * w + 6;
                case "e_phnum": return 24 + 3 * w + 8;
                case "e_shentsize": return 24 + 3 * w + 10;
                case "e_shnum": return 24 + 3 * w + 12;
                case "e_shstrndx": return 24 + 3 * w + 14;
                default: throw new IllegalArgumentException(field);
            }
        }

        long section(String name) {
            return sections.get(name)[0];
        }
    }

    private Layout layout;

    ElfImageBuilder(boolean is64, ByteOrder order) {
        this.is64 = is64;
        this.order = order;
        this.machine = is64 ? (order == ByteOrder.BIG_ENDIAN ? ElfConstants.EM_PPC64 : ElfConstants.EM_X86_64)
                : (order == ByteOrder.BIG_ENDIAN ? ElfConstants.EM_PPC : ElfConstants.EM_386);
    }

    ElfImageBuilder machine(int m) {
        this.machine = m;
        return this;
    }

    /** Store e_shnum = 0, e_shstrndx = SHN_XINDEX, e_phnum = PN_XNUM and the real values in section 0. */
    ElfImageBuilder extendedNumbering() {
        this.extendedNumbering = true;
        return this;
    }

    Layout layout() {
        return layout;
    }

    byte[] build() {
        int w = is64 ? 8 : 4;
        int ehsize = is64 ? 64 : 52, phentsize = is64 ? 56 : 32, shentsize = is64 ? 64 : 40;
        int phnum = 3;
        Out out = new Out(order);
        out.skip(ehsize + phnum * phentsize);

        Map<String, long[]> secs = new LinkedHashMap<>();
        // .dynstr
        Map<String, Long> str = new LinkedHashMap<>();
        ByteArrayOutputStream ds = new ByteArrayOutputStream();
        ds.write(0);
        for (String s : new String[] {"libc.so.6", "libnvidia-ml.so.1", "libexample.so", "example_fn", "GLIBC_2.2.5"}) {
            str.put(s, (long) ds.size());
            ds.writeBytes(s.getBytes(StandardCharsets.US_ASCII));
            ds.write(0);
        }
        long dynstrOff = out.align(8).pos();
        out.bytes(ds.toByteArray());
        secs.put(".dynstr", new long[] {dynstrOff, ds.size()});
        // .dynsym: the null symbol, then one global function
        long dynsymOff = out.align(8).pos();
        int symEnt = is64 ? 24 : 16;
        out.skip(symEnt);
        if (is64) {
            out.u32(str.get("example_fn")).u8(0x12).u8(0).u16(7).u64(BASE + 0x1234).u64(16);
        } else {
            out.u32(str.get("example_fn")).u32(BASE + 0x1234).u32(16).u8(0x12).u8(0).u16(7);
        }
        secs.put(".dynsym", new long[] {dynsymOff, 2L * symEnt});
        // .dynamic
        long dynOff = out.align(8).pos();
        long[][] dyn = {{1, str.get("libc.so.6")}, {1, str.get("libnvidia-ml.so.1")}, {14, str.get("libexample.so")},
                {5, BASE + dynstrOff}, {10, ds.size()}, {6, BASE + dynsymOff}, {11, symEnt},
                {7, 0 /* DT_RELA, patched below */}, {8, 3L * 3 * w}, {9, 3L * w}, {0, 0}};
        for (long[] e : dyn) {
            out.word(is64, e[0]).word(is64, e[1]);
        }
        secs.put(".dynamic", new long[] {dynOff, (long) dyn.length * 2 * w});
        // .note.gnu.build-id
        long noteOff = out.align(4).pos();
        out.u32(4).u32(BUILD_ID.length).u32(3).bytes("GNU\0".getBytes(StandardCharsets.US_ASCII)).bytes(BUILD_ID);
        secs.put(".note.gnu.build-id", new long[] {noteOff, out.pos() - noteOff});
        // .data: two words that the RELATIVE relocations fix up; their in-place values differ from the addends
        long dataOff = out.align(8).pos() + 3L * (is64 ? 24 : 12) + 8; // placed after .rela.dyn, computed ahead
        long relaOff = out.pos();
        int rtype = (int) ElfConstants.relativeRelocationType(machine);
        long[][] relas = {{BASE + dataOff + w, BASE + dynstrOff + str.get("libnvidia-ml.so.1")},
                {BASE + dataOff, BASE + dynstrOff + str.get("libc.so.6")}, {BASE + dataOff + 2L * w, 0}};
        for (int i = 0; i < relas.length; i++) {
            long info = i == 2 ? (is64 ? (1L << 32) | 1 : (1 << 8) | 1) : rtype; // the last is not RELATIVE
            out.word(is64, relas[i][0]).word(is64, info).word(is64, relas[i][1]);
        }
        secs.put(".rela.dyn", new long[] {relaOff, out.pos() - relaOff});
        long afterRela = out.pos();
        out.seek(dynOff + 7L * 2 * w + w).word(is64, BASE + relaOff).seek(afterRela);
        out.align(8);
        while (out.pos() < dataOff) {
            out.u8(0);
        }
        out.word(is64, 0x1111).word(is64, 0x2222).word(is64, 0x3333);
        secs.put(".data", new long[] {dataOff, 3L * w});
        // .shstrtab
        ByteArrayOutputStream ss = new ByteArrayOutputStream();
        List<Long> nameIdx = new ArrayList<>();
        for (String n : SECTION_NAMES) {
            if (n.isEmpty()) {
                nameIdx.add(0L);
                if (ss.size() == 0) {
                    ss.write(0);
                }
                continue;
            }
            nameIdx.add((long) ss.size());
            ss.writeBytes(n.getBytes(StandardCharsets.US_ASCII));
            ss.write(0);
        }
        long shstrOff = out.pos();
        out.bytes(ss.toByteArray());
        secs.put(".shstrtab", new long[] {shstrOff, ss.size()});
        // section headers
        long shoff = out.align(8).pos();
        int shnum = SECTION_NAMES.length, shstrndx = shnum - 1;
        // name, type, flags, link, info, align, entsize
        long[][] meta = {{0, 0, 0, 0, 0, 0, 0}, {0, 3, 2, 0, 0, 1, 0}, {0, 11, 2, 1, 1, 8, symEnt},
                {0, 6, 3, 1, 0, 8, 2L * w}, {0, 7, 2, 0, 0, 4, 0}, {0, 4, 2, 2, 0, 8, 3L * w},
                {0, 1, 3, 0, 0, 8, 0}, {0, 3, 0, 0, 0, 1, 0}};
        for (int i = 0; i < shnum; i++) {
            long[] m = meta[i];
            long off = i == 0 ? 0 : secs.get(SECTION_NAMES[i])[0];
            long size = i == 0 ? (extendedNumbering ? shnum : 0) : secs.get(SECTION_NAMES[i])[1];
            long link = i == 0 ? (extendedNumbering ? shstrndx : 0) : m[3];
            long info = i == 0 ? (extendedNumbering ? phnum : 0) : m[4];
            long addr = (m[2] & 2) != 0 ? BASE + off : 0;
            out.u32(nameIdx.get(i)).u32(m[1]);
            if (is64) {
                out.u64(m[2]).u64(addr).u64(off).u64(size).u32(link).u32(info).u64(m[5]).u64(m[6]);
            } else {
                out.u32(m[2]).u32(addr).u32(off).u32(size).u32(link).u32(info).u32(m[5]).u32(m[6]);
            }
        }
        long end = out.pos();
        // program headers
        long phoff = ehsize;
        out.seek(phoff);
        phdr(out, 1, 6, 0, BASE, end, 0x1000);            // PT_LOAD RW over the whole file
        phdr(out, 2, 6, dynOff, BASE + dynOff, secs.get(".dynamic")[1], 8);
        phdr(out, 4, 4, noteOff, BASE + noteOff, secs.get(".note.gnu.build-id")[1], 4);
        // ELF header
        out.seek(0);
        out.bytes(new byte[] {0x7f, 'E', 'L', 'F', (byte) (is64 ? 2 : 1), (byte) (order == ByteOrder.LITTLE_ENDIAN ? 1 : 2), 1, 0});
        out.seek(16);
        out.u16(3).u16(machine).u32(1).word(is64, 0).word(is64, phoff).word(is64, shoff).u32(0)
                .u16(ehsize).u16(phentsize).u16(extendedNumbering ? 0xffff : phnum).u16(shentsize)
                .u16(extendedNumbering ? 0 : shnum).u16(extendedNumbering ? 0xffff : shstrndx);
        layout = new Layout(is64, order, phoff, shoff, shentsize, phentsize, secs, str);
        return out.toArray(end);
    }

    private void phdr(Out out, int type, int flags, long off, long vaddr, long size, long align) {
        if (is64) {
            out.u32(type).u32(flags).u64(off).u64(vaddr).u64(vaddr).u64(size).u64(size).u64(align);
        } else {
            out.u32(type).u32(off).u32(vaddr).u32(vaddr).u32(size).u32(size).u32(flags).u32(align);
        }
    }

    /** Patches a field of {@code width} bytes in {@code image} in the given byte order. */
    static void put(byte[] image, ByteOrder order, long at, int width, long value) {
        ByteBuffer b = ByteBuffer.wrap(image).order(order);
        switch (width) {
            case 1 -> b.put((int) at, (byte) value);
            case 2 -> b.putShort((int) at, (short) value);
            case 4 -> b.putInt((int) at, (int) value);
            case 8 -> b.putLong((int) at, value);
            default -> throw new IllegalArgumentException("width " + width);
        }
    }

    /** A growable little buffer with a write position, in a chosen byte order. */
    private static final class Out {
        private ByteBuffer buf = ByteBuffer.allocate(1 << 16);
        private int pos;
        private int max;

        Out(ByteOrder order) {
            buf.order(order);
        }

        long pos() {
            return pos;
        }

        Out seek(long p) {
            pos = (int) p;
            return this;
        }

        Out skip(int n) {
            pos += n;
            max = Math.max(max, pos);
            return this;
        }

        Out align(int a) {
            while (pos % a != 0) {
                u8(0);
            }
            return this;
        }

        Out u8(int v) {
            buf.put(pos, (byte) v);
            return skip(1);
        }

        Out u16(long v) {
            buf.putShort(pos, (short) v);
            return skip(2);
        }

        Out u32(long v) {
            buf.putInt(pos, (int) v);
            return skip(4);
        }

        Out u64(long v) {
            buf.putLong(pos, v);
            return skip(8);
        }

        Out word(boolean is64, long v) {
            return is64 ? u64(v) : u32(v);
        }

        Out bytes(byte[] b) {
            buf.put(pos, b);
            return skip(b.length);
        }

        byte[] toArray(long end) {
            byte[] a = new byte[(int) end];
            buf.get(0, a);
            return a;
        }
    }
}
