package dev.ollamapatch.patch;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** A small sorted set of half-open address ranges, asked "is this address inside one?" millions of times. */
final class AddressRanges {
    private final long[] lo;
    private final long[] hi;

    AddressRanges(List<long[]> ranges) {
        List<long[]> sorted = new ArrayList<>(ranges);
        sorted.sort((a, b) -> Long.compareUnsigned(a[0], b[0]));
        List<long[]> merged = new ArrayList<>();
        for (long[] r : sorted) {
            if (!merged.isEmpty() && Long.compareUnsigned(r[0], merged.get(merged.size() - 1)[1]) <= 0) {
                long[] last = merged.get(merged.size() - 1);
                if (Long.compareUnsigned(r[1], last[1]) > 0) last[1] = r[1];
            } else {
                merged.add(new long[] {r[0], r[1]});
            }
        }
        lo = new long[merged.size()];
        hi = new long[merged.size()];
        for (int i = 0; i < lo.length; i++) {
            lo[i] = merged.get(i)[0];
            hi[i] = merged.get(i)[1];
        }
    }

    boolean isEmpty() { return lo.length == 0; }

    boolean contains(long address) {
        if (lo.length == 0 || address < lo[0] || address >= hi[hi.length - 1]) return false;
        int i = Arrays.binarySearch(lo, address);
        if (i >= 0) return true;
        int k = -i - 2;
        return k >= 0 && address < hi[k];
    }
}
