package dev.ollamapatch.elf;

import static dev.ollamapatch.elf.ElfConstants.*;
import static dev.ollamapatch.elf.ElfReader.hex;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * An ELF file: header, program and section headers parsed and validated up front; dynamic table,
 * symbols, relocations, version needs and notes parsed on first use and memoised. Immutable and
 * safe to share between threads. Any malformed structure raises {@link ElfFormatException}.
 */
public final class ElfFile implements AutoCloseable {
    private final ByteSource source;
    private final boolean ownsSource;
    private final ElfReader reader;
    private final ElfHeader header;
    private final List<ProgramHeader> segments;
    private final List<SectionHeader> sections;

    private final Lazy<List<long[]>> rawDynamic;
    private final Lazy<Optional<StringTable>> dynamicStrings;
    private final Lazy<List<DynamicEntry>> dynamic;
    private final Lazy<List<Symbol>> dynamicSymbols;
    private final Lazy<List<Symbol>> symbols;
    private final Lazy<List<Relocation>> relocations;
    private final Lazy<List<Relocation>> symbolRelocations;
    private final Lazy<RelativeRelocations> relative;
    private final Lazy<List<VersionNeed>> versionNeeds;
    private final Lazy<List<Integer>> symbolVersions;
    private final Lazy<List<SymbolVersionNeed>> symbolVersionNeeds;
    private final Lazy<List<Note>> notes;

    /** The opened file's status, or null when the bytes are not a file opened by path. */
    private final FileStamp fileStatus;

    private ElfFile(ByteSource source, boolean ownsSource) {
        this(source, ownsSource, null);
    }

    private ElfFile(ByteSource source, boolean ownsSource, FileStamp fileStatus) {
        this.fileStatus = fileStatus;
        this.source = source;
        this.ownsSource = ownsSource;
        HeaderParser.Result r = HeaderParser.parse(source);
        this.reader = r.reader();
        this.header = r.header();
        this.segments = r.segments();
        this.sections = r.sections();
        this.rawDynamic = new Lazy<>(() -> DynamicParser.rawEntries(this, reader));
        this.dynamicStrings = new Lazy<>(() -> DynamicParser.strings(this, reader, rawDynamic.get()));
        this.dynamic = new Lazy<>(() -> DynamicParser.entries(rawDynamic.get(), dynamicStrings.get()));
        this.dynamicSymbols = new Lazy<>(() -> SymbolParser.read(this, reader, SHT_DYNSYM));
        this.symbols = new Lazy<>(() -> SymbolParser.read(this, reader, SHT_SYMTAB));
        SharedTables shared = SharedTables.of(fileStatus);
        this.relocations = shared(shared == null ? null : shared.relocations, () -> RelocationParser.read(this, reader));
        this.symbolRelocations = shared(shared == null ? null : shared.symbolRelocations,
                () -> RelocationParser.naming(relocations()));
        this.relative = shared(shared == null ? null : shared.relative, () -> RelocationParser.relative(this, reader));
        this.versionNeeds = new Lazy<>(() -> VersionNeedParser.read(this, reader));
        this.symbolVersions = new Lazy<>(() -> SymbolVersionParser.read(this, reader));
        this.symbolVersionNeeds = new Lazy<>(() -> SymbolVersionParser.needs(this));
        this.notes = new Lazy<>(() -> NoteParser.read(this, reader));
    }

    /** A table parsed on first use by this instance, or taken from {@code slot} when another opening of the file parsed it. */
    private static <T> Lazy<T> shared(SharedTables.Slot<T> slot, java.util.function.Supplier<T> parse) {
        return new Lazy<>(slot == null ? parse : () -> slot.get(parse));
    }

    /** Maps and parses {@code file}; the mapping is released by {@link #close()}. */
    public static ElfFile open(Path file) throws IOException {
        FileStamp before = FileStamp.of(file);
        ByteSource src = ByteSource.map(file);
        try {
            // The same status before and after mapping: the file mapped is the one described.
            FileStamp status = before != null && before.equals(FileStamp.of(file)) ? before : null;
            return new ElfFile(src, true, status);
        } catch (RuntimeException e) {
            src.close();
            throw e;
        }
    }

    /**
     * Which file this was opened from, as it was when opened: two instances opened from the same
     * unchanged file have equal values, so that what one learnt of the bytes can serve the other; empty
     * when the bytes were not opened from a path to a regular file, or its status cannot be read.
     */
    public Optional<FileStamp> openedFileStatus() {
        return Optional.ofNullable(fileStatus);
    }

    /** Parses {@code source}; the caller keeps ownership and closes it. */
    public static ElfFile parse(ByteSource source) {
        return new ElfFile(source, false);
    }

    public ByteSource bytes() {
        return source;
    }

    public ElfHeader header() {
        return header;
    }

    public boolean is64() {
        return header.elfClass() == 64;
    }

    public ByteOrder byteOrder() {
        return header.data();
    }

    public List<ProgramHeader> programHeaders() {
        return segments;
    }

    public List<SectionHeader> sections() {
        return sections;
    }

    /** The first section called {@code name}. */
    public Optional<SectionHeader> section(String name) {
        return sections.stream().filter(s -> s.name().equals(name)).findFirst();
    }

    public List<DynamicEntry> dynamic() {
        return dynamic.get();
    }

    public Optional<StringTable> dynamicStrings() {
        return dynamicStrings.get();
    }

    public List<Symbol> dynamicSymbols() {
        return dynamicSymbols.get();
    }

    public List<Symbol> symbols() {
        return symbols.get();
    }

