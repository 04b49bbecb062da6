package dev.ollamapatch.install;

import dev.ollamapatch.patch.Cli;
import dev.ollamapatch.patch.Fixtures;
import dev.ollamapatch.patch.TestFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * SIGKILL at random moments, over and over, of apply and restore of one install (each run starts
 * from whatever the killed one before it left). After every kill: each file is its original or its
 * patched version, never a mixture; a patched file has its backup and its manifest; and the states
 * met are counted and printed. At the end, one restore brings back every original byte for byte
 * and leaves nothing behind.
 *
 * <p>Random timing rarely lands between two renames, so a second loop kills at a chosen step:
 * {@code strace -e inject=SYSCALL:signal=KILL:when=N} stops the run on entering the Nth rename, link,
 * unlink or fsync of the thread doing the work, the steps taken in a shuffled order so that every step
 * of apply and of restore is hit across the loop.
 */
class KillLoopIT {
    private static final int ITERATIONS = Integer.getInteger("killloop.iterations", 100);
    private static final long PADDING = 12L << 20;

    @TempDir
    Path tmp;

    private static void pad(Path f, Random random) throws Exception {
        try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
            r.seek(r.length());
            byte[] block = new byte[1 << 20];
            for (long i = 0; i < PADDING; i += block.length) {
                random.nextBytes(block);
                r.write(block);
            }
        }
    }

    @Test
    void killedAtAnyMomentApplyAndRestoreLeaveAStateThatRestoreUndoes() throws Exception {
        Random random = new Random(15);
        Path root = Fixtures.copyInstall(Fixtures.installDir("x86_64", "release", "gen-b"), tmp.resolve("usr"));
        Files.move(root.resolve("bin/gen-b"), root.resolve("bin/ollama"));
        List<Path> files = List.of(root.resolve("bin/ollama"), root.resolve("lib/ollama/libggml-base.so"));
        for (Path f : files) pad(f, random); // larger files: wider windows between the steps
        Set<String> listing = TestFiles.listing(root);
        Map<Path, String> original = new TreeMap<>();
        for (Path f : files) original.put(f, TestFiles.sha256(f));

        // Undisturbed runs: the patched hashes, and how long each command takes.
        long t0 = System.nanoTime();
        assertEquals(0, run("apply", root).waitFor());
        long applyMillis = (System.nanoTime() - t0) / 1_000_000;
        Map<Path, String> patched = new TreeMap<>();
        for (Path f : files) patched.put(f, TestFiles.sha256(f));
        t0 = System.nanoTime();
        assertEquals(0, run("restore", root).waitFor());
        long restoreMillis = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(listing, TestFiles.listing(root));

        // Most of a short run is the JVM starting: kills are spread over the part after that.
        t0 = System.nanoTime();
        assertEquals(0, Cli.process(Map.of(), "--version").redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor());
        long startMillis = (System.nanoTime() - t0) / 1_000_000;

        Map<String, Integer> states = new TreeMap<>();
        int killedMidway = 0;
        for (int i = 0; i < ITERATIONS; i++) {
            // Alternately, so that each command starts from what the other left; the window reaches well
            // past an undisturbed run (the machine's load varies), so about half of them finish.
            String command = i % 2 == 0 ? "apply" : "restore";
            long limit = command.equals("apply") ? applyMillis : restoreMillis;
            long from = Math.min(startMillis * 8 / 10, limit / 2);
            long killAfter = from + (long) (random.nextDouble() * (limit * 2 - from));
            Process p = run(command, root);
            boolean finished = p.waitFor(killAfter, TimeUnit.MILLISECONDS);
            if (!finished) {
                p.destroyForcibly(); // SIGKILL
                p.waitFor();
                killedMidway++;
            } else {
                // Whatever the killed run before it left, a run that finishes succeeds (no stuck state).
                assertTrue(p.exitValue() == 0 || (command.equals("restore") && p.exitValue() == 3),
                        "iteration " + i + ": " + command + " exited " + p.exitValue());
            }
            StringBuilder state = new StringBuilder();
            int nPatched = 0;
            for (Path f : files) {
                String sha = TestFiles.sha256(f);
                assertTrue(sha.equals(original.get(f)) || sha.equals(patched.get(f)),
                        "iteration " + i + " (" + command + " killed after " + killAfter + " ms): " + f + " is a mixture");
                if (sha.equals(patched.get(f))) {
                    nPatched++;
                    Path backup = InstallLayout.backupOf(f);
                    assertTrue(Files.isRegularFile(backup, LinkOption.NOFOLLOW_LINKS)
                            && TestFiles.sha256(backup).equals(original.get(f)), "iteration " + i + ": the backup of " + f);
                    assertTrue(Files.exists(root.resolve(".ollama-patch.json")), "iteration " + i + ": the manifest");
                }
            }
            state.append(nPatched == 0 ? "originals" : nPatched == files.size() ? "patched" : "partly patched");
            state.append(Files.exists(root.resolve(".ollama-patch.json")) ? ", manifest" : ", no manifest");
            long backups = files.stream().filter(f -> Files.exists(InstallLayout.backupOf(f))).count();
            if (backups > 0) state.append(", ").append(backups).append(" backup").append(backups == 1 ? "" : "s");
            Set<String> now = TestFiles.listing(root);
            long temps = now.stream().filter(n -> n.endsWith(".ollama-patch.tmp")).count();
            if (temps > 0) state.append(", ").append(temps).append(" temporary file").append(temps == 1 ? "" : "s");
            if (now.contains(".ollama-patch.lock")) state.append(", lock file");
            states.merge(state.toString(), 1, Integer::sum);
        }
        System.out.printf("kill -9 loop: %d runs of apply or restore (%d killed midway; a whole apply takes %d ms, "
                + "a restore %d ms, the JVM alone %d ms); states left:%n", ITERATIONS, killedMidway, applyMillis,
                restoreMillis, startMillis);
        states.forEach((s, n) -> System.out.printf("  %4d  %s%n", n, s));

        Cli.Result finish = Cli.run("restore", root);
        assertTrue(finish.exit() == 0 || finish.exit() == 3, finish.toString());
        for (Path f : files) assertEquals(original.get(f), TestFiles.sha256(f), "restored " + f);
        assertEquals(listing, TestFiles.listing(root), "nothing left behind");
        assertTrue(ITERATIONS < 100 || killedMidway >= ITERATIONS / 4, "enough runs were killed midway: " + killedMidway);
    }

    private static final List<String> STEP_CALLS =
            List.of("rename", "renameat", "renameat2", "link", "linkat", "unlink", "unlinkat", "fsync", "fdatasync");
    private static final Pattern STEP_LINE = Pattern.compile("^(\\d+)\\s+([a-z0-9]+)\\(");

    /** One step of a run: the {@code n}th call of {@code syscall} by the thread doing the work. */
    private record Step(String command, String syscall, int n) {
        @Override public String toString() { return command + " " + syscall + " #" + n; }
    }

    /** The steps an undisturbed run of {@code command} makes, in order, on the thread doing the work. */
    private List<Step> steps(String command, Path root) throws Exception {
        Path log = tmp.resolve(command + ".strace");
        Process p = traced(List.of("strace", "-f", "-qq", "-o", log.toString(), "-e", "trace=" + String.join(",", STEP_CALLS)),
                command, root);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), command + " under strace");
        Map<String, List<String>> byThread = new LinkedHashMap<>();
        String worker = null;
        for (String line : Files.readAllLines(log)) {
            Matcher m = STEP_LINE.matcher(line);
            if (!m.find() || !STEP_CALLS.contains(m.group(2))) continue;
            byThread.computeIfAbsent(m.group(1), t -> new ArrayList<>()).add(m.group(2));
            if (line.contains(root.toString()) && m.group(2).startsWith("rename")) worker = m.group(1);
        }
        assertTrue(worker != null, "a rename inside the target was seen");
        List<Step> out = new ArrayList<>();
        Map<String, Integer> seen = new TreeMap<>();
        for (String call : byThread.get(worker)) out.add(new Step(command, call, seen.merge(call, 1, Integer::sum)));
        return out;
    }

    private static Process traced(List<String> strace, String command, Path root) throws Exception {
        List<String> cmd = new ArrayList<>(strace);
        cmd.add("--");
        cmd.addAll(runBuilder(command, root).command());
        cmd.add(cmd.indexOf("-Xshare:auto") + 1, "-XX:-UsePerfData");
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    }

    @Test
    void killedAtEveryStepApplyAndRestoreLeaveAStateThatVerifyReadsAndRestoreUndoes() throws Exception {
        Path root = Fixtures.copyInstall(Fixtures.installDir("x86_64", "release", "gen-b"), tmp.resolve("steps"));
        Files.move(root.resolve("bin/gen-b"), root.resolve("bin/ollama"));
        List<Path> files = List.of(root.resolve("bin/ollama"), root.resolve("lib/ollama/libggml-base.so"));
        Set<String> listing = TestFiles.listing(root);
        Map<Path, byte[]> original = new TreeMap<>();
        Map<Path, String> originalSha = new TreeMap<>();
        for (Path f : files) {
            original.put(f, Files.readAllBytes(f));
            originalSha.put(f, TestFiles.sha256(f));
        }
        List<Step> applySteps = steps("apply", root);
        Map<Path, String> patched = new TreeMap<>();
        for (Path f : files) patched.put(f, TestFiles.sha256(f));
        List<Step> restoreSteps = steps("restore", root);
        assertEquals(listing, TestFiles.listing(root));
        System.out.println("kill at a step: apply makes " + applySteps + "; restore makes " + restoreSteps);

        // Each command's steps in a shuffled order, dealt again when used up: every step is hit.
        Random random = new Random(1515);
        Map<String, List<Step>> decks = new TreeMap<>();
        Map<String, Integer> states = new TreeMap<>();
        Map<Step, Integer> killedAt = new LinkedHashMap<>();
        int killed = 0;
        for (int i = 0; i < ITERATIONS; i++) {
            String command = i % 2 == 0 ? "apply" : "restore";
            List<Step> deck = decks.computeIfAbsent(command, c -> new ArrayList<>());
            if (deck.isEmpty()) {
                deck.addAll(command.equals("apply") ? applySteps : restoreSteps);
                Collections.shuffle(deck, random);
            }
            Step step = deck.remove(deck.size() - 1);
            if (command.equals("restore")) {
                assertEquals(0, Cli.run("apply", root, "--shim", Fixtures.stub("x86_64")).exit(), "iteration " + i);
            }
            Process p = traced(List.of("strace", "-f", "-qq", "-o", "/dev/null", "-e",
                    "inject=" + step.syscall() + ":signal=KILL:when=" + step.n()), command, root);
            assertTrue(p.waitFor(300, TimeUnit.SECONDS), "iteration " + i + ": " + step);
            String what = "iteration " + i + " (killed at " + step + ")";
            if (p.exitValue() == 137) {
                killed++;
                killedAt.merge(step, 1, Integer::sum);
            } else {
                assertEquals(0, p.exitValue(), what + ": a run not killed succeeds");
            }

            int nPatched = 0;
            for (Path f : files) {
                String sha = TestFiles.sha256(f);
                assertTrue(sha.equals(originalSha.get(f)) || sha.equals(patched.get(f)), what + ": " + f + " is a mixture");
                if (sha.equals(patched.get(f))) {
                    nPatched++;
                    assertTrue(Files.isRegularFile(InstallLayout.backupOf(f), LinkOption.NOFOLLOW_LINKS), what + ": the backup of " + f);
                    assertTrue(Files.exists(root.resolve(".ollama-patch.json")), what + ": the manifest");
                }
            }
            Set<String> now = TestFiles.listing(root);
            long temps = now.stream().filter(n -> n.endsWith(".ollama-patch.tmp")).count();
            String state = command + " killed: " + (nPatched == 0 ? "originals" : nPatched == files.size() ? "patched" : "partly patched")
                    + (Files.exists(root.resolve(".ollama-patch.json")) ? ", manifest" : ", no manifest")
                    + (temps > 0 ? ", " + temps + " temporary file" + (temps == 1 ? "" : "s") : "")
                    + (now.contains(".ollama-patch.lock") ? ", lock file" : "");
            states.merge(p.exitValue() == 137 ? state : command + " finished", 1, Integer::sum);

            // verify answers (holds, or names the differences), and a finishing restore gives back every byte.
            Cli.Result v = Cli.run("verify", root);
            assertTrue((v.exit() == 0 || v.exit() == 1 || v.exit() == 3) && !v.err().contains("internal error"), what + ", verify: " + v);
            Cli.Result finish = Cli.run("restore", root);
            assertTrue(finish.exit() == 0 || finish.exit() == 3, what + ", finishing restore: " + finish);
            for (Path f : files) assertArrayEquals(original.get(f), Files.readAllBytes(f), what + ": restored " + f);
            assertEquals(listing, TestFiles.listing(root), what + ": nothing left behind");
        }
        System.out.printf("kill at a step: %d runs (%d killed at their step, the rest finished); states left:%n",
                ITERATIONS, killed);
        states.forEach((s, n) -> System.out.printf("  %4d  %s%n", n, s));
        System.out.println("  killed at: " + killedAt);
        if (ITERATIONS >= 2 * Math.max(applySteps.size(), restoreSteps.size())) {
            for (Step s : applySteps) assertTrue(killedAt.containsKey(s), "apply was killed at " + s);
            for (Step s : restoreSteps) assertTrue(killedAt.containsKey(s), "restore was killed at " + s);
        }
    }

    private static ProcessBuilder runBuilder(String command, Path root) {
        List<Object> args = command.equals("apply")
                ? List.of("apply", root, "--shim", Fixtures.stub("x86_64")) : List.of("restore", root);
        return Cli.process(Map.of(), args.toArray());
    }

    private static Process run(String command, Path root) throws Exception {
        return runBuilder(command, root).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    }
}
