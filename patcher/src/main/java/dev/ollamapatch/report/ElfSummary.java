package dev.ollamapatch.report;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ollamapatch.elf.DynamicEntry;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfHeader;
import dev.ollamapatch.elf.ElfNames;
import dev.ollamapatch.elf.ProgramHeader;
import dev.ollamapatch.elf.SectionHeader;

import java.io.PrintWriter;
import java.math.BigInteger;
import java.nio.ByteOrder;

/**
 * The ELF summary of {@code inspect}: header, segments, sections and dynamic entries, in the manner
 * of readelf or as the JSON of DESIGN.md section 5.
 */
public final class ElfSummary {
    private ElfSummary() {}

    /** The document of DESIGN.md section 5; numbers are unsigned integers, unknown names hex strings. */
    public static ObjectNode json(ElfFile elf) {
        ElfHeader h = elf.header();
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("class", h.elfClass());
        root.put("data", h.data() == ByteOrder.LITTLE_ENDIAN ? "little" : "big");
        root.put("machine", ElfNames.machine(h.machine()));
        root.put("type", ElfNames.fileType(h.type()));
        unsigned(root, "entry", h.entry());
        ArrayNode segments = root.putArray("segments");
        for (ProgramHeader p : elf.programHeaders()) {
            ObjectNode s = segments.addObject();
            s.put("type", ElfNames.programType(p.type()));
            unsigned(s, "offset", p.offset());
            unsigned(s, "vaddr", p.vaddr());
            unsigned(s, "paddr", p.paddr());
            unsigned(s, "filesz", p.filesz());
            unsigned(s, "memsz", p.memsz());
            s.put("flags", ElfNames.segmentFlags(p.flags()));
            unsigned(s, "align", p.align());
        }
        ArrayNode sections = root.putArray("sections");
        for (SectionHeader sh : elf.sections()) {
            ObjectNode s = sections.addObject();
            s.put("index", sh.index());
            s.put("name", sh.name());
            s.put("type", ElfNames.sectionType(sh.type()));
            unsigned(s, "addr", sh.addr());
            unsigned(s, "offset", sh.offset());
            unsigned(s, "size", sh.size());
            unsigned(s, "flags", sh.flags());
            s.put("link", Integer.toUnsignedLong(sh.link()));
            s.put("info", Integer.toUnsignedLong(sh.info()));
            unsigned(s, "addralign", sh.addralign());
            unsigned(s, "entsize", sh.entsize());
        }
        ArrayNode dynamic = root.putArray("dynamic");
        for (DynamicEntry d : elf.dynamic()) {
            ObjectNode e = dynamic.addObject();
            e.put("tag", ElfNames.dynamicTag(d.tag()));
            if (d.string() != null) {
                e.put("value", d.string());
            } else {
                unsigned(e, "value", d.value());
            }
        }
        return root;
    }

    /** ELF fields are unsigned; a Java long with the top bit set must not print as negative. */
    private static void unsigned(ObjectNode o, String field, long v) {
        if (v >= 0) {
            o.put(field, v);
        } else {
            o.put(field, new BigInteger(Long.toUnsignedString(v)));
        }
    }

    /** The readelf-like text. */
    public static String text(ElfFile elf) {
        java.io.StringWriter text = new java.io.StringWriter();
        try (PrintWriter w = new PrintWriter(text)) {
            printText(elf, w);
        }
        return text.toString();
    }

    private static void printText(ElfFile elf, PrintWriter out) {
        ElfHeader h = elf.header();
        int w = elf.is64() ? 16 : 8;
        out.println("ELF Header:");
        out.printf("  Class:        ELF%d%n", h.elfClass());
        out.printf("  Data:         %s endian%n", h.data() == ByteOrder.LITTLE_ENDIAN ? "little" : "big");
        out.printf("  Type:         %s%n", ElfNames.fileType(h.type()));
        out.printf("  Machine:      %s%n", ElfNames.machine(h.machine()));
        out.printf("  Entry point:  0x%x%n", h.entry());
        out.printf("  Program headers: %d at offset %d; section headers: %d at offset %d; shstrndx %d%n",
                h.phnum(), h.phoff(), h.shnum(), h.shoff(), h.shstrndx());
        out.println();
        out.println("Program Headers:");
        out.printf("  %-14s %-8s %-" + (w + 2) + "s %-" + (w + 2) + "s %-8s %-8s %-3s %s%n",
                "Type", "Offset", "VirtAddr", "PhysAddr", "FileSiz", "MemSiz", "Flg", "Align");
        for (ProgramHeader p : elf.programHeaders()) {
            out.printf("  %-14s 0x%06x 0x%0" + w + "x 0x%0" + w + "x 0x%06x 0x%06x %s 0x%x%n",
                    ElfNames.programType(p.type()), p.offset(), p.vaddr(), p.paddr(), p.filesz(), p.memsz(),
                    ElfNames.segmentFlags(p.flags()), p.align());
        }
        out.println();
        out.println("Section Headers:");
        out.printf("  [Nr] %-17s %-15s %-" + w + "s %-6s %-6s %-2s %5s %2s %3s %2s%n",
                "Name", "Type", "Address", "Off", "Size", "ES", "Flg", "Lk", "Inf", "Al");
        for (SectionHeader s : elf.sections()) {
            out.printf("  [%2d] %-17s %-15s %0" + w + "x %06x %06x %02x %5s %2d %3d %2d%n", s.index(), s.name(),
                    ElfNames.sectionType(s.type()), s.addr(), s.offset(), s.size(), s.entsize(), flags(s.flags()),
                    s.link(), s.info(), s.addralign());
        }
        out.println();
        if (elf.dynamic().isEmpty()) {
            out.println("There is no dynamic section in this file.");
            return;
        }
        out.printf("Dynamic section contains %d entries:%n", elf.dynamic().size());
        out.printf("  %-" + (w + 2) + "s %-20s %s%n", "Tag", "Type", "Name/Value");
        for (DynamicEntry d : elf.dynamic()) {
            out.printf("  0x%0" + w + "x %-20s %s%n", d.tag(), "(" + ElfNames.dynamicTag(d.tag()) + ")",
                    d.string() != null ? "[" + d.string() + "]" : "0x" + Long.toHexString(d.value()));
        }
    }

    /** readelf's letters for the common section flags. */
    private static String flags(long f) {
        String letters = "WAXMSILOGTC";
        long[] bits = {0x1, 0x2, 0x4, 0x10, 0x20, 0x40, 0x80, 0x100, 0x200, 0x400, 0x800};
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < bits.length; i++) {
            if ((f & bits[i]) != 0) {
                b.append(letters.charAt(i));
            }
        }
        return b.toString();
    }
}
