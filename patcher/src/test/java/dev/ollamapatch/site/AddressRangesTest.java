package dev.ollamapatch.site;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import java.util.List;

/** Half-open ranges, merged, searched as unsigned addresses. */
class AddressRangesTest {
    private static AddressRanges of(long... bounds) {
        List<long[]> ranges = new java.util.ArrayList<>();
        for (int i = 0; i < bounds.length; i += 2) ranges.add(new long[] {bounds[i], bounds[i + 1]});
        return new AddressRanges(ranges);
    }

    @Test
    void startIsInsideAndEndIsNot() {
        AddressRanges r = of(0x1000, 0x2000);
        assertFalse(r.contains(0xFFF));
        assertTrue(r.contains(0x1000));
        assertTrue(r.contains(0x1FFF));
        assertFalse(r.contains(0x2000));
    }

    @Test
    void noRangesContainNothing() {
        AddressRanges r = of();
        assertTrue(r.isEmpty());
        assertFalse(r.contains(0));
        assertFalse(r.contains(-1L));
    }

    @Test
    void overlappingAndTouchingRangesMergeInAnyOrder() {
        AddressRanges r = of(0x3000, 0x4000, 0x1000, 0x2000, 0x1800, 0x2800, 0x2800, 0x2900);
        assertTrue(r.contains(0x1000));
        assertTrue(r.contains(0x27FF));
        assertTrue(r.contains(0x28FF));
        assertFalse(r.contains(0x2900));
        assertFalse(r.contains(0x2FFF));
        assertTrue(r.contains(0x3000));
        assertFalse(r.contains(0x4000));
    }

    @Test
    void gapsBetweenRangesAreOutside() {
        AddressRanges r = of(0x1000, 0x1010, 0x2000, 0x2010, 0x3000, 0x3010);
        for (long a : new long[] {0x1010, 0x1FFF, 0x2010, 0x2FFF, 0x3010}) assertFalse(r.contains(a), Long.toHexString(a));
        for (long a : new long[] {0x1000, 0x100F, 0x2000, 0x3008}) assertTrue(r.contains(a), Long.toHexString(a));
    }

    /** Regression: the ranges were sorted unsigned but searched signed, so high halves got lost. */
    @Test
    void addressesAtAndAbove2To63AreFound() {
        long high = 0x8000_0000_0000_0000L;   // 2^63
        long top = 0xFFFF_FFFF_FFFF_F000L;
        AddressRanges r = of(high, high + 0x1000, 0x1000, 0x2000, top, top + 0x800, 0x7FFF_FFFF_FFFF_F000L, high);
        assertTrue(r.contains(high), "2^63 itself");
        assertTrue(r.contains(high + 0xFFF));
        assertFalse(r.contains(high + 0x1000));
        assertTrue(r.contains(top));
        assertTrue(r.contains(top + 0x7FF));
        assertFalse(r.contains(top + 0x800));
        assertTrue(r.contains(0x1000));
        assertTrue(r.contains(0x7FFF_FFFF_FFFF_FFFFL), "just below 2^63, in the range ending at 2^63");
        assertFalse(r.contains(0x2000));
        assertFalse(r.contains(-1L));
    }

    @Test
    void aSingleRangeAbove2To63() {
        long a = 0xC000_0000_0000_0000L;
        AddressRanges r = of(a, a + 16);
        assertTrue(r.contains(a + 8));
        assertFalse(r.contains(a - 1));
        assertFalse(r.contains(8));
    }
}
