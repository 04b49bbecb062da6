package dev.ollamapatch.install;

import dev.ollamapatch.patch.Cli;
import dev.ollamapatch.patch.Fixtures;
import dev.ollamapatch.patch.TestFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every step of apply and restore fails in turn: {@code strace -e inject} makes the Nth call of
 * rename, link, fsync or unlink (the calls the JVM makes for a move, a hard link, a force and a
 * delete, checked with {@code strace -f}) fail with ENOSPC, once ({@code when=N}) or from then on
 * ({@code when=N+}, so the rollback's own put-backs fail too), or the process is killed (SIGKILL)
 * on entering it. After each: {@code verify} answers
 * without an internal error, and a finishing {@code restore} brings back every original byte for
 * byte and leaves nothing else in the tree.
 */
class FaultInjectionIT {
    private static final List<String> SYSCALLS = List.of("rename", "link", "fsync", "unlink");
    private static final Pattern LINE = Pattern.compile("^(\\d+)\\s+(rename|link|fsync|unlink)\\(");

    @TempDir
    Path tmp;

    private int installs;

    private Path install() throws Exception {
        Path root = Fixtures.copyInstall(Fixtures.installDir("x86_64", "release", "gen-b"), tmp.resolve("i" + installs++));
        Files.move(root.resolve("bin/gen-b"), root.resolve("bin/ollama"));
        return root;
    }

    private static Map<String, byte[]> snapshot(Path root) throws Exception {
        Map<String, byte[]> m = new TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) m.put(root.relativize(p).toString(), Files.readAllBytes(p));
        }
        return m;
    }

    private static List<String> tool(Path root, String command) {
        return command.equals("apply") ? List.of(command, root.toString(), "--shim", Fixtures.stub("x86_64").toString())
                : List.of(command, root.toString());
    }

    /** Runs the tool under strace; returns exit code and stderr. */
    private static Cli.Result traced(List<String> strace, List<String> args) throws Exception {
        ProcessBuilder pb = Cli.process(Map.of(), args.toArray());
        List<String> cmd = new ArrayList<>(strace);
        cmd.add("--");
        cmd.addAll(pb.command());
        cmd.add(cmd.indexOf("-Xshare:auto") + 1, "-XX:-UsePerfData");
        Path err = Files.createTempFile("fi", ".err");
        try {
            Process p = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(err.toFile()).start();
            if (!p.waitFor(180, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("timed out: " + cmd);
            }
            return new Cli.Result(p.exitValue(), "", Files.readString(err));
        } finally {
            Files.deleteIfExists(err);
        }
    }

    /** How many of each call the thread doing the work makes in an undisturbed run. */
    private Map<String, Integer> count(String command, Path root) throws Exception {
        Path log = tmp.resolve("count-" + command + ".strace");
        Cli.Result r = traced(List.of("strace", "-f", "-qq", "-o", log.toString(), "-e", "trace=" + String.join(",", SYSCALLS)),
                tool(root, command));
        assertEquals(0, r.exit(), r.toString());
        Map<String, Map<String, Integer>> byThread = new LinkedHashMap<>();
        String worker = null;
        for (String line : Files.readAllLines(log)) {
            Matcher m = LINE.matcher(line);
            if (!m.find()) continue;
            byThread.computeIfAbsent(m.group(1), t -> new TreeMap<>()).merge(m.group(2), 1, Integer::sum);
            if (line.contains(root.toString()) && m.group(2).equals("rename")) worker = m.group(1);
        }
        assertTrue(worker != null, "a rename inside the target was seen");
        return byThread.get(worker);
    }

    private record Tally(String command, String syscall, String when, int exit, boolean toldToRestore) {}

    @Test
    void aFailureAtAnyStepOfApplyOrRestoreNeverLosesAnOriginal() throws Exception {
        Path reference = install();
        Map<String, byte[]> originals = snapshot(reference);
        Set<String> listing = TestFiles.listing(reference);
        Map<String, Integer> applyCounts = count("apply", reference);
        Map<String, Integer> restoreCounts = count("restore", reference);
        assertEquals(listing, TestFiles.listing(reference), "an undisturbed apply and restore leave nothing behind");
        System.out.println("fault injection: calls made by apply " + applyCounts + ", by restore " + restoreCounts);

        List<Tally> tallies = new ArrayList<>();
        for (String command : List.of("apply", "restore")) {
            Map<String, Integer> counts = command.equals("apply") ? applyCounts : restoreCounts;
            for (String syscall : SYSCALLS) {
                for (int n = 1; n <= counts.getOrDefault(syscall, 0); n++) {
                    for (String when : List.of(String.valueOf(n), n + "+", n + " kill")) {
                        boolean kill = when.endsWith(" kill");
                        Path root = install();
                        if (command.equals("restore")) assertEquals(0, Cli.run("apply", root, "--shim", Fixtures.stub("x86_64")).exit());
                        String what = command + " with " + syscall + " #" + when + " failing";
                        // SIGKILL on entering the call (it never runs), or ENOSPC from it.
                        String inject = kill ? "inject=" + syscall + ":signal=KILL:when=" + n
                                : "inject=" + syscall + ":error=ENOSPC:when=" + when;
                        Cli.Result r = traced(List.of("strace", "-f", "-qq", "-o", "/dev/null", "-e", inject),
                                tool(root, command));
                        assertTrue(kill ? r.exit() == 137 : r.exit() == 0 || r.exit() == 1, what + ": " + r);
                        assertFalse(r.err().contains("internal error"), what + ": " + r);
                        boolean told = r.err().contains("to finish");
                        tallies.add(new Tally(command, syscall, when, r.exit(), told));

                        Cli.Result v = Cli.run("verify", root);
                        assertTrue(v.exit() == 0 || v.exit() == 1, what + ", then verify: " + v);
                        Cli.Result restore = Cli.run("restore", root);
                        assertTrue(restore.exit() == 0 || restore.exit() == 3, what + ", then restore: " + restore);
                        Map<String, byte[]> now = snapshot(root);
                        assertEquals(originals.keySet(), now.keySet(), what + ": the files after the finishing restore");
                        for (String f : originals.keySet()) assertArrayEquals(originals.get(f), now.get(f), what + ": " + f);
                        assertEquals(listing, TestFiles.listing(root), what + ": nothing left behind");
                        try (Stream<Path> s = Files.walk(root)) {
                            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                        }
                    }
                }
            }
        }
        Map<String, int[]> table = new TreeMap<>();
        for (Tally t : tallies) {
            int[] c = table.computeIfAbsent(t.command + " " + t.syscall, k -> new int[4]);
            if (t.exit == 137) c[3]++; else if (t.exit == 0) c[0]++; else if (t.toldToRestore) c[2]++; else c[1]++;
        }
        System.out.printf("fault injection: %d runs, each followed by verify and a finishing restore that gave back "
                + "every original byte for byte%n", tallies.size());
        table.forEach((k, c) -> System.out.printf("  %-16s ENOSPC: completed anyway %3d, failed and undone %3d, "
                + "failed and told how to finish %3d; SIGKILL on entry %3d%n", k, c[0], c[1], c[2], c[3]));
        assertTrue(tallies.size() >= 40, "every step was failed: " + tallies.size());
    }

    /** A full disk while the patched copy is written: one line naming where, exit 1, nothing changed or left. */
    @Test
    void aFullDiskNamesTheDirectoryAndLeavesNothing() throws Exception {
        Path root = install();
        Map<String, byte[]> originals = snapshot(root);
        Set<String> listing = TestFiles.listing(root);
        Path temp = root.resolve("bin/.ollama.ollama-patch.tmp");
        Cli.Result r = traced(List.of("strace", "-f", "-qq", "-o", "/dev/null", "-P", temp.toString(),
                "-e", "inject=write,pwrite64:error=ENOSPC"), tool(root, "apply"));
        assertEquals(1, r.exit(), r.toString());
        assertEquals(1, r.err().strip().lines().count(), r.toString());
        assertTrue(r.err().contains(root.resolve("bin") + ": No space left on device"), r.err());
        assertEquals(listing, TestFiles.listing(root));
        Map<String, byte[]> now = snapshot(root);
        for (String f : originals.keySet()) assertArrayEquals(originals.get(f), now.get(f), f);
    }
}
