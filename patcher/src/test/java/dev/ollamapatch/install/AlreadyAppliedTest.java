package dev.ollamapatch.install;

import dev.ollamapatch.io.AtomicFiles;
import dev.ollamapatch.patch.Cli;
import dev.ollamapatch.patch.Fixtures;
import dev.ollamapatch.report.ApplyOutcome;
import dev.ollamapatch.site.LibraryTarget;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The quick ending of {@code apply --quiet} on an install the last apply left as it is (the systemd
 * {@code ExecStartPre=} case): proved from the manifest, the files' and shims' SHA-256, and never
 * when anything it relies on changed; then the full apply decides, as before.
 */
class AlreadyAppliedTest {
    @TempDir
    Path dir;
    Path ollama;
    Path shim;

    @BeforeEach
    void patchOnce() throws Exception {
        ollama = dir.resolve("ollama");
        Files.copy(Fixtures.binary("x86_64", "release", "gen-c"), ollama);
        Cli.Result first = Cli.run("apply", "--quiet", ollama);
        assertEquals(0, first.exit(), first.toString());
        shim = dir.resolve("nvml.so");
        assertTrue(Files.isRegularFile(shim), "the first apply installed the shim");
    }

    private static InPlaceApply.Options quiet(LibraryTarget nvml) {
        return new InPlaceApply.Options(List.of(nvml), null, false, false, null, "test", false, false);
    }

    private static ApplyOutcome prove(Path target, LibraryTarget nvml) throws Exception {
        InstallLayout layout = InstallLayout.of(target);
        return AlreadyApplied.prove(layout, quiet(nvml), InPlaceApply.recorded(layout));
    }

    @Test
    void anUnchangedInstallIsProvedAlreadyPatched() throws Exception {
        ApplyOutcome done = prove(ollama, LibraryTarget.NVML);
        assertNotNull(done);
        assertEquals(ApplyOutcome.Ending.DONE, done.ending());
        assertTrue(done.messages().get(0).startsWith(ollama.toRealPath() + ": already patched by "), done.messages().toString());
        assertTrue(done.reports().isEmpty(), "no report: nothing was scanned");

        byte[] before = Files.readAllBytes(ollama);
        Cli.Result again = Cli.run("apply", "--quiet", ollama);
        assertEquals(0, again.exit(), again.toString());
        assertEquals("", again.out() + again.err());
        assertArrayEquals(before, Files.readAllBytes(ollama));
        assertFalse(Files.exists(dir.resolve(".ollama.ollama-patch.lock")), "the lock file is removed");
    }

    @Test
    void aChangedShimIsNotProvedAndApplyPutsTheBundledOneBack() throws Exception {
        byte[] bundled = Files.readAllBytes(shim);
        Files.write(shim, new byte[] {0x7f, 'E', 'L', 'F', 0});
        assertNull(prove(ollama, LibraryTarget.NVML));
        Cli.Result again = Cli.run("apply", "--quiet", ollama);
        assertEquals(0, again.exit(), again.toString());
        assertArrayEquals(bundled, Files.readAllBytes(shim), "the full apply reinstalled the shim");
    }

    @Test
    void aMissingShimIsNotProvedAndApplyInstallsItAgain() throws Exception {
        Files.delete(shim);
        assertNull(prove(ollama, LibraryTarget.NVML));
        Cli.Result again = Cli.run("apply", "--quiet", ollama);
        assertEquals(0, again.exit(), again.toString());
        assertTrue(Files.isRegularFile(shim));
    }

    @Test
    void aFileReplacedByAnUpgradeIsNotProved() throws Exception {
        Path release = dir.resolve("release.tmp");
        Files.copy(Fixtures.binary("x86_64", "release", "gen-b"), release);
        Files.move(release, ollama, StandardCopyOption.REPLACE_EXISTING);
        assertNull(prove(ollama, LibraryTarget.NVML));
    }

    @Test
    void aFileWithTheSameSizeAndTimeButOtherBytesIsNotProved() throws Exception {
        var time = Files.getLastModifiedTime(ollama);
        byte[] b = Files.readAllBytes(ollama);
        b[b.length - 1] ^= 1;
        Files.write(ollama, b);
        Files.setLastModifiedTime(ollama, time);
        assertNull(prove(ollama, LibraryTarget.NVML), "a time stamp proves nothing");
    }

    @Test
    void anotherShimPathIsNotProvedAndApplyStillRefusesIt() throws Exception {
        assertNull(prove(ollama, LibraryTarget.NVML.withPath("$ORIGIN/other.so")));
        Cli.Result again = Cli.run("apply", "--quiet", "--shim-path", "$ORIGIN/other.so", ollama);
        assertEquals(5, again.exit(), again.toString());
    }

    @Test
    void aLeftoverOfAKilledRunIsNotProvedAndApplyRemovesIt() throws Exception {
        Path leftover = AtomicFiles.exactTemp(ollama.toRealPath());
        Files.write(leftover, new byte[] {1});
        assertNull(prove(ollama, LibraryTarget.NVML));
        Cli.Result again = Cli.run("apply", "--quiet", ollama);
        assertEquals(0, again.exit(), again.toString());
        assertFalse(Files.exists(leftover));
    }

    @Test
    void aNewFileInAnInstallDirectoryIsNotProved() throws Exception {
        Path tree = dir.resolve("tree");
        Files.createDirectories(tree.resolve("bin"));
        Files.copy(Fixtures.binary("x86_64", "release", "gen-c"), tree.resolve("bin/gen-c"));
        assertEquals(0, Cli.run("apply", "--quiet", tree).exit());
        assertNotNull(prove(tree, LibraryTarget.NVML), "every ELF file of the tree is recorded");

        // A file the manifest does not know could name NVML: only a scan can tell.
        Files.copy(Fixtures.binary("x86_64", "release", "gen-b"), tree.resolve("bin/gen-b"));
        assertNull(prove(tree, LibraryTarget.NVML));
        Cli.Result again = Cli.run("apply", "--quiet", tree);
        assertEquals(0, again.exit(), again.toString());
        assertTrue(Files.exists(tree.resolve("bin/gen-b.orig")), "the full apply patched the new file");
        assertNotNull(prove(tree, LibraryTarget.NVML));
    }
}
