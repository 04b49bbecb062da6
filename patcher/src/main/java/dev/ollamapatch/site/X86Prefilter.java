package dev.ollamapatch.site;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.function.IntConsumer;

/**
 * Finds, eight positions at a time, the few x86-64 byte positions where an instruction that a pass over
 * code looks for can start, so that the pass decodes only those instead of testing every byte of
 * {@code .text} (20 MB in a release Ollama binary, visited by several passes). Each test is a SWAR
 * zero-byte test (as in {@link ByteSearch}) over masked 8-byte loads; it may flag a position above a
 * true hit, never miss one, and every position it reports is checked in full by the caller, who keeps
 * its own exact test. Positions are reported in increasing order, as a byte-by-byte loop visits them.
 */
public final class X86Prefilter {
    private static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final long ONES = 0x0101010101010101L;
    private static final long HIGHS = 0x8080808080808080L;

    private X86Prefilter() {}

    private static long load(byte[] a, int i) { return (long) LONG.get(a, i); }

    private static long zeroBytes(long x) { return (x - ONES) & ~x & HIGHS; }

    /**
     * Every {@code i} in {@code [from, to)} with {@code i + 3 <= limit} where {@code a[i+1] == 0x8D} and
     * {@code a[i+2] & 0xC7 == 0x05}: the opcode and ModRM byte of {@code lea reg, [rip+disp32]} (SDM vol. 2,
     * 2.2.1.6) when {@code a[i]} is its REX prefix. The caller tests the prefix and everything else.
     */
    public static void ripLeaCandidates(byte[] a, int from, int to, int limit, IntConsumer hit) {
        int i = Math.max(0, from);
        int end = Math.min(to, limit - 2); // exclusive bound on i
        // Loads at i+1 and i+2 read up to a[i+9]: stay inside the array.
        int wideEnd = Math.min(end, limit - 9);
        final long op = 0x8DL * ONES, modMask = 0xC7L * ONES, mod = 0x05L * ONES;
        for (; i < wideEnd; i += 8) {
            long x = (load(a, i + 1) ^ op) | ((load(a, i + 2) & modMask) ^ mod);
            long z = zeroBytes(x);
            while (z != 0) {
                int at = i + (Long.numberOfTrailingZeros(z) >>> 3);
                z &= z - 1;
                if (at < end && a[at + 1] == (byte) 0x8D && (a[at + 2] & 0xC7) == 0x05) hit.accept(at);
            }
        }
        for (; i < end; i++) {
            if (a[i + 1] == (byte) 0x8D && (a[i + 2] & 0xC7) == 0x05) hit.accept(i);
        }
    }

    /**
     * Every {@code i} in {@code [from, to)} with {@code i + 2 <= limit} where {@code a[i]} is 0xE8 or 0xE9
     * ({@code call}/{@code jmp rel32}), or {@code a[i] == 0xFF} and {@code a[i+1]} is 0x15 or 0x25
     * ({@code call}/{@code jmp [rip+disp32]}).
     */
    public static void branchCandidates(byte[] a, int from, int to, int limit, IntConsumer hit) {
        int i = Math.max(0, from);
        int end = Math.min(to, limit - 1);
        int wideEnd = Math.min(end, limit - 8); // loads at i and i+1 read up to a[i+8]
        final long rel = 0xE8L * ONES, relMask = 0xFEL * ONES, ff = 0xFFL * ONES, modMask = 0xCFL * ONES, mod = 0x05L * ONES;
        for (; i < wideEnd; i += 8) {
            long w = load(a, i);
            long z = zeroBytes((w & relMask) ^ rel) | zeroBytes((w ^ ff) | ((load(a, i + 1) & modMask) ^ mod));
            while (z != 0) {
                int at = i + (Long.numberOfTrailingZeros(z) >>> 3);
                z &= z - 1;
                if (at < end && isBranch(a, at)) hit.accept(at);
            }
        }
        for (; i < end; i++) {
            if (isBranch(a, i)) hit.accept(i);
        }
    }

    /**
     * Every {@code i} in {@code [from, to)} with {@code i + 2 <= limit} where {@code a[i] == 0xFF} and
     * {@code a[i+1] == 0x25}: {@code jmp [rip+disp32]}, the instruction of a PLT stub. Far rarer in code
     * than the calls {@link #branchCandidates} also reports, so a search for stubs alone visits only these.
     */
    public static void ripJumpCandidates(byte[] a, int from, int to, int limit, IntConsumer hit) {
        int i = Math.max(0, from);
        int end = Math.min(to, limit - 1);
        int wideEnd = Math.min(end, limit - 8); // loads at i and i+1 read up to a[i+8]
        final long ff = 0xFFL * ONES, modrm = 0x25L * ONES;
        for (; i < wideEnd; i += 8) {
            long z = zeroBytes((load(a, i) ^ ff) | (load(a, i + 1) ^ modrm));
            while (z != 0) {
                int at = i + (Long.numberOfTrailingZeros(z) >>> 3);
                z &= z - 1;
                if (at < end && a[at] == (byte) 0xFF && a[at + 1] == 0x25) hit.accept(at);
            }
        }
        for (; i < end; i++) {
            if (a[i] == (byte) 0xFF && a[i + 1] == 0x25) hit.accept(i);
        }
    }

    /** The little-endian 32-bit value at {@code a[i..i+4)}, sign-extended: an instruction's displacement. */
    public static int le32(byte[] a, int i) {
        return (a[i] & 0xFF) | (a[i + 1] & 0xFF) << 8 | (a[i + 2] & 0xFF) << 16 | a[i + 3] << 24;
    }

    private static boolean isBranch(byte[] a, int i) {
        int b0 = a[i] & 0xFF;
        return b0 == 0xE8 || b0 == 0xE9 || (b0 == 0xFF && (a[i + 1] == 0x15 || a[i + 1] == 0x25));
    }
}
