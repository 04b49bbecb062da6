package dev.ollamapatch.elf;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.ByteOrder;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Reading every view of a known image, in all four class/byte-order combinations. */
class ElfFileTest {

    static Stream<Arguments> flavours() {
        return Stream.of(Arguments.of(true, ByteOrder.LITTLE_ENDIAN), Arguments.of(true, ByteOrder.BIG_ENDIAN),
                Arguments.of(false, ByteOrder.LITTLE_ENDIAN), Arguments.of(false, ByteOrder.BIG_ENDIAN));
    }

    @ParameterizedTest(name = "ELF{0} {1}")
    @MethodSource("flavours")
    void readsEveryView(boolean is64, ByteOrder order) {
        ElfImageBuilder b = new ElfImageBuilder(is64, order);
        byte[] image = b.build();
        ElfImageBuilder.Layout l = b.layout();
        ElfFile elf = ElfFile.parse(ByteSource.of(image));

        assertEquals(is64, elf.is64());
        assertEquals(order, elf.byteOrder());
        assertEquals(ElfConstants.ET_DYN, elf.header().type());
        assertEquals(3, elf.header().phnum());
        assertEquals(8, elf.header().shnum());

        List<SectionHeader> s = elf.sections();
        assertEquals(List.of(ElfImageBuilder.SECTION_NAMES), s.stream().map(SectionHeader::name).toList());
        assertEquals(ElfConstants.SHT_NULL, s.get(0).type());
        SectionHeader dynstr = elf.section(".dynstr").orElseThrow();
        assertEquals(l.section(".dynstr"), dynstr.offset());
        assertTrue(dynstr.isAlloc());
        assertEquals(dynstr.size(), elf.sectionData(dynstr).remaining());
        assertEquals(order, elf.sectionData(dynstr).order());

        List<DynamicEntry> dyn = elf.dynamic();
        assertEquals(10, dyn.size(), "stops at DT_NULL");
        assertEquals("libc.so.6", dyn.get(0).string());
        DynamicEntry nvml = dyn.get(1);
        assertEquals("libnvidia-ml.so.1", nvml.string());
        assertEquals(l.section(".dynstr") + l.dynstr().get("libnvidia-ml.so.1"), nvml.stringFileOffset());
        assertEquals("libexample.so", dyn.get(2).string());
        assertNull(dyn.get(3).string());
        assertEquals(-1, dyn.get(3).stringFileOffset());
        assertEquals(l.section(".dynstr"), elf.dynamicStrings().orElseThrow().fileOffset());

        assertEquals(List.of("", "example_fn"), elf.dynamicSymbols().stream().map(Symbol::name).toList());
        Symbol fn = elf.dynamicSymbols().get(1);
        assertEquals(ElfImageBuilder.BASE + 0x1234, fn.value());
        assertEquals(1, fn.bind()); // STB_GLOBAL
        assertEquals(2, fn.type()); // STT_FUNC
        assertTrue(elf.symbols().isEmpty(), "no .symtab: stripped");

        assertEquals(3, elf.relocations().size());
        RelativeRelocations rel = elf.relativeRelocations();
        assertEquals(2, rel.size(), "the third relocation is not RELATIVE");
        assertTrue(rel.offsetAt(0) < rel.offsetAt(1), "sorted by place");
        long data = ElfImageBuilder.BASE + l.section(".data");
        int w = is64 ? 8 : 4;
        assertEquals(ElfImageBuilder.BASE + l.section(".dynstr") + l.dynstr().get("libc.so.6"), rel.targetAt(data).orElseThrow());
        assertEquals(ElfImageBuilder.BASE + l.section(".dynstr") + l.dynstr().get("libnvidia-ml.so.1"),
                rel.targetAt(data + w).orElseThrow());
        assertTrue(rel.targetAt(data + 2 * w).isEmpty());

        assertEquals("deadbeef01020304", elf.gnuBuildId().orElseThrow());
        assertTrue(elf.goBuildId().isEmpty());

        assertEquals(l.section(".data"), elf.fileOffsetOf(data).orElseThrow());
        assertEquals(data, elf.vaddrOf(l.section(".data")).orElseThrow());
        assertTrue(elf.fileOffsetOf(0x10).isEmpty());
        assertEquals(0x2222, elf.readWord(l.section(".data") + w));
        assertEquals(ElfConstants.SHT_DYNSYM, elf.readU32(l.shdrField(2, "sh_type")));
    }

    @ParameterizedTest(name = "ELF{0} {1}")
    @MethodSource("flavours")
    void resolvesExtendedNumbering(boolean is64, ByteOrder order) {
        byte[] image = new ElfImageBuilder(is64, order).extendedNumbering().build();
        ElfFile elf = ElfFile.parse(ByteSource.of(image));
        assertEquals(8, elf.header().shnum(), "e_shnum 0 -> sh_size of section 0");
        assertEquals(7, elf.header().shstrndx(), "SHN_XINDEX -> sh_link of section 0");
        assertEquals(3, elf.header().phnum(), "PN_XNUM -> sh_info of section 0");
        assertEquals(".shstrtab", elf.sections().get(7).name());
        assertEquals("libnvidia-ml.so.1", elf.dynamic().get(1).string());
    }

    @ParameterizedTest(name = "ELF{0} {1}")
    @MethodSource("flavours")
    void fallsBackToProgramHeadersWithoutSections(boolean is64, ByteOrder order) {
        ElfImageBuilder b = new ElfImageBuilder(is64, order);
        byte[] image = b.build();
        ElfImageBuilder.Layout l = b.layout();
        // What `strip --strip-section-headers` leaves: e_shoff, e_shnum and e_shstrndx all zero.
        ElfImageBuilder.put(image, order, l.ehdrField("e_shoff"), is64 ? 8 : 4, 0);
        ElfImageBuilder.put(image, order, l.ehdrField("e_shnum"), 2, 0);
        ElfImageBuilder.put(image, order, l.ehdrField("e_shstrndx"), 2, 0);
        ElfFile elf = ElfFile.parse(ByteSource.of(image));
        assertTrue(elf.sections().isEmpty());
        assertEquals("libnvidia-ml.so.1", elf.dynamic().get(1).string(), "PT_DYNAMIC + DT_STRTAB");
        assertEquals(2, elf.relativeRelocations().size(), "from DT_RELA/DT_RELASZ");
        assertEquals("deadbeef01020304", elf.gnuBuildId().orElseThrow(), "from PT_NOTE");
    }

    @ParameterizedTest(name = "ELF{0} {1}")
    @MethodSource("flavours")
    void namesFollowTheSpec(boolean is64, ByteOrder order) {
        ElfFile elf = ElfFile.parse(ByteSource.of(new ElfImageBuilder(is64, order).build()));
        assertEquals("DYN", ElfNames.fileType(elf.header().type()));
        assertEquals("LOAD", ElfNames.programType(elf.programHeaders().get(0).type()));
        assertEquals("RW ", ElfNames.segmentFlags(elf.programHeaders().get(0).flags()));
        assertEquals("DYNSYM", ElfNames.sectionType(elf.sections().get(2).type()));
        assertEquals("NEEDED", ElfNames.dynamicTag(elf.dynamic().get(0).tag()));
        assertEquals("0x6474e5ff", ElfNames.programType(0x6474e5ff));
        assertEquals("GNU_verneed", ElfNames.sectionType(ElfConstants.SHT_GNU_verneed));
        assertEquals("x86_64", ElfNames.machine(ElfConstants.EM_X86_64));
        assertEquals("R E", ElfNames.segmentFlags(5));
    }
}
