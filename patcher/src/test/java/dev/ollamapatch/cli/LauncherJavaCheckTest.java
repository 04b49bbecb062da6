package dev.ollamapatch.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The checkout's launcher remembers which Java binary it found to be 17 or newer (so that a run does not
 * start a JVM only to ask its version); any other binary is still asked, and one too old still refused.
 */
class LauncherJavaCheckTest {
    private static final Path LAUNCHER = Path.of(System.getProperty("user.dir")).resolve("../ollama-patch").normalize();

    @TempDir
    Path dir;

    /** A fake JAVA_HOME whose java says it is version {@code version} (and does nothing else). */
    private Path javaHome(String name, String version) throws Exception {
        Path bin = Files.createDirectories(dir.resolve(name).resolve("bin"));
        Path java = bin.resolve("java");
        Files.writeString(java, "#!/bin/sh\necho '    java.specification.version = " + version + "' >&2\n");
        Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
        return dir.resolve(name);
    }

    /**
     * The launcher copied into a checkout of its own whose tool is "built" (empty jar and archive newer
     * than any source): a run goes no further than the Java check and the fake java, and what it
     * remembers stays in this test's directory.
     */
    private Path checkout() throws Exception {
        Path root = dir.resolve("checkout");
        if (!Files.exists(root)) {
            Files.createDirectories(root.resolve("patcher/target"));
            Files.copy(LAUNCHER, root.resolve("ollama-patch"), java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
            Files.createFile(root.resolve("patcher/target/ollama-patch.jar"));
            Files.createFile(root.resolve("patcher/target/ollama-patch.jsa"));
        }
        return root.resolve("ollama-patch");
    }

    private Process run(Path javaHome) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(checkout().toString(), "--version").redirectErrorStream(true);
        pb.environment().put("JAVA_HOME", javaHome.toString());
        return pb.start();
    }

    @Test
    void aJavaTooOldIsRefusedEveryTime() throws Exception {
        Path old = javaHome("old", "11");
        for (int i = 0; i < 2; i++) {
            Process p = run(old);
            String said = new String(p.getInputStream().readAllBytes());
            assertEquals(2, p.waitFor(), said);
            assertTrue(said.contains("Java 11 found at " + old.resolve("bin/java") + "; ollama-patch needs Java 17 or newer"), said);
        }
    }

    @Test
    void aJavaReplacedInPlaceIsAskedAgain() throws Exception {
        // Accepted once (the fake then "runs" the tool: it prints its line and exits 0), then replaced by an
        // older one at the same path: refused, not remembered as good.
        Path home = javaHome("replaced", "21");
        Process first = run(home);
        String accepted = new String(first.getInputStream().readAllBytes());
        assertEquals(0, first.waitFor(), accepted);
        Path java = home.resolve("bin/java");
        Files.writeString(java, "#!/bin/sh\necho '    java.specification.version = 1.8' >&2\n# longer, another size\n");
        Process p = run(home);
        String said = new String(p.getInputStream().readAllBytes());
        assertEquals(2, p.waitFor(), said);
        assertTrue(said.contains("Java 8 found at " + java), said);
    }
}
