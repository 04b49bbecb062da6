package dev.ollamapatch.image;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The streaming search that decides which large files are kept: the same answer as a plain search, in any chunking. */
class NeedlesTest {
    private static final List<String> NEEDLES = List.of("libnvidia-ml", "$ORIGIN/nvml.so", "/nvml.so", "dlopen", "dlmopen");

    private static boolean naive(byte[] b) {
        String s = new String(b, StandardCharsets.ISO_8859_1);
        return NEEDLES.stream().anyMatch(s::contains);
    }

    private static boolean streamed(byte[] b, Random r) {
        Needles.Search s = new Needles(Set.copyOf(NEEDLES)).search();
        int at = 0;
        while (at < b.length) {
            int n = Math.min(b.length - at, r.nextBoolean() ? 1 + r.nextInt(20) : 1 + r.nextInt(5000));
            s.feed(b, at, n);
            at += n;
        }
        return s.found();
    }

    @Test
    void aNeedleAnywhereIsFoundInAnyChunkingAndNothingElseIs() {
        Random r = new Random(7);
        for (int round = 0; round < 400; round++) {
            byte[] raw = new byte[1 + r.nextInt(30_000)];
            r.nextBytes(raw);
            byte[] b = round % 2 == 0 ? Base64.getMimeEncoder().encode(raw) : raw;
            boolean plant = round % 3 != 0;
            if (plant) {
                byte[] n = NEEDLES.get(r.nextInt(NEEDLES.size())).getBytes(StandardCharsets.ISO_8859_1);
                if (n.length <= b.length) System.arraycopy(n, 0, b, r.nextInt(b.length - n.length + 1), n.length);
            }
            assertEquals(naive(b), streamed(b, r), "round " + round);
        }
    }

    @Test
    void aNeedleSplitAcrossManySmallChunksIsFound() {
        byte[] b = ("x".repeat(100) + "dlmopen" + "y".repeat(100)).getBytes(StandardCharsets.ISO_8859_1);
        Needles.Search s = new Needles(Set.copyOf(NEEDLES)).search();
        for (int i = 0; i < b.length; i++) s.feed(b, i, 1);
        assertTrue(s.found());
        Needles.Search none = new Needles(Set.copyOf(NEEDLES)).search();
        byte[] near = "dlope_n libnvidia-m /nvml.s dlmope".getBytes(StandardCharsets.ISO_8859_1);
        none.feed(near, 0, near.length);
        assertFalse(none.found());
    }

    @Test
    void theFourLaneSearchAgreesAtLaneBoundaries() {
        Needles n = new Needles(Set.copyOf(NEEDLES));
        byte[] needle = "libnvidia-ml".getBytes(StandardCharsets.ISO_8859_1);
        for (int len : List.of(4096, 4099, 65536 + 7)) {
            for (int at = 0; at + needle.length <= len; at += Math.max(1, len / 97)) {
                byte[] b = new byte[len];
                java.util.Arrays.fill(b, (byte) 'q');
                System.arraycopy(needle, 0, b, at, needle.length);
                assertTrue(n.within(b, 0, len), len + " at " + at);
            }
            // and around each quarter, where one lane ends and the next begins
            for (int q = 1; q < 4; q++) {
                for (int d = -needle.length; d <= needle.length; d++) {
                    int at = len / 4 * q + d;
                    byte[] b = new byte[len];
                    java.util.Arrays.fill(b, (byte) 'q');
                    System.arraycopy(needle, 0, b, at, needle.length);
                    assertTrue(n.within(b, 0, len), len + " at " + at);
                }
            }
        }
    }
}
