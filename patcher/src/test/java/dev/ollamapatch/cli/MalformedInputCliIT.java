package dev.ollamapatch.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.ollamapatch.patch.Cli;
import dev.ollamapatch.patch.TestFiles;
import dev.ollamapatch.patch.Fixtures;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile input through the command line: many corrupt variants of a real fixture library, each run
 * through scan, apply --dry-run -o, apply -o, apply in place and inspect. Whatever the input, the
 * tool ends within seconds with a documented exit code, says what is wrong in one line naming the
 * file, shows no stack trace (unless --debug), writes nothing and leaves the input as it was.
 */
class MalformedInputCliIT {
    private static final Duration LIMIT = Duration.ofSeconds(10);

    /** A real ELF64 little-endian shared library with NVML sites (gen-b's libggml-base.so). */
    static byte[] base() throws IOException {
        return Files.readAllBytes(Fixtures.installDir("x86_64", "release", "gen-b").resolve("lib/ollama/libggml-base.so"));
    }

    /** Name -> bytes: every corrupt variant. */
    static Map<String, byte[]> variants() throws IOException {
        byte[] b = base();
        ByteBuffer h = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        long phoff = h.getLong(0x20), shoff = h.getLong(0x28);
        int phentsize = h.getShort(0x36) & 0xffff, phnum = h.getShort(0x38) & 0xffff;
        int shentsize = h.getShort(0x3a) & 0xffff, shnum = h.getShort(0x3c) & 0xffff;
        Map<String, byte[]> v = new LinkedHashMap<>();
        v.put("empty", new byte[0]);
        v.put("not-elf", "#!/bin/sh\necho hello\n".getBytes());
        v.put("magic-only", new byte[] {0x7f, 'E', 'L', 'F'});
        v.put("random-4k", random(4096, 1));
        byte[] randomAfterMagic = random(4096, 2);
        System.arraycopy(b, 0, randomAfterMagic, 0, 4);
        v.put("elf-magic-then-random", randomAfterMagic);

        // Truncated at every header boundary: ELF header fields, each program and section header, each section.
        TreeSet<Long> cuts = new TreeSet<>(List.of(1L, 4L, 5L, 6L, 16L, 24L, 0x20L, 0x28L, 0x30L, 0x3aL, 63L, 64L));
        for (int i = 0; i <= phnum; i++) cuts.add(phoff + (long) i * phentsize);
        for (int i = 0; i <= shnum; i++) cuts.add(shoff + (long) i * shentsize);
        for (int i = 0; i < shnum; i++) {
            long at = shoff + (long) i * shentsize;
            long off = h.getLong((int) at + 0x18), size = h.getLong((int) at + 0x20);
            if (off > 0 && off < b.length) cuts.add(off);
            if (off + size > 0 && off + size < b.length) cuts.add(off + size - 1);
        }
        cuts.add(b.length - 1L);
        for (long c : cuts) if (c > 0 && c < b.length) v.put("truncated-at-0x" + Long.toHexString(c), java.util.Arrays.copyOf(b, (int) c));

        // Random bytes over the headers.
        Random r = new Random(7);
        for (int i = 0; i < 12; i++) {
            byte[] m = b.clone();
            int region = i % 3;
            long start = region == 0 ? 16 : region == 1 ? phoff : shoff;
            long len = region == 0 ? 48 : region == 1 ? (long) phnum * phentsize : (long) shnum * shentsize;
            for (int k = 0; k < 8; k++) m[(int) (start + r.nextInt((int) len))] = (byte) r.nextInt();
            v.put("random-bytes-in-" + (region == 0 ? "ehdr" : region == 1 ? "phdrs" : "shdrs") + "-" + i, m);
        }

        // Counts and sizes at their maximum.
        v.put("e_phnum-max", put16(b, 0x38, 0xfffe));
        v.put("e_shnum-max", put16(b, 0x3c, 0xfffe));
        v.put("e_phentsize-max", put16(b, 0x36, 0xffff));
        v.put("e_shentsize-max", put16(b, 0x3a, 0xffff));
        v.put("e_shstrndx-max", put16(b, 0x3e, 0xfffe));
        v.put("e_phnum-xnum-without-section0", put16(put64(b, 0x28, 0), 0x38, 0xffff));
        for (int i = 1; i < shnum; i++) {
            long at = shoff + (long) i * shentsize;
            v.put("section" + i + "-size-max", put64(b, at + 0x20, -1L));
            v.put("section" + i + "-offset-past-end", put64(b, at + 0x18, b.length + 1L));
            v.put("section" + i + "-links-to-itself", put32(b, at + 0x28, i));
            v.put("section" + i + "-entsize-1", put64(b, at + 0x38, 1));
        }

        // Offsets past the end.
        v.put("e_phoff-past-end", put64(b, 0x20, b.length));
        v.put("e_shoff-past-end", put64(b, 0x28, b.length));
        v.put("e_shoff-max", put64(b, 0x28, -1L));
        v.put("e_phoff-negative", put64(b, 0x20, Long.MIN_VALUE));
        for (int i = 0; i < phnum; i++) {
            long at = phoff + (long) i * phentsize;
            v.put("segment" + i + "-offset-past-end", put64(b, at + 8, b.length * 2L));
            v.put("segment" + i + "-filesz-max", put64(b, at + 0x20, -1L));
            // Every segment made a copy of segment 0: overlapping PT_LOADs (and a DYNAMIC over the headers).
            byte[] m = b.clone();
            System.arraycopy(b, (int) phoff, m, (int) at, phentsize);
            if (i > 0) v.put("segment" + i + "-overlaps-segment0", m);
            v.put("segment" + i + "-dynamic-over-headers", put64(put32(b, at, 2), at + 8, 0));
        }
        return v;
    }

