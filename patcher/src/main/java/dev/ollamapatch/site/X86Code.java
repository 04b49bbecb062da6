package dev.ollamapatch.site;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * Finds x86-64 code that loads a string's address ({@code lea reg,[rip+disp32]}) and, where it can
 * be proven, the string's length: Go keeps a string in a register pair of its internal ABI or in two
 * adjacent memory words, so the length is the immediate that lands in the paired register or in the
 * word right after the one that receives the pointer. A nearby immediate alone proves nothing (the
 * lengths of neighbouring strings sit in the same few bytes).
 */
final class X86Code {
    private static final int WINDOW = 64;
    /** Go ABIInternal integer argument registers in order: a string is (ptr, len) in two neighbours. */
    private static final int[] ABI_NEXT = new int[16];
    static {
        java.util.Arrays.fill(ABI_NEXT, -1);
        int[] order = {0, 3, 1, 7, 6, 8, 9, 10, 11};
        for (int i = 0; i + 1 < order.length; i++) ABI_NEXT[order[i]] = order[i + 1];
    }

    private X86Code() {}

    /** Scans instructions starting in {@code [from, to)} of {@code code} (loaded at {@code base}; the rest is context). */
    static void scan(ByteBuffer code, long base, int from, int to, AddressRanges ranges, boolean absoluteImmediates,
                     List<Reference> out, List<long[]> tables) {
        scan(code, base, from, to, ranges, absoluteImmediates, out, tables, null);
    }

    /** As above; every RIP-relative lea of position-independent code also goes to {@code leas} when given. */
    static void scan(ByteBuffer code, long base, int from, int to, AddressRanges ranges, boolean absoluteImmediates,
                     List<Reference> out, List<long[]> tables, CodeAddresses.Recorder leas) {
        if (!code.hasArray() || code.arrayOffset() != 0) { // the passes' windows always are; a caller's may not be
            byte[] copy = new byte[code.limit()];
            code.get(0, copy);
            code = ByteBuffer.wrap(copy).order(code.order());
        }
        ByteBuffer c = code;
        byte[] a = code.array();
        int n = code.limit();
        if (!absoluteImmediates) {
            // Position-independent code (every Go, Ollama and library file): only RIP-relative leas
            // count, and the prefilter leaves the few positions where one can start.
            X86Prefilter.ripLeaCandidates(a, from, Math.min(to, n - 6), n, i -> lea(a, c, base, i, ranges, out, tables, leas));
            return;
        }
        for (int i = from; i < to && i + 7 <= n; i++) {
            int b0 = a[i] & 0xFF;
            lea(a, code, base, i, ranges, out, tables, null);
            // Non-PIE code names addresses as 32-bit immediates: mov r32, imm32.
            if (b0 >= 0xB8 && b0 <= 0xBF && i + 5 <= n) {
                long target = code.getInt(i + 1) & 0xFFFFFFFFL;
                if (ranges.contains(target)) {
                    out.add(new Reference(target, -1, Reference.Source.MOV_IMM32, base + i));
                }
            }
        }
    }

    /**
     * The lea at {@code i} ({@code i + 7 <= code.limit()}), when it is one (REX.W 8D /r, RIP-relative): a
     * reference or a table base; every one goes to {@code leas} when given. Read from the array itself: it
     * runs for every lea of {@code .text} (about 230 000 in a release Ollama binary), and in the
     * short-lived process's C1 code a {@code ByteBuffer}'s bounds-checked and unaligned reads cost several
     * times the plain array loads.
     */
    private static void lea(byte[] a, ByteBuffer code, long base, int i, AddressRanges ranges, List<Reference> out,
                            List<long[]> tables, CodeAddresses.Recorder leas) {
        int b0 = a[i] & 0xFF;
        if ((b0 & 0xF8) != 0x48 || a[i + 1] != (byte) 0x8D || (a[i + 2] & 0xC7) != 0x05) return;
        // The window's byte order is the file's (ReferenceCollector): little-endian for every real x86-64 file.
        int disp = code.order() == ByteOrder.LITTLE_ENDIAN ? X86Prefilter.le32(a, i + 3) : code.getInt(i + 3);
        long target = base + i + 7 + disp;
        if (leas != null) leas.lea(base + i, target);
        int reg = ((b0 & 4) << 1) | ((a[i + 2] >> 3) & 7);
        if (ranges.contains(target)) {
            out.add(new Reference(target, proveLength(code, i, 7, reg), Reference.Source.LEA, base + i));
        } else if (indexesRelativeTable(a, code.limit(), i + 7, reg)) {
            tables.add(new long[] {target, base + i});
        }
    }

    /**
     * Whether the address just loaded into {@code reg} is the base of a table of 32-bit offsets relative
     * to itself: {@code movslq dst, [reg + idx*4]} (REX.W 63 /r with a SIB byte, scale 4, base {@code reg})
     * within the next instructions of {@code a[0, n)}. Clang's relative lookup tables (LLVM
     * RelLookupTableConverter) turn a constant array of string pointers into such a table in
     * position-independent code.
     */
    private static boolean indexesRelativeTable(byte[] a, int n, int from, int reg) {
        int end = Math.min(n - 3, from + 24);
        for (int j = from; j < end; j++) {
            if (a[j + 1] != 0x63 || (a[j] & 0xF8) != 0x48) continue; // opcode first: it rules out nearly every j
            int modrm = a[j + 2] & 0xFF;
            if ((modrm & 0xC7) != 0x04) continue; // mod 00, rm 100: SIB follows
            int sib = a[j + 3] & 0xFF;
            int sibBase = (sib & 7) | ((a[j] & 1) << 3);
            if ((sib >> 6) == 2 && sibBase == reg && (sib & 7) != 5) return true;
        }
        return false;
    }

