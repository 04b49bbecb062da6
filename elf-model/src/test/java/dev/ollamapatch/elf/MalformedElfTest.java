package dev.ollamapatch.elf;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Corrupt inputs must fail fast with {@link ElfFormatException} naming the bad field, never with
 * an IndexOutOfBounds, an OutOfMemoryError or a hang.
 */
class MalformedElfTest {
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /** Parses {@code image} and touches every lazily parsed view, the way `inspect` and `scan` do. */
    private static void parseFully(byte[] image) {
        ElfFile elf = ElfFile.parse(ByteSource.of(image));
        elf.dynamic();
        elf.dynamicSymbols();
        elf.symbols();
        elf.relocations();
        elf.relativeRelocations();
        elf.versionNeeds();
        elf.notes();
        elf.sections().forEach(elf::sectionData);
    }

    private static ElfFormatException fails(byte[] image, String... fieldNames) {
        ElfFormatException e = assertTimeoutPreemptively(Duration.ofSeconds(5),
                () -> assertThrows(ElfFormatException.class, () -> parseFully(image)));
        for (String f : fieldNames) {
            assertTrue(e.getMessage().contains(f), () -> "message should name " + f + ": " + e.getMessage());
        }
        assertFalse(e.getMessage().contains("\n"), "one line");
        return e;
    }

    private static byte[] corrupt(boolean is64, ByteOrder order, Consumer<Patch> how) {
        ElfImageBuilder b = new ElfImageBuilder(is64, order);
        byte[] image = b.build();
        how.accept(new Patch(image, b.layout()));
        return image;
    }

    /** A field writer that knows the layout of the image being corrupted. */
    record Patch(byte[] image, ElfImageBuilder.Layout l) {
        void ehdr(String field, long v) {
            int width = field.equals("e_phoff") || field.equals("e_shoff") ? (l.is64() ? 8 : 4) : 2;
            ElfImageBuilder.put(image, l.order(), l.ehdrField(field), width, v);
        }

        void shdr(int index, String field, long v) {
            boolean wide = l.is64() && !field.equals("sh_name") && !field.equals("sh_type")
                    && !field.equals("sh_link") && !field.equals("sh_info");
            ElfImageBuilder.put(image, l.order(), l.shdrField(index, field), wide ? 8 : 4, v);
        }
    }

    @Test
    void emptyAndNonElfFilesAreRejectedByMagic() {
        fails(new byte[0], "not an ELF file", "bad magic");
        fails("#!/bin/sh\necho hi\n".getBytes(StandardCharsets.US_ASCII), "not an ELF file", "bad magic");
        fails(new byte[] {0x7f, 'E', 'L'}, "not an ELF file");
    }

    @Test
    void badClassAndDataAreRejected() {
        fails(corrupt(true, LE, p -> p.image()[4] = 3), "EI_CLASS");
        fails(corrupt(true, LE, p -> p.image()[5] = 0), "EI_DATA");
    }

    @Test
    void truncationAtEveryHeaderBoundaryIsReported() {
        for (boolean is64 : new boolean[] {true, false}) {
            for (ByteOrder order : new ByteOrder[] {LE, ByteOrder.BIG_ENDIAN}) {
                ElfImageBuilder b = new ElfImageBuilder(is64, order);
                byte[] image = b.build();
                ElfImageBuilder.Layout l = b.layout();
                int ehsize = is64 ? 64 : 52;
                fails(Arrays.copyOf(image, 16), "ELF header");
                fails(Arrays.copyOf(image, ehsize - 1), "ELF header");
                for (int i = 0; i < 3; i++) { // inside each program header: e_phoff range no longer fits
                    fails(Arrays.copyOf(image, (int) l.phdr(i) + 1), "e_phoff");
                }
                for (int i = 0; i < 8; i++) { // inside each section header
                    fails(Arrays.copyOf(image, (int) l.shdr(i) + 3), "e_shoff");
                }
                // Inside .dynstr: sections behind the cut are checked first, so the header table is what is named.
                long dynstr = l.section(".dynstr");
                fails(Arrays.copyOf(image, (int) dynstr + 5), "e_shoff");
            }
        }
    }

    @Test
    void sectionDataPastTheEndIsReported() {
        // .dynstr (section 1) claims more bytes than the file has: named by sh_offset/size of section 1.
        fails(corrupt(true, LE, p -> p.shdr(1, "sh_size", 0x7fff_ffff_0000L)), "sh_offset of section 1", "size");
        fails(corrupt(false, LE, p -> p.shdr(1, "sh_offset", 0xffff_ff00L)), "sh_offset of section 1", "past the end");
        // offset + size overflowing 64 bits must not wrap around into range
        fails(corrupt(true, LE, p -> {
            p.shdr(3, "sh_offset", 0x10);
            p.shdr(3, "sh_size", -0x8L);
        }), "sh_offset of section 3");
    }

    @Test
    void hugeCountsAreReportedWithoutAllocating() {
        fails(corrupt(true, LE, p -> p.ehdr("e_phnum", 0xfffe)), "e_phoff");
        fails(corrupt(true, LE, p -> p.ehdr("e_shnum", 0xfeff)), "e_shoff");
        fails(corrupt(false, ByteOrder.BIG_ENDIAN, p -> p.ehdr("e_shoff", 0x9999_9999L)), "e_shoff", "past the end");
        fails(corrupt(true, LE, p -> p.ehdr("e_phoff", -1)), "e_phoff");
        fails(corrupt(true, LE, p -> p.ehdr("e_shentsize", 8)), "e_shentsize");
        fails(corrupt(true, LE, p -> p.ehdr("e_phentsize", 0)), "e_phentsize");
        fails(corrupt(true, LE, p -> p.ehdr("e_shstrndx", 40)), "e_shstrndx");
    }

