package dev.ollamapatch.elf;

/** Numeric values from the ELF specification and the GNU extensions, under their spec names. */
public final class ElfConstants {
    private ElfConstants() {
    }

    /** e_ident[EI_MAG0..EI_MAG3]: 0x7f 'E' 'L' 'F', SELFMAG bytes. */
    public static final byte ELFMAG0 = 0x7f, ELFMAG1 = 'E', ELFMAG2 = 'L', ELFMAG3 = 'F';
    public static final int SELFMAG = 4;

    /** Whether {@code ident} starts with the ELF magic. */
    public static boolean hasElfMagic(byte[] ident) {
        return ident.length >= SELFMAG && ident[0] == ELFMAG0 && ident[1] == ELFMAG1 && ident[2] == ELFMAG2
                && ident[3] == ELFMAG3;
    }

    public static final int ELFCLASS32 = 1, ELFCLASS64 = 2;
    public static final int ELFDATA2LSB = 1, ELFDATA2MSB = 2;

    public static final int ET_NONE = 0, ET_REL = 1, ET_EXEC = 2, ET_DYN = 3, ET_CORE = 4;

    public static final int EM_SPARC = 2, EM_386 = 3, EM_MIPS = 8, EM_PPC = 20, EM_PPC64 = 21, EM_S390 = 22,
            EM_ARM = 40, EM_SPARCV9 = 43, EM_IA_64 = 50, EM_X86_64 = 62, EM_AARCH64 = 183, EM_RISCV = 243,
            EM_LOONGARCH = 258;

    public static final int PN_XNUM = 0xffff;
    public static final int SHN_UNDEF = 0, SHN_LORESERVE = 0xff00, SHN_XINDEX = 0xffff;

    public static final int PT_NULL = 0, PT_LOAD = 1, PT_DYNAMIC = 2, PT_INTERP = 3, PT_NOTE = 4, PT_SHLIB = 5,
            PT_PHDR = 6, PT_TLS = 7, PT_GNU_EH_FRAME = 0x6474e550, PT_GNU_STACK = 0x6474e551,
            PT_GNU_RELRO = 0x6474e552, PT_GNU_PROPERTY = 0x6474e553;
    public static final int PF_X = 1, PF_W = 2, PF_R = 4;

    public static final int SHT_NULL = 0, SHT_PROGBITS = 1, SHT_SYMTAB = 2, SHT_STRTAB = 3, SHT_RELA = 4,
            SHT_HASH = 5, SHT_DYNAMIC = 6, SHT_NOTE = 7, SHT_NOBITS = 8, SHT_REL = 9, SHT_SHLIB = 10,
            SHT_DYNSYM = 11, SHT_INIT_ARRAY = 14, SHT_FINI_ARRAY = 15, SHT_PREINIT_ARRAY = 16, SHT_GROUP = 17,
            SHT_SYMTAB_SHNDX = 18, SHT_RELR = 19, SHT_GNU_ATTRIBUTES = 0x6ffffff5, SHT_GNU_HASH = 0x6ffffff6,
            SHT_GNU_LIBLIST = 0x6ffffff7, SHT_GNU_verdef = 0x6ffffffd, SHT_GNU_verneed = 0x6ffffffe,
            SHT_GNU_versym = 0x6fffffff;
    public static final long SHF_WRITE = 0x1, SHF_ALLOC = 0x2, SHF_EXECINSTR = 0x4;

    public static final long DT_NULL = 0, DT_NEEDED = 1, DT_PLTRELSZ = 2, DT_STRTAB = 5, DT_RELA = 7,
            DT_RELASZ = 8, DT_RELAENT = 9, DT_STRSZ = 10, DT_SONAME = 14, DT_RPATH = 15, DT_REL = 17,
            DT_RELSZ = 18, DT_RELENT = 19, DT_PLTREL = 20, DT_JMPREL = 23, DT_RUNPATH = 29, DT_RELRSZ = 35,
            DT_RELR = 36, DT_RELRENT = 37, DT_CONFIG = 0x6ffffefa, DT_DEPAUDIT = 0x6ffffefb,
            DT_AUDIT = 0x6ffffefc, DT_VERNEED = 0x6ffffffe, DT_VERNEEDNUM = 0x6fffffff,
            DT_AUXILIARY = 0x7ffffffd, DT_FILTER = 0x7fffffff;

    public static final int NT_GNU_BUILD_ID = 3, NT_GO_BUILD_ID = 4;

    /** Symbol types (ELF gABI, st_info & 0xf); STT_GNU_IFUNC is the GNU extension in STT_LOOS. */
    public static final int STT_NOTYPE = 0, STT_OBJECT = 1, STT_FUNC = 2, STT_SECTION = 3, STT_FILE = 4,
            STT_GNU_IFUNC = 10;

    /** The RELATIVE relocation type of {@code machine}, or -1 when this library does not know it. */
    public static long relativeRelocationType(int machine) {
        switch (machine) {
            case EM_X86_64: case EM_386: return 8;
            case EM_AARCH64: return 1027;
            case EM_ARM: return 23;
            case EM_PPC64: case EM_PPC: case EM_SPARC: case EM_SPARCV9: return 22;
            case EM_RISCV: case EM_LOONGARCH: return 3;
            case EM_S390: return 12;
            case EM_MIPS: return 3; // R_MIPS_REL32 serves as the relative relocation against symbol 0
            default: return -1;
        }
    }
}
