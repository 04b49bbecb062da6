package dev.ollamapatch.elf;

import java.util.Map;

/**
 * Spec names without their prefix (PT_LOAD -> "LOAD") for printing, or "0x..." for values this
 * table does not know, so that output never loses information. Processor-specific values
 * (0x70000000 and up) mean different things per machine, so they always print as hex.
 */
public final class ElfNames {
    private ElfNames() {
    }

    private static final Map<Integer, String> MACHINES = Map.ofEntries(
            Map.entry(0, "none"), Map.entry(2, "sparc"), Map.entry(3, "i386"), Map.entry(4, "m68k"),
            Map.entry(8, "mips"), Map.entry(20, "ppc"), Map.entry(21, "ppc64"), Map.entry(22, "s390"),
            Map.entry(40, "arm"), Map.entry(42, "sh"), Map.entry(43, "sparcv9"), Map.entry(50, "ia64"),
            Map.entry(62, "x86_64"), Map.entry(183, "aarch64"), Map.entry(243, "riscv"), Map.entry(247, "bpf"),
            Map.entry(258, "loongarch"));

    private static final Map<Integer, String> FILE_TYPES = Map.of(0, "NONE", 1, "REL", 2, "EXEC", 3, "DYN", 4, "CORE");

    private static final Map<Integer, String> PROGRAM_TYPES = Map.ofEntries(
            Map.entry(0, "NULL"), Map.entry(1, "LOAD"), Map.entry(2, "DYNAMIC"), Map.entry(3, "INTERP"),
            Map.entry(4, "NOTE"), Map.entry(5, "SHLIB"), Map.entry(6, "PHDR"), Map.entry(7, "TLS"),
            Map.entry(0x6474e550, "GNU_EH_FRAME"), Map.entry(0x6474e551, "GNU_STACK"),
            Map.entry(0x6474e552, "GNU_RELRO"), Map.entry(0x6474e553, "GNU_PROPERTY"),
            Map.entry(0x6474e554, "GNU_SFRAME"), Map.entry(0x65041580, "PAX_FLAGS"),
            Map.entry(0x65a3dbe6, "OPENBSD_RANDOMIZE"), Map.entry(0x65a3dbe7, "OPENBSD_WXNEEDED"));

    private static final Map<Integer, String> SECTION_TYPES = Map.ofEntries(
            Map.entry(0, "NULL"), Map.entry(1, "PROGBITS"), Map.entry(2, "SYMTAB"), Map.entry(3, "STRTAB"),
            Map.entry(4, "RELA"), Map.entry(5, "HASH"), Map.entry(6, "DYNAMIC"), Map.entry(7, "NOTE"),
            Map.entry(8, "NOBITS"), Map.entry(9, "REL"), Map.entry(10, "SHLIB"), Map.entry(11, "DYNSYM"),
            Map.entry(14, "INIT_ARRAY"), Map.entry(15, "FINI_ARRAY"), Map.entry(16, "PREINIT_ARRAY"),
            Map.entry(17, "GROUP"), Map.entry(18, "SYMTAB_SHNDX"), Map.entry(19, "RELR"),
            Map.entry(0x6fff4c00, "LLVM_ODRTAB"), Map.entry(0x6fff4c01, "LLVM_LINKER_OPTIONS"),
            Map.entry(0x6fff4c03, "LLVM_ADDRSIG"), Map.entry(0x6fff4c04, "LLVM_DEPENDENT_LIBRARIES"),
            Map.entry(0x6ffffff5, "GNU_ATTRIBUTES"), Map.entry(0x6ffffff6, "GNU_HASH"),
            Map.entry(0x6ffffff7, "GNU_LIBLIST"), Map.entry(0x6ffffff8, "CHECKSUM"),
            Map.entry(0x6ffffffd, "GNU_verdef"), Map.entry(0x6ffffffe, "GNU_verneed"),
            Map.entry(0x6fffffff, "GNU_versym"));