    @Test
    void stringIndexPastItsTableIsReported() {
        // A section name beyond .shstrtab
        fails(corrupt(true, LE, p -> p.shdr(2, "sh_name", 0x5000)), "sh_name", "past the end of");
        // A DT_NEEDED value beyond .dynstr
        fails(corrupt(true, ByteOrder.BIG_ENDIAN, p -> ElfImageBuilder.put(p.image(), p.l().order(),
                p.l().section(".dynamic") + 8, 8, 0x7000)), "DT_NEEDED", "string index");
        // A symbol name beyond .dynstr
        fails(corrupt(false, LE, p -> ElfImageBuilder.put(p.image(), LE, p.l().section(".dynsym") + 16, 4, 0x7000)),
                "st_name");
    }

    @Test
    void aStringWithoutTerminatingNulIsReported() {
        // Shrink .dynstr so that its last string ("GLIBC_2.2.5") loses its NUL, then reference it.
        fails(corrupt(true, LE, p -> {
            long dynstrSize = p.l().sections().get(".dynstr")[1];
            p.shdr(1, "sh_size", dynstrSize - 1);
            ElfImageBuilder.put(p.image(), LE, p.l().section(".dynamic") + 8 * 9, 8, dynstrSize - 1); // DT_STRSZ
            ElfImageBuilder.put(p.image(), LE, p.l().section(".dynamic") + 8, 8, p.l().dynstr().get("GLIBC_2.2.5"));
        }), "NUL");
    }

    @Test
    void aSectionLinkingToItselfIsReported() {
        fails(corrupt(true, LE, p -> p.shdr(2, "sh_link", 2)), "sh_link", "itself");
        fails(corrupt(true, LE, p -> p.shdr(2, "sh_link", 99)), "sh_link");
        fails(corrupt(true, LE, p -> p.shdr(2, "sh_link", 6)), "sh_link", "not STRTAB");
    }

    @Test
    void badEntrySizesAreReported() {
        fails(corrupt(true, LE, p -> p.shdr(2, "sh_entsize", 3)), "sh_entsize");
        fails(corrupt(true, LE, p -> p.shdr(5, "sh_entsize", 8)), "entry size");
    }

    @Test
    void extendedNumberingWithABogusSectionZeroIsReported() {
        for (boolean is64 : new boolean[] {true, false}) {
            byte[] base = new ElfImageBuilder(is64, LE).extendedNumbering().build();
            ElfImageBuilder b = new ElfImageBuilder(is64, LE).extendedNumbering();
            b.build();
            ElfImageBuilder.Layout l = b.layout();
            Patch p = new Patch(base.clone(), l);
            p.shdr(0, "sh_size", 0x10000);
            fails(p.image(), "e_shoff");
            p = new Patch(base.clone(), l);
            p.shdr(0, "sh_size", is64 ? 0x7fff_ffff_ffffL : 0xffff_ffffL);
            fails(p.image(), "sh_size of section 0");
            p = new Patch(base.clone(), l);
            p.shdr(0, "sh_link", 500);
            fails(p.image(), "sh_link of section 0", "e_shstrndx");
            p = new Patch(base.clone(), l);
            p.shdr(0, "sh_info", 0xffff_fff0L);
            fails(p.image(), "sh_info of section 0", "e_phnum");
            p = new Patch(base.clone(), l);
            p.shdr(0, "sh_info", 60000);
            fails(p.image(), "e_phoff");
        }
    }

    @Test
    void extendedPhnumWithoutSectionsIsReported() {
        fails(corrupt(true, LE, p -> {
            p.ehdr("e_phnum", 0xffff);
            p.ehdr("e_shoff", 0);
        }), "e_phnum", "PN_XNUM");
    }

    @Test
    void aDynamicTableOutsideTheFileIsReported() {
        // With no sections, PT_DYNAMIC is used: point it past the end.
        fails(corrupt(true, LE, p -> {
            p.ehdr("e_shoff", 0);
            p.ehdr("e_shnum", 0);
            p.ehdr("e_shstrndx", 0);
            ElfImageBuilder.put(p.image(), LE, p.l().phdr(1) + 8, 8, 0x7fff_0000L);
        }), "p_offset of program header 1");
    }

    @Test
    void everySingleByteCorruptionOfTheHeadersFailsCleanly() {
        // Fuzz: flip each byte of the ELF header, program and section headers; only ElfFormatException may escape.
        for (boolean is64 : new boolean[] {true, false}) {
            ElfImageBuilder b = new ElfImageBuilder(is64, ByteOrder.BIG_ENDIAN);
            byte[] good = b.build();
            int shEnd = (int) b.layout().shdr(8);
            for (int i = 0; i < good.length; i++) {
                boolean header = i < b.layout().phdr(3) || i >= b.layout().shdr(0) && i < shEnd;
                if (!header && i % 3 != 0) {
                    continue; // keep it fast: headers fully, data sampled
                }
                for (int v : new int[] {0x00, 0xff, 0x80, 0x7f}) {
                    byte[] image = good.clone();
                    image[i] = (byte) v;
                    Executable parse = () -> {
                        try {
                            parseFully(image);
                        } catch (ElfFormatException expected) {
                            assertFalse(expected.getMessage().isBlank());
                        }
                    };
                    assertDoesNotThrow(parse, "byte " + i + " = " + v);
                }
            }
        }
    }
}
