package dev.ollamapatch.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ollamapatch.io.Sha256;
import dev.ollamapatch.report.ApplyOutcome;
import dev.ollamapatch.report.PatchException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Restore from a hand-made install: a "patched" file, its backup, a shim and the manifest naming
 * their hashes. Restore only compares hashes, so the files need not be ELF.
 */
class RestoreTest {
    @TempDir
    Path tmp;

    private Path file, backup, shim;
    private InstallLayout layout;

    @BeforeEach
    void install() throws IOException {
        file = Files.writeString(tmp.resolve("ollama"), "patched");
        backup = Files.writeString(tmp.resolve("ollama.orig"), "original");
        shim = Files.writeString(tmp.resolve("nvml.so"), "shim");
        layout = new InstallLayout(tmp, true, List.of(file), tmp.resolve(".ollama-patch.json"), tmp.resolve(".ollama-patch.lock"));
        manifest(Sha256.of(backup).hex());
    }

    private void manifest(String originalSha) throws IOException {
        new Manifest("t", "c", "$ORIGIN/nvml.so",
                // Paths relative to the target, as apply records them.
                List.of(new Manifest.FileEntry("ollama", originalSha, Sha256.of(file).hex(), "ollama.orig", List.of())),
                List.of(new Manifest.ShimEntry("nvml.so", Sha256.of(shim).hex(), false))).write(layout.manifest());
    }

    @Test
    void putsTheOriginalBackAndRemovesTheShimAndTheManifest() throws IOException {
        ApplyOutcome outcome = Restore.run(layout, false);
        assertEquals(ApplyOutcome.Ending.DONE, outcome.ending());
        assertEquals(List.of("restored " + file, "removed shim " + shim), outcome.messages());
        assertEquals("original", Files.readString(file));
        assertFalse(Files.exists(backup), "the backup became the file");
        assertFalse(Files.exists(shim));
        assertFalse(Files.exists(layout.manifest()));
    }

    @Test
    void aBackupThatDoesNotMatchTheManifestRefusesAndMovesNothing() throws IOException {
        manifest("0".repeat(64));
        ApplyOutcome refused = Restore.run(layout, false);
        assertEquals(ApplyOutcome.Ending.REFUSED, refused.ending());
        assertTrue(refused.stopped());
        assertTrue(refused.messages().get(0).endsWith("; nothing restored"), refused.messages().get(0));
        assertEquals("patched", Files.readString(file));
        assertTrue(Files.exists(shim));
        assertTrue(Files.exists(layout.manifest()));
    }

    @Test
    void aFileChangedSincePatchingIsKeptUnlessForced() throws IOException {
        Files.writeString(file, "an upgrade");
        assertEquals(ApplyOutcome.Ending.REFUSED, Restore.run(layout, false).ending());
        assertEquals("an upgrade", Files.readString(file));
        Restore.run(layout, true);
        assertEquals("original", Files.readString(file));
    }

    @Test
    void aShimReplacedByTheUserIsKept() throws IOException {
        Files.writeString(shim, "someone else's library");
        List<String> done = Restore.run(layout, false).messages();
        assertEquals("kept " + shim + ": it is no longer the shim this tool installed", done.get(1));
        assertTrue(Files.exists(shim));
    }

    @Test
    void withoutAManifestThereIsNothingToRestore() throws IOException {
        Files.delete(layout.manifest());
        ApplyOutcome nothing = Restore.run(layout, false);
        assertEquals(ApplyOutcome.Ending.NOTHING_TO_PATCH, nothing.ending());
        assertEquals(List.of(tmp + ": no manifest at " + layout.manifest() + "; nothing to restore"), nothing.messages());
    }
}
