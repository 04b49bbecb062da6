package dev.ollamapatch.patch;

import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.RelativeRelocations;

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
    static final int EM_X86_64 = 62;
    static final int EM_AARCH64 = 183;
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
        boolean absolute = elf.header().type() == 2; // ET_EXEC: addresses appear as immediates
        for (Region r : regions) {
            if (!r.exec()) continue;
            forEachWindow(elf, r, (buf, base) -> {
                buf.order(order);
                if (machine == EM_X86_64) X86Code.scan(buf, base, ranges, absolute, refs);
                else if (machine == EM_AARCH64) Arm64Code.scan(buf, base, ranges, refs);
            });
        }
        return refs;
    }

    private static void scanPointers(ElfFile elf, Region r, int word, ByteOrder order, AddressRanges ranges,
                                     RelativeRelocations rel, List<Reference> refs) {
        forEachWindow(elf, r, (buf, base) -> {
            buf.order(order);
            int first = (int) ((word - (base % word)) % word);
            for (int i = first; i + word <= buf.limit(); i += word) {
                long v = word == 8 ? buf.getLong(i) : buf.getInt(i) & 0xFFFFFFFFL;
                if (v == 0 || !ranges.contains(v)) continue;
                // The linker may also store a relocation's addend in place: that word is counted once.
                if (rel.targetAt(base + i).isPresent()) continue;
                long len = i + 2 * word <= buf.limit()
                        ? (word == 8 ? buf.getLong(i + word) : buf.getInt(i + word) & 0xFFFFFFFFL) : -1;
                refs.add(plausible(len)
                        ? new Reference(v, len, String.format("string header at 0x%x", base + i))
                        : new Reference(v, -1, String.format("pointer at 0x%x", base + i)));
            }
        });
    }

    private static boolean plausible(long len) { return len > 0 && len <= MAX_STRING; }

    private static long wordAt(ElfFile elf, long vaddr) {
        OptionalLong off = elf.fileOffsetOf(vaddr);
        if (off.isEmpty() || off.getAsLong() + (elf.is64() ? 8 : 4) > elf.bytes().size()) return -1;
        return elf.is64() ? elf.readU64(off.getAsLong()) : elf.readU32(off.getAsLong());
    }

    interface WindowVisitor { void visit(ByteBuffer buf, long baseVaddr); }

    /** Visits a region in windows below 2 GiB, overlapping by 64 bytes so no pattern is cut. */
    static void forEachWindow(ElfFile elf, Region r, WindowVisitor visitor) {
        final long max = 1L << 30;
        final long overlap = 64;
        long size = Math.min(r.size(), elf.bytes().size() - r.offset());
        for (long start = 0; start < size; start += max) {
            int len = (int) Math.min(size - start, max + overlap);
            visitor.visit(elf.bytes().slice(r.offset() + start, len), r.vaddr() + start);
            if (start + len >= size) break;
        }
    }
}
