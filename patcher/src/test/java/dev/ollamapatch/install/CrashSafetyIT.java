package dev.ollamapatch.install;

import dev.ollamapatch.patch.Cli;
import dev.ollamapatch.io.Sha256;
import dev.ollamapatch.patch.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Kill -9 at random moments while a 300+ MB file is patched in place: afterwards the file is always
 * byte-identical to the original or to the fully patched version, and a new apply (or verify) succeeds.
 */
class CrashSafetyIT {
    private static final int RUNS = 20;
    private static final long PADDING = 320L << 20;

    @TempDir
    Path tmp;

    private static String sha(Path p) throws Exception {
        return Sha256.of(p).hex();
    }

    @Test
    void sigkillAtAnyMomentLeavesTheOriginalOrThePatchedFile() throws Exception {
        // A real fixture with 320 MiB of data after it: still the same valid ELF file.
        Path original = tmp.resolve("original");
        Files.copy(Fixtures.binary("x86_64", "release", "gen-c"), original);
        try (RandomAccessFile f = new RandomAccessFile(original.toFile(), "rw")) {
            f.seek(f.length());
            byte[] block = new byte[1 << 20];
            new Random(1).nextBytes(block);
            for (long i = 0; i < PADDING; i += block.length) f.write(block);
        }
        assertTrue(Files.size(original) > 300L << 20);
        String originalSha = sha(original);

        // One undisturbed run: the patched hash, and how long a whole run takes.
        Path dir0 = Files.createDirectories(tmp.resolve("full"));
        Path target0 = dir0.resolve("ollama");
        Files.copy(original, target0);
        long t0 = System.nanoTime();
        Process full = Cli.process(Map.of(), "apply", target0, "--shim", Fixtures.stub("x86_64"))
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        assertTrue(full.waitFor(300, TimeUnit.SECONDS));
        assertEquals(0, full.exitValue());
        long fullMillis = (System.nanoTime() - t0) / 1_000_000;
        String patchedSha = sha(target0);
        Files.delete(InstallLayout.backupOf(target0));
        Files.delete(target0);

        Random random = new Random(42);
        int sawOriginal = 0, sawPatched = 0;
        for (int run = 0; run < RUNS; run++) {
            Path dir = Files.createDirectories(tmp.resolve("run" + run));
            Path target = dir.resolve("ollama");
            Files.copy(original, target);
            long killAfter = (long) (random.nextDouble() * fullMillis);
            Process p = Cli.process(Map.of(), "apply", target, "--shim", Fixtures.stub("x86_64"))
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            if (!p.waitFor(killAfter, TimeUnit.MILLISECONDS)) {
                p.destroyForcibly(); // SIGKILL
                p.waitFor();
            }
            String now = sha(target);
            assertTrue(Set.of(originalSha, patchedSha).contains(now),
                    "run " + run + " killed after " + killAfter + " ms left a file that is neither version");
            if (now.equals(originalSha)) sawOriginal++; else sawPatched++;

            Cli.Result again = Cli.runProcess("apply", target, "--shim", Fixtures.stub("x86_64"));
            assertEquals(0, again.exit(), "run " + run + ": " + again);
            assertEquals(patchedSha, sha(target));
            assertEquals(0, Cli.runProcess("verify", target).exit(), "run " + run);
            try (Stream<Path> s = Files.list(dir)) {
                assertTrue(s.noneMatch(x -> x.getFileName().toString().endsWith(".ollama-patch.tmp")),
                        "temporary files of the killed run are cleaned up");
            }
            try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(x -> x.toFile().delete());
            }
        }
        System.out.printf("crash safety: %d runs killed within %d ms: %d left the original, %d the patched file%n",
                RUNS, fullMillis, sawOriginal, sawPatched);
        assertEquals(RUNS, sawOriginal + sawPatched);
    }
}
