package dev.ollamapatch.site;

import java.nio.ByteBuffer;
import java.util.List;

/**
 * Finds aarch64 code that forms a string's address with {@code adrp} + {@code add} and, where it
 * can be proven, the string's length: the immediate ({@code movz}, or {@code orr} with a bitmask
 * immediate) that is stored beside the pointer ({@code stp ptr, len} or two {@code str} to adjacent
 * words) or that lands in the next register of Go's argument order.
 */
final class Arm64Code {
    private static final int WINDOW = 12; // instructions either side

    private Arm64Code() {}

    /** Instructions starting in {@code [from, to)} of {@code code} (loaded at {@code base}; the rest is context). */
    static void scan(ByteBuffer code, long base, int from, int to, AddressRanges ranges, List<Reference> out) {
        int count = code.limit() / 4;
        for (int i = from / 4, end = Math.min(count, (to + 3) / 4); i < end; i++) {
            int insn = code.getInt(i * 4);
            if ((insn & 0x9F000000) != 0x90000000) continue; // adrp
            int rd = insn & 31;
            long immlo = (insn >>> 29) & 3;
            long immhi = (insn >>> 5) & 0x7FFFF;
            long imm = ((immhi << 2) | immlo) << 43 >> 43; // sign-extend 21 bits
            long page = ((base + i * 4L) & ~0xFFFL) + (imm << 12);
            for (int j = i + 1; j < Math.min(count, i + 5); j++) {
                int add = code.getInt(j * 4);
                if ((add & 0xFF800000) == 0x91000000 && ((add >>> 5) & 31) == rd) {
                    int shift = ((add >>> 22) & 1) == 1 ? 12 : 0;
                    long target = page + (((long) (add >>> 10) & 0xFFF) << shift);
                    if (ranges.contains(target)) {
                        int reg = add & 31;
                        long len = proveLength(code, j, reg, count);
                        out.add(new Reference(target, len, len > 0
                                ? String.format("adrp+add at 0x%x with length %d", base + i * 4L, len)
                                : String.format("adrp+add at 0x%x", base + i * 4L)));
                    }
                    break;
                }
            }
        }
    }

    private static long proveLength(ByteBuffer code, int at, int reg, int count) {
        int from = Math.max(0, at - WINDOW);
        int to = Math.min(count, at + WINDOW);
        for (int k = at + 1; k < to; k++) {
            int insn = code.getInt(k * 4);
            // stp reg, len, [...] (64-bit, signed offset / pre / post index)
            int op = insn & 0xFFC00000;
            if (op == 0xA9000000 || op == 0xA9800000 || op == 0xA8800000) {
                if ((insn & 31) == reg) {
                    long len = immediateBefore(code, k, (insn >>> 10) & 31, from);
                    if (len > 0) return len;
                }
            }
            // str reg, [rn, #off] ... and str len, [rn, #off+8]
            if ((insn & 0xFFC00000) == 0xF9000000 && (insn & 31) == reg) {
                int rn = (insn >>> 5) & 31;
                long off = ((insn >>> 10) & 0xFFFL) * 8;
                for (int m = from; m < to; m++) {
                    int s = code.getInt(m * 4);
                    if ((s & 0xFFC00000) == 0xF9000000 && ((s >>> 5) & 31) == rn
                            && ((s >>> 10) & 0xFFFL) * 8 == off + 8) {
                        long len = immediateBefore(code, m, s & 31, from);
                        if (len > 0) return len;
                    }
                }
            }
        }
        // Register pair of Go's ABI (x0,x1), (x1,x2)...: the nearest immediate into reg+1.
        if (reg < 15) {
            for (int d = 1; d < WINDOW; d++) {
                if (at + d < to) {
                    long v = immediateInto(code.getInt((at + d) * 4), reg + 1);
                    if (v > 0) return v;
                    if (isBranch(code.getInt((at + d) * 4))) break;
                }
            }
            for (int d = 1; d < WINDOW && at - d >= from; d++) {
                long v = immediateInto(code.getInt((at - d) * 4), reg + 1);
                if (v > 0) return v;
            }
        }
        return -1;
    }

    /** The immediate most recently moved into {@code reg} before instruction {@code k}. */
    private static long immediateBefore(ByteBuffer code, int k, int reg, int from) {
        for (int m = k - 1; m >= from; m--) {
            int insn = code.getInt(m * 4);
            long v = immediateInto(insn, reg);
            if (v > 0) return v;
            if ((insn & 31) == reg && writesRd(insn)) return -1; // overwritten by something else
        }
        return -1;
    }

    /** movz or orr-immediate (mov alias) into {@code reg}: the value, else -1. */
    static long immediateInto(int insn, int reg) {
        if ((insn & 31) != reg) return -1;
        if ((insn & 0x7F800000) == 0x52800000) { // movz (32 or 64 bit)
            int hw = (insn >>> 21) & 3;
            return ((long) ((insn >>> 5) & 0xFFFF)) << (16 * hw);
        }
        if ((insn & 0x7F8003E0) == 0x320003E0) { // orr rd, zr, #bitmask
            boolean is64 = insn < 0;
            int n = (insn >>> 22) & 1;
            int immr = (insn >>> 16) & 63;
            int imms = (insn >>> 10) & 63;
            return decodeBitMask(n, imms, immr, is64 ? 64 : 32);
        }
        return -1;
    }

    private static boolean writesRd(int insn) {
        // Data-processing (immediate and register) classes write Rd in bits 0-4.
        int op0 = (insn >>> 25) & 0xF;
        return (op0 & 0xE) == 0x8 || (op0 & 0x7) == 0x5;
    }

    private static boolean isBranch(int insn) {
        return (insn & 0x7C000000) == 0x14000000 || (insn & 0xFE000000) == 0xD6000000;
    }

    /** ARM ARM DecodeBitMasks for a logical immediate; -1 for reserved encodings. */
    static long decodeBitMask(int n, int imms, int immr, int regSize) {
        int combined = (n << 6) | (~imms & 0x3F);
        if (combined == 0) return -1;
        int len = 31 - Integer.numberOfLeadingZeros(combined);
        if (len < 1) return -1;
        int size = 1 << len;
        if (size > regSize) return -1;
        int levels = size - 1;
        int s = imms & levels;
        int r = immr & levels;
        if (s == levels) return -1;
        long mask = size == 64 ? -1L : (1L << size) - 1;
        long elem = (1L << (s + 1)) - 1;
        if (r != 0) elem = ((elem >>> r) | (elem << (size - r))) & mask;
        long result = 0;
        for (int i = 0; i < regSize; i += size) result |= elem << i;
        return regSize == 64 ? result : result & 0xFFFFFFFFL;
    }
}
