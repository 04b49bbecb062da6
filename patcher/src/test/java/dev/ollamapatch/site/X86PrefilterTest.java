package dev.ollamapatch.site;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.IntPredicate;

/**
 * The prefilters report exactly the positions a byte-by-byte loop with the same test finds, in the
 * same order, over every window edge: random bytes dense in the searched values, and real code.
 */
class X86PrefilterTest {
    private static boolean lea(byte[] a, int i) { return a[i + 1] == (byte) 0x8D && (a[i + 2] & 0xC7) == 0x05; }

    private static boolean branch(byte[] a, int i) {
        int b = a[i] & 0xFF;
        return b == 0xE8 || b == 0xE9 || (b == 0xFF && (a[i + 1] == 0x15 || a[i + 1] == 0x25));
    }

    private static boolean ripJump(byte[] a, int i) { return a[i] == (byte) 0xFF && a[i + 1] == 0x25; }

    private static List<Integer> naive(int from, int to, int limit, int width, IntPredicate test) {
        List<Integer> out = new ArrayList<>();
        for (int i = Math.max(0, from); i < to && i + width <= limit; i++) if (test.test(i)) out.add(i);
        return out;
    }

    private static void check(byte[] a, int from, int to, int limit) {
        List<Integer> leas = new ArrayList<>(), branches = new ArrayList<>(), jumps = new ArrayList<>();
        X86Prefilter.ripLeaCandidates(a, from, to, limit, leas::add);
        X86Prefilter.branchCandidates(a, from, to, limit, branches::add);
        X86Prefilter.ripJumpCandidates(a, from, to, limit, jumps::add);
        assertEquals(naive(from, to, limit, 3, i -> lea(a, i)), leas, "lea " + from + ".." + to + " limit " + limit);
        assertEquals(naive(from, to, limit, 2, i -> branch(a, i)), branches, "branch " + from + ".." + to + " limit " + limit);
        assertEquals(naive(from, to, limit, 2, i -> ripJump(a, i)), jumps, "jmp [rip] " + from + ".." + to + " limit " + limit);
    }

    @Test
    void randomBytesDenseInOpcodesGiveTheSamePositionsAsAByteLoop() {
        Random r = new Random(21);
        byte[] values = {(byte) 0x48, (byte) 0x4C, (byte) 0x8D, 0x05, 0x0D, 0x15, 0x25, 0x35, (byte) 0x85,
                         (byte) 0xE8, (byte) 0xE9, (byte) 0xEA, (byte) 0xFF, (byte) 0xFE, 0x00, 0x01};
        for (int round = 0; round < 300; round++) {
            byte[] a = new byte[1 + r.nextInt(200)];
            for (int i = 0; i < a.length; i++) a[i] = r.nextInt(4) == 0 ? (byte) r.nextInt(256) : values[r.nextInt(values.length)];
            int limit = r.nextInt(a.length + 1);
            int from = r.nextInt(a.length + 1) - 3;
            int to = from + r.nextInt(a.length + 4);
            check(a, from, to, limit);
            check(a, 0, a.length, a.length);
        }
    }

    @Test
    void realCodeGivesTheSamePositionsAsAByteLoop() throws IOException {
        // The first 1 MiB of the Java launcher's own runtime library holds x86-64 or aarch64 code and data:
        // either way it is a byte mix the prefilter must agree on.
        Path lib = Path.of(System.getProperty("java.home"), "lib", "server", "libjvm.so");
        assertTrue(Files.isRegularFile(lib), lib + " missing");
        byte[] a;
        try (var in = Files.newInputStream(lib)) { a = in.readNBytes(1 << 20); }
        check(a, 0, a.length, a.length);
        check(a, 4093, 700_001, 700_017);
    }
}
