package dev.ollamapatch.site;

import static dev.ollamapatch.elf.ElfConstants.EM_AARCH64;
import static dev.ollamapatch.elf.ElfConstants.EM_X86_64;
import static dev.ollamapatch.elf.ElfConstants.ET_EXEC;

import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.RelativeRelocations;
import dev.ollamapatch.elf.Relocation;
import dev.ollamapatch.elf.Symbol;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;

/**
 * Collects every proven reference into a set of address ranges: relocations, pointers in the data of
 * executables that are not position-independent (each with the following word as a candidate Go
 * string length), and address-forming code.
 */
final class ReferenceCollector {
    // Relocation types: x86-64 psABI table 4.9, AArch64 ELF ABI (aaelf64) section 5.7.
    private static final long R_X86_64_64 = 1, R_X86_64_GLOB_DAT = 6;
    private static final long R_AARCH64_ABS64 = 257, R_AARCH64_GLOB_DAT = 1025;
    private static final int MAX_STRING = 1 << 16;

    private ReferenceCollector() {}

    /** Which code the collector can read; reported so a reader knows what was searched. */
    static String codeAnalysis(ElfFile elf) {
        return switch (elf.header().machine()) {
            case EM_X86_64 -> "x86-64 lea";
            case EM_AARCH64 -> "aarch64 adrp+add, adr";
            default -> "none (code references are not analysed for this machine)";
        };
    }

    /**
     * Every proven reference into {@code ranges}. In data, an address exists only where the loader or
     * the linker put one: in a position-independent object ({@code ET_DYN}) that is a relocation
     * (RELATIVE and RELR with their addends, or an absolute relocation against a defined symbol plus
     * its addend); in an executable that is not position-independent ({@code ET_EXEC}) it is a word in a
     * section that holds addresses ({@link Region#holdsAddresses()}). In code, it is an instruction that
     * forms the address ({@link X86Code}, {@link Arm64Code}).
     */
    static List<Reference> collect(ElfFile elf, List<Region> regions, AddressRanges ranges) {
        List<Reference> refs = new ArrayList<>();
        if (ranges.isEmpty()) return refs;
        int word = elf.is64() ? 8 : 4;
        ByteOrder order = elf.byteOrder();

        RelativeRelocations rel = elf.relativeRelocations();
        for (int i = 0; i < rel.size(); i++) {
            long target = rel.targetAtIndex(i);
            if (!ranges.contains(target)) continue;
            long at = rel.offsetAt(i);
            long len = wordAt(elf, at + word);
            refs.add(new Reference(target, plausible(len) ? len : -1, Reference.Source.RELATIVE_RELOCATION, at));
        }
        symbolRelocations(elf, ranges, refs);

        if (elf.header().type() == ET_EXEC) {
            for (Region r : regions) {
                if (r.holdsAddresses() && !r.dynstr()) scanPointers(elf, r, word, order, ranges, rel, refs);
            }
        }

        int machine = elf.header().machine();
        boolean absolute = elf.header().type() == ET_EXEC; // addresses appear as immediates
        List<long[]> tables = new ArrayList<>();
        // Position-independent x86-64 code: every RIP-relative lea met on the way is kept for the loader
        // resolution, which then need not decode the same code again (CodeAddresses).
        CodeAddresses.Recorder leas = machine == EM_X86_64 && !absolute && order == ByteOrder.LITTLE_ENDIAN
                ? new CodeAddresses.Recorder() : null;
        for (Region r : regions) {
            if (!r.exec()) continue;
            if (leas != null) leas.region(r.offset(), r.vaddr(), r.size());
            forEachWindow(elf, r, (buf, base, from, to) -> {
                buf.order(order);
                if (machine == EM_X86_64) X86Code.scan(buf, base, from, to, ranges, absolute, refs, tables, leas);
                else if (machine == EM_AARCH64) Arm64Code.scan(buf, base, from, to, ranges, refs, tables);
            });
        }
        if (leas != null) leas.publish(elf);
        relativeTables(elf, regions, ranges, tables, refs);
        return refs;
    }

