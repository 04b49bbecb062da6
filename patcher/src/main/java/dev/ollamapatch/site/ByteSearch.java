package dev.ollamapatch.site;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.function.IntConsumer;

/**
 * Finds every occurrence of a short pattern in a buffer, eight positions at a time.
 *
 * <p>Each step loads the eight bytes at {@code i} and the eight at {@code i + m - 1} as two longs,
 * XORs them with the pattern's first and last byte repeated, and ORs the results: a zero byte marks
 * a position where both the first and the last byte match. A SWAR zero-byte test finds such bytes
 * without a branch per byte, and only those positions are compared in full. Testing two bytes at
 * once keeps candidates rare in text too, where a single common letter would match often. On one
 * core this runs at several GB/s (see benchmarks/), far above the byte-at-a-time skip search it
 * replaces, whose table lookups ran at a few hundred MB/s through a mapped buffer.
 */
final class ByteSearch {
    private static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final long ONES = 0x0101010101010101L;
    private static final long HIGHS = 0x8080808080808080L;

    private ByteSearch() {}

    /** Every start in the whole buffer. */
    static void forEach(ByteBuffer buf, byte[] pattern, IntConsumer hit) {
        forEach(buf, pattern, 0, buf.limit(), hit);
    }

    /**
     * Every start {@code i} with {@code from <= i < to} and the whole pattern inside
     * {@code [0, buf.limit())}: bytes outside {@code [from, to)} are context only.
     */
    static void forEach(ByteBuffer buf, byte[] pattern, int from, int to, IntConsumer hit) {
        if (buf.hasArray()) {
            forEach(buf.array(), buf.arrayOffset(), buf.limit(), pattern, from, to, hit);
            return;
        }
        int m = pattern.length;
        int last = Math.min(to, buf.limit() - m + 1);
        for (int i = Math.max(0, from); i < last; i++) {
            int j = 0;
            while (j < m && buf.get(i + j) == pattern[j]) j++;
            if (j == m) hit.accept(i);
        }
    }

    /** As above over {@code a[base, base+limit)}; reported starts are relative to {@code base}. */
    static void forEach(byte[] a, int base, int limit, byte[] pattern, int from, int to, IntConsumer hit) {
        int m = pattern.length;
        if (m == 0) return;
        int last = Math.min(to, limit - m + 1); // exclusive bound on starts
        int i = Math.max(0, from);
        if (i >= last) return;
        long first = (pattern[0] & 0xFFL) * ONES;
        long lastByte = (pattern[m - 1] & 0xFFL) * ONES;
        // Both 8-byte loads (at i and at i+m-1) stay inside the buffer while i + m + 7 <= limit.
        int wideEnd = Math.min(last, limit - m - 7 + 1);
        for (; i < wideEnd; i += 8) {
            long x = ((long) LONG.get(a, base + i) ^ first) | ((long) LONG.get(a, base + i + m - 1) ^ lastByte);
            long z = (x - ONES) & ~x & HIGHS;
            while (z != 0) {
                int k = Long.numberOfTrailingZeros(z) >>> 3;
                z &= z - 1;
                int at = i + k;
                // The zero-byte test may flag a byte above a true zero: every candidate is checked in full.
                if (at < last && matches(a, base + at, pattern)) hit.accept(at);
            }
        }
        for (; i < last; i++) {
            if (matches(a, base + i, pattern)) hit.accept(i);
        }
    }

    private static boolean matches(byte[] a, int at, byte[] pattern) {
        for (int j = 0; j < pattern.length; j++) {
            if (a[at + j] != pattern[j]) return false;
        }
        return true;
    }
}
