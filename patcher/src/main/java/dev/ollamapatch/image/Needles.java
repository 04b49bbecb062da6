package dev.ollamapatch.image;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Whether a stream holds any of a few byte strings, searched as it passes in chunks (a match may
 * straddle two chunks). Wu-Manber with two-byte blocks: the window moves by up to the shortest
 * needle's length less one at each look, so that most bytes of a file are never compared.
 */
final class Needles {
    private final byte[][] needles;
    private final int min;       // the shortest needle's length (>= 2)
    private final int maxLen;    // the longest needle's length
    // By a 14-bit hash of the two-byte block (16 KiB: the table stays in the first-level cache); blocks
    // that share a hash share the smallest shift, which only makes the search look closer.
    private final byte[] shift = new byte[1 << 14];
    private final int[][] byBlock = new int[1 << 14][]; // needles whose window-end block hashes here

    Needles(Set<String> strings) {
        List<byte[]> n = new ArrayList<>();
        for (String s : new LinkedHashSet<>(strings)) {
            if (s.length() < 2) throw new IllegalArgumentException("needle too short: " + s);
            n.add(s.getBytes(StandardCharsets.ISO_8859_1));
        }
        if (n.isEmpty()) throw new IllegalArgumentException("no needles");
        needles = n.toArray(new byte[0][]);
        int m = Integer.MAX_VALUE, mx = 0;
        for (byte[] x : needles) {
            m = Math.min(m, x.length);
            mx = Math.max(mx, x.length);
        }
        min = Math.min(m, 127);
        maxLen = mx;
        Arrays.fill(shift, (byte) (min - 1));
        for (int k = 0; k < needles.length; k++) {
            byte[] x = needles[k];
            final int kk = k;
            for (int q = 1; q < min; q++) { // the block x[q-1], x[q] of the needle's first min bytes
                int block = hash(x[q - 1], x[q]);
                int s = min - 1 - q;
                if (s < shift[block]) shift[block] = (byte) s;
                if (s == 0) {
                    int[] old = byBlock[block];
                    if (old != null && Arrays.stream(old).anyMatch(i -> i == kk)) continue;
                    int[] now = old == null ? new int[1] : Arrays.copyOf(old, old.length + 1);
                    now[now.length - 1] = k;
                    byBlock[block] = now;
                }
            }
        }
    }

    private static int hash(byte a, byte b) {
        return ((a & 0x7F) << 7) | (b & 0x7F);
    }

    /** A search over one stream. */
    Search search() {
        return new Search();
    }

    final class Search {
        private final byte[] carry = new byte[2 * maxLen];
        private int carried;
        private boolean found;

        boolean found() {
            return found;
        }

        /** The next {@code len} bytes of the stream. */
        void feed(byte[] b, int off, int len) {
            if (found || len <= 0) return;
            // A match across the boundary: it starts in the last maxLen-1 bytes before this chunk.
            if (carried > 0) {
                int head = Math.min(len, maxLen - 1);
                System.arraycopy(b, off, carry, carried, head);
                if (within(carry, 0, carried + head)) {
                    found = true;
                    return;
                }
            }
            if (within(b, off, off + len)) {
                found = true;
                return;
            }
            // Keep the stream's last maxLen-1 bytes.
            int keep = maxLen - 1;
            if (len >= keep) {
                System.arraycopy(b, off + len - keep, carry, 0, keep);
                carried = keep;
            } else {
                int fromOld = Math.min(carried, keep - len);
                System.arraycopy(carry, carried - fromOld, carry, 0, fromOld);
                System.arraycopy(b, off, carry, fromOld, len);
                carried = fromOld + len;
            }
        }
    }

    /**
     * Whether a needle lies wholly in {@code b[from, to)}. The range is searched as four lanes at once
     * (each overlapping the next by the longest needle): one lane's next step waits on its loads, and
     * four independent lanes keep the core busy while it waits.
     */
    boolean within(byte[] b, int from, int to) {
        int len = to - from;
        if (len < 4 * maxLen + 64) return lane(b, from, to);
        int q = len / 4, over = maxLen - 1;
        int m = min;
        byte[] shift = this.shift;
        int p0 = from + m - 1, e0 = from + q + over;
        int p1 = from + q + m - 1, e1 = from + 2 * q + over;
        int p2 = from + 2 * q + m - 1, e2 = from + 3 * q + over;
        int p3 = from + 3 * q + m - 1, e3 = to;
        while (p0 < e0 && p1 < e1 && p2 < e2 && p3 < e3) {
            int s0 = shift[((b[p0 - 1] & 0x7F) << 7) | (b[p0] & 0x7F)];
            int s1 = shift[((b[p1 - 1] & 0x7F) << 7) | (b[p1] & 0x7F)];
            int s2 = shift[((b[p2 - 1] & 0x7F) << 7) | (b[p2] & 0x7F)];
            int s3 = shift[((b[p3 - 1] & 0x7F) << 7) | (b[p3] & 0x7F)];
            if ((s0 | s1 | s2 | s3) != 0 && s0 != 0 && s1 != 0 && s2 != 0 && s3 != 0) {
                p0 += s0;
                p1 += s1;
                p2 += s2;
                p3 += s3;
                continue;
            }
            if (s0 == 0) { if (verify(b, p0, to)) return true; p0++; } else p0 += s0;
            if (s1 == 0) { if (verify(b, p1, to)) return true; p1++; } else p1 += s1;
            if (s2 == 0) { if (verify(b, p2, to)) return true; p2++; } else p2 += s2;
            if (s3 == 0) { if (verify(b, p3, to)) return true; p3++; } else p3 += s3;
        }
        // The lanes' rests, one at a time (each from its own window: p - m + 1).
        return lane(b, p0 - m + 1, e0) || lane(b, p1 - m + 1, e1) || lane(b, p2 - m + 1, e2) || lane(b, p3 - m + 1, e3);
    }

    private boolean lane(byte[] b, int from, int to) {
        int m = min;
        byte[] shift = this.shift;
        int pos = from + m - 1; // the window's last byte
        while (pos < to) {
            int s = shift[((b[pos - 1] & 0x7F) << 7) | (b[pos] & 0x7F)];
            if (s > 0) {
                pos += s;
                continue;
            }
            if (verify(b, pos, to)) return true;
            pos++;
        }
        return false;
    }

    /** Whether a needle starts where the window ending at {@code pos} starts (and ends before {@code to}). */
    private boolean verify(byte[] b, int pos, int to) {
        int start = pos - min + 1;
        for (int k : byBlock[((b[pos - 1] & 0x7F) << 7) | (b[pos] & 0x7F)]) {
            byte[] x = needles[k];
            if (start + x.length <= to && matches(b, start, x)) return true;
        }
        return false;
    }

    private static boolean matches(byte[] b, int at, byte[] x) {
        for (int i = 0; i < x.length; i++) {
            if (b[at + i] != x[i]) return false;
        }
        return true;
    }
}
