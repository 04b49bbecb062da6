package dev.ollamapatch.archive;

import dev.ollamapatch.cli.Main;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The tool in its own JVM, with JVM options (a small heap, another user name). */
final class ToolProcess {
    private ToolProcess() {}

    record Result(int exit, String out, String err, double seconds) {
        @Override public String toString() { return "exit " + exit + "\n--- stdout\n" + out + "\n--- stderr\n" + err; }
    }

    static ProcessBuilder builder(List<String> jvmOptions, Object... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmOptions);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
        for (Object o : args) cmd.add(String.valueOf(o));
        return new ProcessBuilder(cmd);
    }

    static Result run(ProcessBuilder pb, int timeoutSeconds) throws Exception {
        Path out = Files.createTempFile("tool", ".out"), err = Files.createTempFile("tool", ".err");
        try {
            long t0 = System.nanoTime();
            Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("tool timed out after " + timeoutSeconds + " s: " + pb.command());
            }
            return new Result(p.exitValue(), Files.readString(out), Files.readString(err),
                    (System.nanoTime() - t0) / 1e9);
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }
}