    @TestFactory
    Stream<DynamicTest> everyCommandOnEveryCorruptFile(@TempDir Path root) throws IOException {
        Map<String, byte[]> variants = variants();
        assertTrue(variants.size() > 150, "variants: " + variants.size());
        Map<Integer, Integer> exits = new TreeMap<>();
        List<DynamicTest> tests = new ArrayList<>();
        for (Map.Entry<String, byte[]> e : variants.entrySet()) {
            tests.add(DynamicTest.dynamicTest(e.getKey(), () -> runAll(root.resolve(e.getKey()), e.getValue(), exits)));
        }
        tests.add(DynamicTest.dynamicTest("summary", () -> {
            assertFalse(exits.isEmpty());
            System.out.println("MalformedInputCliIT: " + variants.size() + " inputs x 5 commands; exit codes " + exits);
        }));
        return tests.stream();
    }

    private static void runAll(Path dir, byte[] bytes, Map<Integer, Integer> exits) throws Exception {
        Files.createDirectories(dir);
        Path file = dir.resolve("libggml-base.so");
        Files.write(file, bytes);
        Path outDir = Files.createDirectories(dir.resolve("out"));
        Path out = outDir.resolve("patched.so");
        boolean parses = bytes.length > 0 && Cli.run("inspect", file).exit() == 0;
        List<Object[]> commands = List.of(
                new Object[] {"scan", file},
                new Object[] {"apply", "--dry-run", file, "-o", out},
                new Object[] {"apply", file, "-o", out},
                new Object[] {"apply", file},
                new Object[] {"inspect", file});
        for (Object[] cmd : commands) {
            Set<String> before = TestFiles.listing(dir);
            String sha = TestFiles.sha256(file);
            Cli.Result res = assertTimeoutPreemptively(LIMIT, () -> Cli.run(cmd), () -> String.join(" ", str(cmd)));
            synchronized (exits) { exits.merge(res.exit(), 1, Integer::sum); }
            String what = String.join(" ", str(cmd)) + "\n" + res;
            assertFalse(res.out().contains("Exception") || res.err().contains("Exception")
                    || res.err().contains("at dev.ollamapatch"), what);
            if (!parses) {
                // Not a valid ELF file: refused with exit 4, one line naming the file, nothing written.
                assertEquals(4, res.exit(), what);
                assertEquals(1, res.err().lines().count(), what);
                assertTrue(res.err().contains(file.getFileName().toString()), what);
                assertTrue(res.err().startsWith("ollama-patch: "), what);
                assertEquals(before, TestFiles.listing(dir), what);
                assertEquals(sha, TestFiles.sha256(file), what);
                continue;
            }
            // Still parses: whatever the command does, it ends with a documented code and one message line.
            assertTrue(Set.of(0, 3, 4, 5).contains(res.exit()), what);
            if (res.exit() != 0) {
                assertEquals(1, res.err().lines().filter(l -> l.startsWith("ollama-patch: ")).count(), what);
                assertTrue(res.err().contains(file.getFileName().toString()), what);
                assertEquals(before, TestFiles.listing(dir), what);
                assertEquals(sha, TestFiles.sha256(file), what);
            } else if (cmd[0].equals("inspect") || cmd[0].equals("scan") || cmd[1].equals("--dry-run")) {
                assertEquals(before, TestFiles.listing(dir), what);
                assertEquals(sha, TestFiles.sha256(file), what);
            } else if (cmd.length == 2) {
                Cli.Result restored = Cli.run("restore", file); // patched in place: put it back for the next one
                assertEquals(0, restored.exit(), restored.toString());
            }
        }
        // With --debug the full trace is there for whoever needs it.
        if (!parses) {
            Cli.Result debug = Cli.run("--debug", "inspect", file);
            assertEquals(4, debug.exit());
            assertTrue(debug.err().contains("at dev.ollamapatch"), debug.toString());
        }
    }

