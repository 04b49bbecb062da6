package dev.ollamapatch.site;

import java.util.ArrayList;
import java.util.List;

/** A small sorted set of half-open address ranges, asked "is this address inside one?" millions of times. */
final class AddressRanges {
    private final long[] lo;
    private final long[] hi;
    /** Lowest start and the span up to the highest end, for a single-branch reject. */
    private final long first;
    private final long span;

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
        first = lo.length == 0 ? 0 : lo[0];
        span = lo.length == 0 ? 0 : hi[hi.length - 1] - lo[0];
    }

    boolean isEmpty() { return lo.length == 0; }

    boolean contains(long address) {
        // One unsigned compare rejects everything outside [lo[0], hi[last]): scanning data calls this for
        // every word, and two signed compares on random words mispredict half the time.
        if (Long.compareUnsigned(address - first, span) >= 0) return false;
        // The starts are sorted as unsigned numbers (addresses at and above 2^63 are real on some
        // kernels and in hand-made files), so the search compares them unsigned too.
        int k = lastStartAtOrBelow(address);
        return k >= 0 && Long.compareUnsigned(address, hi[k]) < 0;
    }

    /** Index of the last range whose start is at or below {@code address} (unsigned), or -1. */
    private int lastStartAtOrBelow(long address) {
        int low = 0, high = lo.length - 1, found = -1;
        while (low <= high) {
            int mid = (low + high) >>> 1;
            if (Long.compareUnsigned(lo[mid], address) <= 0) {
                found = mid;
                low = mid + 1;
            } else {
                high = mid - 1;
            }
        }
        return found;
    }
}
