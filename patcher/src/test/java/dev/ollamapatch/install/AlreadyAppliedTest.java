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

    @Test
    void theApplyRecordsEachFilesStatusAndAnUnchangedStatusSparesTheHash() throws Exception {
        Manifest m = Manifest.read(dir.resolve("ollama" + InstallLayout.MANIFEST_SUFFIX));
        Manifest.StatRecord stat = m.files().get(0).stat();
        assertNotNull(stat, "the apply recorded the patched file's status");
        assertEquals(Files.size(ollama), stat.size());
        long manifestTime = FileStatus.modifiedNanos(dir.resolve("ollama" + InstallLayout.MANIFEST_SUFFIX));
        assertTrue(stat.ctimeNs() < manifestTime && stat.mtimeNs() < manifestTime, "recorded before the manifest's time");
        assertTrue(FileStatus.unchanged(ollama.toRealPath(), stat, manifestTime));
    }

    @Test
    void aFileRewrittenWithItsOwnBytesAndItsTimeRestoredIsHashedAndStillProved() throws Exception {
        var time = Files.getLastModifiedTime(ollama);
        Path manifest = dir.resolve("ollama" + InstallLayout.MANIFEST_SUFFIX);
        Manifest.StatRecord stat = Manifest.read(manifest).files().get(0).stat();
        Thread.sleep(20);
        Files.write(ollama, Files.readAllBytes(ollama)); // same inode, size, bytes; its change time is now
        Files.setLastModifiedTime(ollama, time);
        assertFalse(FileStatus.unchanged(ollama.toRealPath(), stat, FileStatus.modifiedNanos(manifest)),
                "the change time tells a rewritten file");
        assertNotNull(prove(ollama, LibraryTarget.NVML), "hashed, and its hash is the patched one");
    }

    @Test
    void aManifestWithoutStatusRecordsStillProvesByHashing() throws Exception {
        Path manifestPath = dir.resolve("ollama" + InstallLayout.MANIFEST_SUFFIX);
        Manifest m = Manifest.read(manifestPath);
        m.withStatus(m.files().stream().map(f -> f.withStat(null)).toList(), null).write(manifestPath);
        assertFalse(new String(Files.readAllBytes(manifestPath)).contains("\"stat\""));
        assertNotNull(prove(ollama, LibraryTarget.NVML));
        Cli.Result verify = Cli.run("verify", ollama);
        assertEquals(0, verify.exit(), verify.toString());
    }

    @Test
    void cleanFilesOfAnInstallAreRecordedAndProvedUntilOneChanges() throws Exception {
        Path tree = dir.resolve("tree");
        Path lib = tree.resolve("lib/ollama");
        Files.createDirectories(lib.resolve("cuda_v12"));
        Files.copy(Fixtures.installDir("x86_64", "release", "gen-b").resolve("lib/ollama/libggml-base.so"),
                lib.resolve("libggml-base.so"));
        Path clean = lib.resolve("cuda_v12/libcuda.so.1");
        Files.copy(Fixtures.root().resolve("x86_64/stub-cuda/libcuda.so.1"), clean);
        assertEquals(0, Cli.run("apply", "--quiet", tree).exit());
        Manifest m = Manifest.read(tree.resolve(InstallLayout.MANIFEST_SUFFIX));
        assertEquals(List.of("lib/ollama/cuda_v12/libcuda.so.1"),
                m.cleanFiles().stream().map(Manifest.CleanEntry::path).toList());
        assertNotNull(prove(tree, LibraryTarget.NVML), "the clean file is known to name nothing while unchanged");

        // Rewritten with another byte, its size and time put back: only a scan can tell what it names now.
        var time = Files.getLastModifiedTime(clean);
        byte[] b = Files.readAllBytes(clean);
        b[b.length - 1] ^= 1;
        Thread.sleep(20);
        Files.write(clean, b);
        Files.setLastModifiedTime(clean, time);
        assertNull(prove(tree, LibraryTarget.NVML));
        Cli.Result again = Cli.run("apply", "--quiet", tree);
        assertEquals(0, again.exit(), again.toString());
        Cli.Result restore = Cli.run("restore", tree);
        assertEquals(0, restore.exit(), restore.toString());
        assertFalse(Files.exists(tree.resolve(InstallLayout.MANIFEST_SUFFIX)));
    }
}