    /** Entries read from one relative table at most; real ones are a handful of strings. */
    private static final int MAX_TABLE = 256;

    /**
     * Tables of 32-bit offsets relative to the table's own address, found from the code that indexes
     * them: entry {@code i} at {@code T + 4i} refers to {@code T + entry}. The code does not say how
     * many entries there are, so entries are read while each one leads into loaded data (not code), and
     * only those that lead into a searched string are references.
     */
    private static void relativeTables(ElfFile elf, List<Region> regions, AddressRanges ranges, List<long[]> tables,
                                       List<Reference> refs) {
        java.util.Set<Long> seen = new java.util.HashSet<>();
        for (long[] t : tables) {
            long table = t[0];
            if (!seen.add(table)) continue;
            Region holder = regionOf(regions, table);
            if (holder == null || holder.exec()) continue;
            for (int i = 0; i < MAX_TABLE; i++) {
                long place = table + 4L * i;
                if (!holder.containsVaddr(place + 3)) break;
                long off = holder.offsetOf(place);
                if (off < 0 || off + 4 > elf.bytes().size()) break; // a section header may claim more than the file has
                long entry = (int) elf.readU32(off);
                long target = table + entry;
                Region into = regionOf(regions, target);
                if (into == null || into.exec()) break;
                if (ranges.contains(target)) refs.add(new Reference(target, -1, Reference.Source.RELATIVE_TABLE, place));
            }
        }
    }

    private static Region regionOf(List<Region> regions, long vaddr) {
        for (Region r : regions) if (r.containsVaddr(vaddr)) return r;
        return null;
    }

    /**
     * Absolute relocations against a symbol (x86-64 psABI R_X86_64_64 and R_X86_64_GLOB_DAT, AArch64
     * ELF ABI R_AARCH64_ABS64 and R_AARCH64_GLOB_DAT): the loader stores S + A, so a defined symbol's
     * value plus the addend is an address the object holds.
     */
    private static void symbolRelocations(ElfFile elf, AddressRanges ranges, List<Reference> refs) {
        int machine = elf.header().machine();
        if (machine != EM_X86_64 && machine != EM_AARCH64) return;
        List<Symbol> symbols = null;
        for (Relocation r : elf.symbolRelocations()) {
            long t = r.type();
            boolean absolute = machine == EM_X86_64 ? t == R_X86_64_64 || t == R_X86_64_GLOB_DAT
                    : t == R_AARCH64_ABS64 || t == R_AARCH64_GLOB_DAT;
            if (!absolute || r.symbol() == 0) continue;
            if (symbols == null) symbols = elf.dynamicSymbols();
            Symbol s = r.symbol() < symbols.size() ? symbols.get((int) r.symbol()) : null;
            if (s == null || s.index() != r.symbol() || s.shndx() == 0 /* SHN_UNDEF */) continue;
            long target = s.value() + r.addend();
            if (ranges.contains(target)) {
                refs.add(new Reference(target, -1, Reference.Source.SYMBOL_RELOCATION, r.offset()));
            }
        }
    }

    private static void scanPointers(ElfFile elf, Region r, int word, ByteOrder order, AddressRanges ranges,
                                     RelativeRelocations rel, List<Reference> refs) {
        boolean le = order == ByteOrder.LITTLE_ENDIAN;
        forEachWindow(elf, r, (buf, base, from, to) -> {
            byte[] a = buf.array();
            int limit = buf.limit();
            int first = (int) ((word - (base % word)) % word);
            int start = from <= first ? first : first + ((from - first + word - 1) / word) * word;
            int end = Math.min(to, limit - word + 1); // exclusive bound on a word's start
            if (word == 8 && le) {
                // The common case (x86-64, aarch64) in its own loop of plain loads and one compare per
                // word: this loop visits every word of every data section.
                for (int i = start; i < end; i += 8) {
                    if (ranges.contains((long) LONG_LE.get(a, i))) pointerAt(a, limit, i, base, word, le, ranges, rel, refs);
                }
            } else {
                for (int i = start; i < end; i += word) {
                    if (ranges.contains(wordAt(a, i, word, le))) pointerAt(a, limit, i, base, word, le, ranges, rel, refs);
                }
            }
        });
    }

