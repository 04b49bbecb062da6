package dev.ollamapatch.install;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** After a swap, the tool tells who still runs the old binary: a running program keeps its open file. */
class RunningProcessesTest {
    @TempDir
    Path tmp;

    @Test
    void aProcessStillRunningTheReplacedFileIsNamed() throws Exception {
        Path exe = tmp.resolve("ollama");
        Files.copy(Path.of("/bin/sleep"), exe);
        Process p = new ProcessBuilder(exe.toString(), "30").start();
        try {
            Thread.sleep(200);
            // Replace it the way apply does: a new file renamed over the old name.
            Path fresh = tmp.resolve(".ollama.new");
            Files.copy(Path.of("/bin/sleep"), fresh);
            Files.move(fresh, exe, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            List<RunningProcesses.Running> running = RunningProcesses.executing(exe);
            assertTrue(running.stream().anyMatch(r -> r.pid() == p.pid()), "found: " + running);
            List<String> advice = RunningProcesses.restartAdvice(List.of(exe));
            assertTrue(advice.stream().anyMatch(a -> a.contains(String.valueOf(p.pid())) || a.contains("systemctl restart")),
                    "advice: " + advice);
        } finally {
            p.destroyForcibly();
            p.waitFor();
        }
    }
}
