package dev.ollamapatch.site;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Every occurrence, in both the eight-at-a-time path and the byte-by-byte tail, heap or direct. */
class ByteSearchTest {
    private static List<Integer> naive(byte[] a, byte[] p, int from, int to) {
        List<Integer> out = new ArrayList<>();
        for (int i = Math.max(0, from); i < to && i + p.length <= a.length; i++) {
            int j = 0;
            while (j < p.length && a[i + j] == p[j]) j++;
            if (j == p.length) out.add(i);
        }
        return out;
    }

    private static List<Integer> heap(byte[] a, byte[] p, int from, int to) {
        List<Integer> out = new ArrayList<>();
        ByteSearch.forEach(ByteBuffer.wrap(a), p, from, to, out::add);
        return out;
    }

    private static List<Integer> direct(byte[] a, byte[] p, int from, int to) {
        ByteBuffer d = ByteBuffer.allocateDirect(a.length);
        d.put(a).flip();
        List<Integer> out = new ArrayList<>();
        ByteSearch.forEach(d, p, from, to, out::add);
        return out;
    }

    @Test
    void findsEveryOccurrenceIncludingOverlappingOnes() {
        byte[] a = "aaaaaaaaaaaaaaaaaaaaa".getBytes(StandardCharsets.US_ASCII);
        byte[] p = "aaa".getBytes(StandardCharsets.US_ASCII);
        assertEquals(naive(a, p, 0, a.length), heap(a, p, 0, a.length));
        assertEquals(19, heap(a, p, 0, a.length).size());
    }

    @Test
    void atTheVeryStartAndTheVeryEnd() {
        byte[] a = "libnvidia-ml.so.1 padding padding libnvidia-ml.so.1".getBytes(StandardCharsets.US_ASCII);
        byte[] p = "libnvidia-ml.so.1".getBytes(StandardCharsets.US_ASCII);
        assertEquals(List.of(0, a.length - p.length), heap(a, p, 0, a.length));
        assertEquals(List.of(0, a.length - p.length), direct(a, p, 0, a.length));
    }

    @Test
    void startsOutsideFromToAreNotReportedButBytesThereAreContext() {
        byte[] a = "xxlibnvidia-ml.so.1xx".getBytes(StandardCharsets.US_ASCII);
        byte[] p = "libnvidia-ml".getBytes(StandardCharsets.US_ASCII);
        assertEquals(List.of(2), heap(a, p, 2, 3), "a start at from, with its bytes beyond to");
        assertEquals(List.of(), heap(a, p, 3, a.length));
        assertEquals(List.of(), heap(a, p, 0, 2));
    }

    @Test
    void emptyOrOversizedPatternsFindNothing() {
        byte[] a = "abc".getBytes(StandardCharsets.US_ASCII);
        assertEquals(List.of(), heap(a, new byte[0], 0, a.length));
        assertEquals(List.of(), heap(a, "abcd".getBytes(StandardCharsets.US_ASCII), 0, a.length));
    }

    @Test
    void agreesWithANaiveSearchOnRandomInputs() {
        Random random = new Random(7);
        for (int round = 0; round < 500; round++) {
            byte[] a = new byte[random.nextInt(200)];
            for (int i = 0; i < a.length; i++) a[i] = (byte) ('a' + random.nextInt(3));
            byte[] p = new byte[1 + random.nextInt(5)];
            for (int i = 0; i < p.length; i++) p[i] = (byte) ('a' + random.nextInt(3));
            int from = a.length == 0 ? 0 : random.nextInt(a.length);
            int to = from + random.nextInt(a.length + 1 - from);
            List<Integer> want = naive(a, p, from, to);
            assertEquals(want, heap(a, p, from, to), "round " + round);
            assertEquals(want, direct(a, p, from, to), "round " + round);
        }
    }

    @Test
    void highBytesMatchAsBytes() {
        byte[] a = {(byte) 0xFF, (byte) 0x80, 0, (byte) 0xFF, (byte) 0x80, 1, 2, 3, 4, 5, 6, 7, 8, 9, (byte) 0xFF, (byte) 0x80};
        byte[] p = {(byte) 0xFF, (byte) 0x80};
        assertEquals(List.of(0, 3, 14), heap(a, p, 0, a.length));
    }
}