    /** The word at {@code i} points into the ranges: record it, with the next word as a candidate length. */
    private static void pointerAt(byte[] a, int limit, int i, long base, int word, boolean le, AddressRanges ranges,
                                  RelativeRelocations rel, List<Reference> refs) {
        long v = wordAt(a, i, word, le);
        if (v == 0) return;
        // The linker may also store a relocation's addend in place: that word is counted once.
        if (rel.targetAt(base + i).isPresent()) return;
        long len = i + 2 * word <= limit ? wordAt(a, i + word, word, le) : -1;
        refs.add(new Reference(v, plausible(len) ? len : -1, Reference.Source.POINTER, base + i));
    }

    // Static final handles: the JIT folds them into plain loads (a handle held in a local is not).
    private static final VarHandle LONG_LE = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LONG_BE = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);
    private static final VarHandle INT_LE = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INT_BE = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.BIG_ENDIAN);

    private static long wordAt(byte[] a, int i, int word, boolean le) {
        if (word == 8) return le ? (long) LONG_LE.get(a, i) : (long) LONG_BE.get(a, i);
        return (le ? (int) INT_LE.get(a, i) : (int) INT_BE.get(a, i)) & 0xFFFFFFFFL;
    }

    private static boolean plausible(long len) { return len > 0 && len <= MAX_STRING; }

    private static long wordAt(ElfFile elf, long vaddr) {
        OptionalLong off = elf.fileOffsetOf(vaddr);
        if (off.isEmpty() || off.getAsLong() + (elf.is64() ? 8 : 4) > elf.bytes().size()) return -1;
        return elf.is64() ? elf.readU64(off.getAsLong()) : elf.readU32(off.getAsLong());
    }

    /**
     * One window of a region: {@code buf} (heap-backed, position 0) holds bytes loaded at
     * {@code baseVaddr}; the visitor reports only what starts in {@code [from, to)}, and bytes
     * outside that range are context, so that every position is visited exactly once and a pattern
     * or an instruction's neighbourhood is never cut at a window's edge.
     */
    interface WindowVisitor { void visit(ByteBuffer buf, long baseVaddr, int from, int to); }

    /** Bytes each window reports on; windows are read, not mapped, so memory stays bounded. */
    static final int WINDOW_STEP = 4 << 20;
    /** Context either side of a window: more than any pattern, instruction window or identifier needs. */
    static final int WINDOW_MARGIN = 4096;

    /**
     * Visits a region in windows of {@link #WINDOW_STEP} bytes plus {@link #WINDOW_MARGIN} bytes of
     * context either side, read through the file (not its mapping) into one reused buffer: a pass over
     * a region of any size holds a few MiB and does not fault the region's pages into the process.
     */
    static void forEachWindow(ElfFile elf, Region r, WindowVisitor visitor) {
        long size = Math.min(r.size(), elf.bytes().size() - r.offset());
        if (size <= 0) return;
        byte[] buf = new byte[(int) Math.min(size, WINDOW_STEP + 2L * WINDOW_MARGIN)];
        for (long core = 0; core < size; core += WINDOW_STEP) {
            long coreEnd = Math.min(size, core + WINDOW_STEP);
            long lo = Math.max(0, core - WINDOW_MARGIN);
            long hi = Math.min(size, coreEnd + WINDOW_MARGIN);
            int len = (int) (hi - lo);
            elf.bytes().readBulk(r.offset() + lo, buf, 0, len);
            visitor.visit(ByteBuffer.wrap(buf, 0, len), r.vaddr() + lo, (int) (core - lo), (int) (coreEnd - lo));
        }
    }
}