    @Test
    void directoriesWhereFilesAreExpected(@TempDir Path dir) throws Exception {
        Path install = Files.createDirectories(dir.resolve("install"));
        Files.createDirectories(install.resolve("bin/ollama")); // a directory where the binary should be
        Files.createDirectories(install.resolve("lib/ollama"));
        Files.write(install.resolve("lib/ollama/libggml-base.so"), java.util.Arrays.copyOf(base(), 100));
        Set<String> before = TestFiles.listing(dir);
        Cli.Result r = Cli.run("inspect", install);
        assertEquals(4, r.exit(), r.toString());
        assertTrue(r.err().contains("not a regular file"), r.toString());
        r = Cli.run("apply", install.resolve("bin/ollama"), "-o", dir.resolve("out"));
        assertEquals(2, r.exit(), r.toString());
        r = Cli.run("apply", install);
        assertEquals(4, r.exit(), r.toString());
        assertTrue(r.err().contains("libggml-base.so"), r.toString());
        r = Cli.run("scan", install);
        assertEquals(4, r.exit(), r.toString());
        Path good = dir.resolve("good.so");
        Files.write(good, base());
        Files.createDirectories(dir.resolve("outdir"));
        before = TestFiles.listing(dir);
        r = Cli.run("apply", good, "-o", dir.resolve("outdir"));
        assertEquals(2, r.exit(), r.toString());
        assertEquals(1, r.err().lines().count(), r.toString());
        assertEquals(before, TestFiles.listing(dir));
        for (Cli.Result x : List.of(r)) assertFalse(x.err().contains("Exception"), x.toString());
    }


    private static String[] str(Object[] a) {
        String[] s = new String[a.length];
        for (int i = 0; i < a.length; i++) s[i] = String.valueOf(a[i]);
        return s;
    }

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static byte[] put16(byte[] b, long at, int v) {
        byte[] m = b.clone();
        ByteBuffer.wrap(m).order(ByteOrder.LITTLE_ENDIAN).putShort((int) at, (short) v);
        return m;
    }

    private static byte[] put32(byte[] b, long at, int v) {
        byte[] m = b.clone();
        ByteBuffer.wrap(m).order(ByteOrder.LITTLE_ENDIAN).putInt((int) at, v);
        return m;
    }

    private static byte[] put64(byte[] b, long at, long v) {
        byte[] m = b.clone();
        ByteBuffer.wrap(m).order(ByteOrder.LITTLE_ENDIAN).putLong((int) at, v);
        return m;
    }
}
