package dev.ollamapatch.archive;

import dev.ollamapatch.patch.Cli;
import dev.ollamapatch.patch.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Archive spools and output temporaries of older versions (random and process-id names) beside OUT. */
class OldSpoolsTest {
    @TempDir
    Path work;

    private static Path planted(Path p, byte[] content) throws Exception {
        Files.write(p, content);
        Files.setLastModifiedTime(p, FileTime.from(Instant.now().minus(Duration.ofHours(2))));
        return p;
    }

    /** A process id no process has now (the highest the kernel hands out, plus one). */
    private static long deadPid() throws Exception {
        long max = Long.parseLong(Files.readString(Path.of("/proc/sys/kernel/pid_max")).strip());
        return max + 1;
    }

    @Test
    void anArchiveApplyRemovesOlderSpoolsAndOutputTemporariesProvenItsOwn() throws Exception {
        Path in = ReleaseArchives.write(work.resolve("ollama-linux-amd64.tgz"), false, 0);
        Path outDir = Files.createDirectories(work.resolve("out"));
        Path out = outDir.resolve("patched.tgz");
        byte[] elf = Arrays.copyOf(Files.readAllBytes(Fixtures.stub("x86_64")), 4096);
        List<Path> old = List.of(
                planted(outDir.resolve(".ollama-patch-entry.7345345345.ollama-patch.tmp"), elf),
                planted(outDir.resolve(".ollama-patch-entry." + deadPid() + ".123.ollama-patch.tmp"), elf),
                planted(outDir.resolve(".patched.tgz.987.ollama-patch.tmp"), new byte[] {0x1f, (byte) 0x8b, 8, 0}),
                planted(outDir.resolve(".patched.tgz.988.ollama-patch.tmp"), new byte[0]));
        List<Path> kept = List.of(
                planted(outDir.resolve(".ollama-patch-entry.x1.ollama-patch.tmp"), elf),
                planted(outDir.resolve(".ollama-patch-entry.5.ollama-patch.tmp.bak"), elf),
                planted(outDir.resolve(".ollama-patch-entry.6.ollama-patch.tmp"), "notes".getBytes(StandardCharsets.UTF_8)),
                Files.write(outDir.resolve(".ollama-patch-entry.7.ollama-patch.tmp"), elf),       // written just now
                planted(outDir.resolve(".other.tgz.989.ollama-patch.tmp"), new byte[] {0x1f, (byte) 0x8b}),
                planted(outDir.resolve(".patched.tgz.990.ollama-patch.tmp"), "not an archive".getBytes(StandardCharsets.UTF_8)));
        Cli.Result r = Cli.run("apply", in, "-o", out, "--shim", Fixtures.stub("x86_64"), "--prefix", "/usr/local");
        assertEquals(0, r.exit(), r.toString());
        for (Path p : old) assertFalse(Files.exists(p), "removed: " + p);
        for (Path p : kept) assertTrue(Files.exists(p), "kept: " + p);
    }

    @Test
    void anApplyToAnOutputFileRemovesAnOlderVersionsTemporaryOfIt() throws Exception {
        Path out = work.resolve("o").resolve("ollama");
        Files.createDirectories(out.getParent());
        Path bin = Fixtures.binary("x86_64", "release", "gen-c");
        Path old = planted(out.resolveSibling(".ollama.555.ollama-patch.tmp"), Arrays.copyOf(Files.readAllBytes(bin), 100));
        Path shimOld = planted(out.resolveSibling(".nvml.so.556.ollama-patch.tmp"), new byte[0]);
        Path user = planted(out.resolveSibling(".ollama.557.ollama-patch.tmp"), "mine".getBytes(StandardCharsets.UTF_8));
        Cli.Result r = Cli.run("apply", bin, "-o", out, "--shim", Fixtures.stub("x86_64"));
        assertEquals(0, r.exit(), r.toString());
        assertFalse(Files.exists(old));
        assertFalse(Files.exists(shimOld));
        assertTrue(Files.exists(user));
    }
}