    /** The length stored with the pointer loaded by the lea at {@code at}, or -1 when not proven. */
    private static long proveLength(ByteBuffer code, int at, int leaLength, int reg) {
        int from = Math.max(0, at - WINDOW);
        int to = Math.min(code.limit(), at + leaLength + WINDOW);
        // 1. Register pair of Go's internal ABI: mov next(reg), imm.
        int next = ABI_NEXT[reg];
        if (next >= 0) {
            long best = -1;
            int bestDistance = Integer.MAX_VALUE;
            for (int j = from; j < to; j++) {
                long imm = movImmediateTo(code, j, next);
                if (imm > 0) {
                    int distance = j > at ? j - at : (at - j) + WINDOW; // prefer after the lea
                    if (distance < bestDistance) {
                        bestDistance = distance;
                        best = imm;
                    }
                }
            }
            if (best > 0) return best;
        }
        // 2. Two adjacent words: mov [base+d], reg ... and the length into [base+d+8].
        for (int j = at + leaLength; j < Math.min(code.limit(), at + leaLength + 24); j++) {
            long[] slot = storeOf(code, j, reg);
            if (slot == null) continue;
            for (int k = from; k < to; k++) {
                long imm = immediateStoreTo(code, k, slot[0], slot[1] + 8);
                if (imm > 0) return imm;
            }
        }
        return -1;
    }

    /** {@code mov r32, imm32} (B8+r) or {@code mov r64, simm32} (REX.W C7 C0+r) into {@code reg}. */
    private static long movImmediateTo(ByteBuffer code, int j, int reg) {
        int n = code.limit();
        int b = code.get(j) & 0xFF;
        int rexB = j > 0 && ((code.get(j - 1) & 0xF0) == 0x40) ? (code.get(j - 1) & 1) << 3 : 0;
        if (b >= 0xB8 && b <= 0xBF && j + 5 <= n && (j == 0 || (code.get(j - 1) & 0xF8) != 0x48)) {
            if (((b - 0xB8) | rexB) == reg) return code.getInt(j + 1) & 0xFFFFFFFFL;
        }
        if ((b & 0xF8) == 0x48 && j + 7 <= n && code.get(j + 1) == (byte) 0xC7) {
            int modrm = code.get(j + 2) & 0xFF;
            if ((modrm & 0xF8) == 0xC0 && ((modrm & 7) | ((b & 1) << 3)) == reg) {
                return code.getInt(j + 3);
            }
        }
        return -1;
    }

    /** {@code mov [mem], reg} with REX.W at {@code j}: returns {base, disp}, or null. */
    private static long[] storeOf(ByteBuffer code, int j, int reg) {
        int n = code.limit();
        if (j + 3 > n) return null;
        int rex = code.get(j) & 0xFF;
        if ((rex & 0xF8) != 0x48 || code.get(j + 1) != (byte) 0x89) return null;
        int modrm = code.get(j + 2) & 0xFF;
        if ((((modrm >> 3) & 7) | ((rex & 4) << 1)) != reg) return null;
        long[] mem = memoryOperand(code, j + 2, rex);
        return mem == null ? null : new long[] {mem[0], mem[1]};
    }

    /** {@code mov qword [base+disp], imm32} (REX.W C7 /0) at {@code k}: the immediate, or -1. */
    private static long immediateStoreTo(ByteBuffer code, int k, long base, long disp) {
        int n = code.limit();
        if (k + 3 > n) return -1;
        int rex = code.get(k) & 0xFF;
        if ((rex & 0xF8) != 0x48 || code.get(k + 1) != (byte) 0xC7) return -1;
        int modrm = code.get(k + 2) & 0xFF;
        if (((modrm >> 3) & 7) != 0) return -1;
        long[] mem = memoryOperand(code, k + 2, rex);
        if (mem == null || mem[0] != base || mem[1] != disp) return -1;
        int immAt = (int) mem[2];
        if (immAt + 4 > n) return -1;
        return code.getInt(immAt);
    }

    /**
     * Decodes a ModRM memory operand without an index register: {base, disp, offset after operand},
     * or null for register operands, RIP-relative and indexed forms.
     */
    private static long[] memoryOperand(ByteBuffer code, int modrmAt, int rex) {
        int n = code.limit();
        int modrm = code.get(modrmAt) & 0xFF;
        int mod = modrm >> 6;
        int rm = modrm & 7;
        if (mod == 3) return null;
        int p = modrmAt + 1;
        int base;
        if (rm == 4) {
            if (p >= n) return null;
            int sib = code.get(p++) & 0xFF;
            if (((sib >> 3) & 7) != 4) return null; // indexed
            base = (sib & 7) | ((rex & 1) << 3);
            if (mod == 0 && (sib & 7) == 5) return null;
        } else {
            if (mod == 0 && rm == 5) return null; // RIP-relative
            base = rm | ((rex & 1) << 3);
        }
        long disp = 0;
        if (mod == 1) {
            if (p >= n) return null;
            disp = code.get(p++);
        } else if (mod == 2) {
            if (p + 4 > n) return null;
            disp = code.getInt(p);
            p += 4;
        }
        return new long[] {base, disp, p};
    }
}