    public List<Relocation> relocations() {
        return relocations.get();
    }

    /**
     * The relocations that name a symbol (r_sym not 0), in table order: the few a reader of imports and
     * symbol addresses needs, out of a table that is mostly RELATIVE entries (182 000 in a large Go
     * program, 64 of them naming a symbol).
     */
    public List<Relocation> symbolRelocations() {
        return symbolRelocations.get();
    }

    public RelativeRelocations relativeRelocations() {
        return relative.get();
    }

    public List<VersionNeed> versionNeeds() {
        return versionNeeds.get();
    }

    /** The raw {@code .gnu.version} entries, one per {@code .dynsym} symbol (empty without that section). */
    public List<Integer> symbolVersions() {
        return symbolVersions.get();
    }

    /** Every undefined dynamic symbol bound to a needed version: {@code dlopen@GLIBC_2.34 (libc.so.6)}. */
    public List<SymbolVersionNeed> symbolVersionNeeds() {
        return symbolVersionNeeds.get();
    }

    public List<Note> notes() {
        return notes.get();
    }

    /** The NT_GNU_BUILD_ID note's descriptor as lower-case hex. */
    public Optional<String> gnuBuildId() {
        return notes().stream().filter(n -> n.type() == NT_GNU_BUILD_ID && n.name().equals("GNU")).findFirst()
                .map(n -> HexFormat.of().formatHex(n.descriptor()));
    }

    /** The Go linker's build ID note (name "Go", type 4); its descriptor is text. */
    public Optional<String> goBuildId() {
        return notes().stream().filter(n -> n.type() == NT_GO_BUILD_ID && n.name().equals("Go")).findFirst()
                .map(n -> new String(n.descriptor(), java.nio.charset.StandardCharsets.UTF_8));
    }

    /** The file offset holding {@code vaddr}, through the PT_LOAD segments' file-backed parts. */
    public OptionalLong fileOffsetOf(long vaddr) {
        return fileBackedSegment(vaddr).map(p -> OptionalLong.of(p.offset() + (vaddr - p.vaddr())))
                .orElse(OptionalLong.empty());
    }

    /** The PT_LOAD whose file-backed part (p_filesz) contains {@code vaddr}. */
    Optional<ProgramHeader> fileBackedSegment(long vaddr) {
        return segments.stream().filter(p -> p.type() == PT_LOAD && p.containsFileBackedVaddr(vaddr)).findFirst();
    }

    /** The virtual address at which {@code fileOffset} is loaded, if any PT_LOAD maps it. */
    public OptionalLong vaddrOf(long fileOffset) {
        for (ProgramHeader p : segments) {
            if (p.type() == PT_LOAD && Long.compareUnsigned(fileOffset, p.offset()) >= 0
                    && Long.compareUnsigned(fileOffset - p.offset(), p.filesz()) < 0) {
                return OptionalLong.of(p.vaddr() + (fileOffset - p.offset()));
            }
        }
        return OptionalLong.empty();
    }

    /** The PT_LOAD whose memory image (p_memsz) contains {@code vaddr}. */
    public Optional<ProgramHeader> loadSegmentContaining(long vaddr) {
        return segments.stream().filter(p -> p.type() == PT_LOAD && p.containsVaddr(vaddr)).findFirst();
    }

    public int readU16(long off) {
        return reader.u16(off);
    }

    public long readU32(long off) {
        return reader.u32(off);
    }

    public long readU64(long off) {
        return reader.u64(off);
    }

    /** 8 bytes in ELF64, 4 in ELF32, in the file's byte order. */
    public long readWord(long off) {
        return reader.word(off);
    }

    /** The section's bytes as a read-only buffer in the file's byte order; empty for NOBITS/NULL. */
    public ByteBuffer sectionData(SectionHeader s) {
        if (!s.hasFileData() || s.size() == 0) {
            return ByteBuffer.allocate(0).order(byteOrder()).asReadOnlyBuffer();
        }
        long at = header.shoff() + (long) s.index() * header.shentsize();
        reader.checkRange("sh_offset of section " + s.index(), at, s.offset(), s.size());
        if (s.size() > Integer.MAX_VALUE) {
            throw new ElfFormatException("sh_size " + hex(s.size()) + " of section " + s.index() + " at offset "
                    + hex(at) + " is too large to view as one buffer");
        }
        return source.slice(s.offset(), (int) s.size()).order(byteOrder());
    }

    /** The string table that section {@code s} names in sh_link, checked to be a real, other section. */
    static StringTable linkedStrings(ElfFile f, ElfReader r, SectionHeader s) {
        long at = f.header.shoff() + (long) s.index() * f.header.shentsize() + (r.is64() ? 0x28 : 0x18);
        int link = s.link();
        if (link <= 0 || link >= f.sections.size() || link == s.index()) {
            throw new ElfFormatException("sh_link " + Integer.toUnsignedString(link) + " of section " + s.index()
                    + " (" + s.name() + ") at offset " + hex(at) + " does not name a string table"
                    + (link == s.index() ? " (it links to itself)" : ""));
        }
        SectionHeader str = f.sections.get(link);
        if (str.type() != SHT_STRTAB) {
            throw new ElfFormatException("sh_link " + link + " of section " + s.index() + " (" + s.name()
                    + ") at offset " + hex(at) + " names section " + str.name() + " of type "
                    + ElfNames.sectionType(str.type()) + ", not STRTAB");
        }
        return new StringTable(r, str.offset(), str.size(), str.name());
    }

    @Override
    public void close() {
        if (ownsSource) {
            source.close();
        }
    }
}
