package dev.ollamapatch.elf;

import java.util.Arrays;
import java.util.OptionalLong;

/**
 * The places a loader relocates by the load base alone (RELATIVE relocations and RELR), each with
 * the unrelocated target address. Held as two primitive arrays sorted by place: Go binaries carry
 * hundreds of thousands of these, and string-header discovery looks them up by address.
 */
public final class RelativeRelocations {
    private final long[] offsets;
    private final long[] targets;

    private RelativeRelocations(long[] offsets, long[] targets) {
        this.offsets = offsets;
        this.targets = targets;
    }

    public int size() {
        return offsets.length;
    }

    /** The target of the relocation at place {@code vaddr}; if listed twice, the later entry (it wins at load). */
    public OptionalLong targetAt(long vaddr) {
        int i = Arrays.binarySearch(offsets, vaddr);
        if (i < 0) {
            return OptionalLong.empty();
        }
        while (i + 1 < offsets.length && offsets[i + 1] == vaddr) {
            i++;
        }
        return OptionalLong.of(targets[i]);
    }

    /** The place (r_offset, a virtual address) of the i-th relocation in sorted order. */
    public long offsetAt(int i) {
        return offsets[i];
    }

    public long targetAtIndex(int i) {
        return targets[i];
    }

    /** Accumulates pairs, then sorts them stably by place. */
    static final class Builder {
        private long[] offs = new long[64];
        private long[] tgts = new long[64];
        private int n;

        void add(long offset, long target) {
            if (n == offs.length) {
                offs = Arrays.copyOf(offs, n * 2);
                tgts = Arrays.copyOf(tgts, n * 2);
            }
            offs[n] = offset;
            tgts[n] = target;
            n++;
        }

        int size() {
            return n;
        }

        RelativeRelocations build() {
            long[] o = Arrays.copyOf(offs, n), t = Arrays.copyOf(tgts, n);
            if (!isSorted(o)) {
                mergeSort(o, t, new long[n], new long[n], 0, n);
            }
            return new RelativeRelocations(o, t);
        }

        private static boolean isSorted(long[] a) {
            for (int i = 1; i < a.length; i++) {
                if (a[i - 1] > a[i]) {
                    return false;
                }
            }
            return true;
        }

        /** Stable, so that duplicate places keep file order. Depth is log2(n). */
        private static void mergeSort(long[] o, long[] t, long[] so, long[] st, int lo, int hi) {
            if (hi - lo < 2) {
                return;
            }
            int mid = (lo + hi) >>> 1;
            mergeSort(o, t, so, st, lo, mid);
            mergeSort(o, t, so, st, mid, hi);
            if (o[mid - 1] <= o[mid]) {
                return;
            }
            System.arraycopy(o, lo, so, lo, hi - lo);
            System.arraycopy(t, lo, st, lo, hi - lo);
            int i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                if (so[j] < so[i]) {
                    o[k] = so[j];
                    t[k++] = st[j++];
                } else {
                    o[k] = so[i];
                    t[k++] = st[i++];
                }
            }
            while (i < mid) {
                o[k] = so[i];
                t[k++] = st[i++];
            }
            while (j < hi) {
                o[k] = so[j];
                t[k++] = st[j++];
            }
        }
    }
}
