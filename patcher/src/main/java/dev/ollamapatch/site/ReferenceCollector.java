package dev.ollamapatch.site;

import static dev.ollamapatch.elf.ElfConstants.EM_AARCH64;
import static dev.ollamapatch.elf.ElfConstants.EM_X86_64;
import static dev.ollamapatch.elf.ElfConstants.ET_EXEC;

import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.RelativeRelocations;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;

/**
 * Collects every reference into a set of address ranges: relocated and plain pointers in data
 * (with the following word as a candidate Go string length), and address-forming code.
 */
final class ReferenceCollector {
    private static final int MAX_STRING = 1 << 16;

    private ReferenceCollector() {}

    /** Which code the collector can read; reported so a reader knows what was searched. */
    static String codeAnalysis(ElfFile elf) {
        return switch (elf.header().machine()) {
            case EM_X86_64 -> "x86-64 lea";
            case EM_AARCH64 -> "aarch64 adrp+add";
            default -> "none (code references are not analysed for this machine)";
        };
    }

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
            refs.add(plausible(len)
                    ? new Reference(target, len, String.format("string header at 0x%x (relocated)", at))
                    : new Reference(target, -1, String.format("relocation at 0x%x", at)));
        }

        for (Region r : regions) {
            if (r.exec() || r.dynstr()) continue;
            scanPointers(elf, r, word, order, ranges, rel, refs);
        }

        int machine = elf.header().machine();
        boolean absolute = elf.header().type() == ET_EXEC; // addresses appear as immediates
        for (Region r : regions) {
            if (!r.exec()) continue;
            forEachWindow(elf, r, (buf, base, from, to) -> {
                buf.order(order);
                if (machine == EM_X86_64) X86Code.scan(buf, base, from, to, ranges, absolute, refs);
                else if (machine == EM_AARCH64) Arm64Code.scan(buf, base, from, to, ranges, refs);
            });
        }
        return refs;
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
        refs.add(plausible(len)
                ? new Reference(v, len, String.format("string header at 0x%x", base + i))
                : new Reference(v, -1, String.format("pointer at 0x%x", base + i)));
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