    private static final Map<Long, String> DYNAMIC_TAGS = Map.ofEntries(
            Map.entry(0L, "NULL"), Map.entry(1L, "NEEDED"), Map.entry(2L, "PLTRELSZ"), Map.entry(3L, "PLTGOT"),
            Map.entry(4L, "HASH"), Map.entry(5L, "STRTAB"), Map.entry(6L, "SYMTAB"), Map.entry(7L, "RELA"),
            Map.entry(8L, "RELASZ"), Map.entry(9L, "RELAENT"), Map.entry(10L, "STRSZ"), Map.entry(11L, "SYMENT"),
            Map.entry(12L, "INIT"), Map.entry(13L, "FINI"), Map.entry(14L, "SONAME"), Map.entry(15L, "RPATH"),
            Map.entry(16L, "SYMBOLIC"), Map.entry(17L, "REL"), Map.entry(18L, "RELSZ"), Map.entry(19L, "RELENT"),
            Map.entry(20L, "PLTREL"), Map.entry(21L, "DEBUG"), Map.entry(22L, "TEXTREL"), Map.entry(23L, "JMPREL"),
            Map.entry(24L, "BIND_NOW"), Map.entry(25L, "INIT_ARRAY"), Map.entry(26L, "FINI_ARRAY"),
            Map.entry(27L, "INIT_ARRAYSZ"), Map.entry(28L, "FINI_ARRAYSZ"), Map.entry(29L, "RUNPATH"),
            Map.entry(30L, "FLAGS"), Map.entry(32L, "PREINIT_ARRAY"), Map.entry(33L, "PREINIT_ARRAYSZ"),
            Map.entry(34L, "SYMTAB_SHNDX"), Map.entry(35L, "RELRSZ"), Map.entry(36L, "RELR"),
            Map.entry(37L, "RELRENT"), Map.entry(0x6000000fL, "ANDROID_REL"), Map.entry(0x6ffffdf4L, "GNU_FLAGS_1"),
            Map.entry(0x6ffffdf5L, "GNU_PRELINKED"), Map.entry(0x6ffffdf6L, "GNU_CONFLICTSZ"),
            Map.entry(0x6ffffdf7L, "GNU_LIBLISTSZ"), Map.entry(0x6ffffdf8L, "CHECKSUM"),
            Map.entry(0x6ffffdf9L, "PLTPADSZ"), Map.entry(0x6ffffdfaL, "MOVEENT"), Map.entry(0x6ffffdfbL, "MOVESZ"),
            Map.entry(0x6ffffdfcL, "FEATURE"), Map.entry(0x6ffffdfdL, "POSFLAG_1"), Map.entry(0x6ffffdfeL, "SYMINSZ"),
            Map.entry(0x6ffffdffL, "SYMINENT"), Map.entry(0x6ffffef5L, "GNU_HASH"), Map.entry(0x6ffffef6L, "TLSDESC_PLT"),
            Map.entry(0x6ffffef7L, "TLSDESC_GOT"), Map.entry(0x6ffffef8L, "GNU_CONFLICT"),
            Map.entry(0x6ffffef9L, "GNU_LIBLIST"), Map.entry(0x6ffffefaL, "CONFIG"), Map.entry(0x6ffffefbL, "DEPAUDIT"),
            Map.entry(0x6ffffefcL, "AUDIT"), Map.entry(0x6ffffefdL, "PLTPAD"), Map.entry(0x6ffffefeL, "MOVETAB"),
            Map.entry(0x6ffffeffL, "SYMINFO"), Map.entry(0x6ffffff0L, "VERSYM"), Map.entry(0x6ffffff9L, "RELACOUNT"),
            Map.entry(0x6ffffffaL, "RELCOUNT"), Map.entry(0x6ffffffbL, "FLAGS_1"), Map.entry(0x6ffffffcL, "VERDEF"),
            Map.entry(0x6ffffffdL, "VERDEFNUM"), Map.entry(0x6ffffffeL, "VERNEED"), Map.entry(0x6fffffffL, "VERNEEDNUM"),
            Map.entry(0x7ffffffdL, "AUXILIARY"), Map.entry(0x7ffffffeL, "USED"), Map.entry(0x7fffffffL, "FILTER"));

    public static String machine(int v) {
        return MACHINES.getOrDefault(v, hex(v));
    }

    public static String fileType(int v) {
        return FILE_TYPES.getOrDefault(v, hex(v));
    }

    public static String programType(int v) {
        return PROGRAM_TYPES.getOrDefault(v, hex(v));
    }

    public static String sectionType(int v) {
        return SECTION_TYPES.getOrDefault(v, hex(v));
    }

    public static String dynamicTag(long v) {
        return DYNAMIC_TAGS.getOrDefault(v, "0x" + Long.toHexString(v));
    }

    /** Three columns "RWE" with blanks for clear bits, as readelf prints them ("R E", "RW "). */
    public static String segmentFlags(int flags) {
        return ((flags & ElfConstants.PF_R) != 0 ? "R" : " ")
                + ((flags & ElfConstants.PF_W) != 0 ? "W" : " ")
                + ((flags & ElfConstants.PF_X) != 0 ? "E" : " ");
    }

    private static String hex(int v) {
        return "0x" + Integer.toHexString(v);
    }
}
