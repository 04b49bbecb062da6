package dev.ollamapatch.patch;

import java.nio.ByteBuffer;
import java.util.function.IntConsumer;

/** Finds every occurrence of a short pattern in a buffer (Horspool: skips ahead on mismatches). */
final class ByteSearch {
    private ByteSearch() {}

    static void forEach(ByteBuffer buf, byte[] pattern, IntConsumer hit) {
        int m = pattern.length;
        int n = buf.limit();
        if (m == 0 || n < m) return;
        int[] shift = new int[256];
        java.util.Arrays.fill(shift, m);
        for (int i = 0; i < m - 1; i++) shift[pattern[i] & 0xFF] = m - 1 - i;
        byte last = pattern[m - 1];
        int i = 0;
        while (i <= n - m) {
            byte b = buf.get(i + m - 1);
            if (b == last) {
                int j = m - 2;
                while (j >= 0 && buf.get(i + j) == pattern[j]) j--;
                if (j < 0) hit.accept(i);
            }
            i += shift[b & 0xFF];
        }
    }
}
