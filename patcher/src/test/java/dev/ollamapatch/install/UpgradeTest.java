package dev.ollamapatch.install;

import dev.ollamapatch.patch.Cli;
import dev.ollamapatch.patch.Fixtures;
import dev.ollamapatch.patch.TestFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the systemd drop-in ({@code service install}) relies on: Ollama's installer replaces
 * {@code bin/ollama} with a new release; the next {@code apply --quiet} patches the new binary, keeps the
 * new release as the backup (not the old one) and rewrites the manifest, and {@code restore} then gives
 * back the new release byte for byte.
 */
class UpgradeTest {
    @TempDir
    Path dir;

    @Test
    void applyAfterAnUpgradeBacksUpTheNewReleaseAndRestoreGivesItBack() throws Exception {
        Path ollama = dir.resolve("ollama");
        Files.copy(Fixtures.binary("x86_64", "release", "gen-b"), ollama);
        Cli.Result first = Cli.run("apply", "--quiet", ollama);
        assertEquals(0, first.exit(), first.toString());
        assertEquals("", first.out() + first.err(), "--quiet prints nothing when it patched");

        // The upgrade: the installer writes the new release over the patched file (new inode, new bytes).
        Path release = dir.resolve("release.tmp");
        Files.copy(Fixtures.binary("x86_64", "release", "gen-c"), release);
        Files.move(release, ollama, StandardCopyOption.REPLACE_EXISTING);
        byte[] newRelease = Files.readAllBytes(Fixtures.binary("x86_64", "release", "gen-c"));

        Cli.Result again = Cli.run("apply", "--quiet", ollama);
        assertEquals(0, again.exit(), again.toString());
        assertArrayEquals(newRelease, Files.readAllBytes(dir.resolve("ollama.orig")), "the backup is the new release");
        assertTrue(!java.util.Arrays.equals(newRelease, Files.readAllBytes(ollama)), "the new release is patched");
        Cli.Result verify = Cli.run("verify", ollama);
        assertEquals(0, verify.exit(), verify.toString());
        assertTrue(Files.readString(dir.resolve("ollama.ollama-patch.json")).contains(TestFiles.sha256(dir.resolve("ollama.orig"))),
                "the manifest records the new release's SHA-256");

        Cli.Result quietAgain = Cli.run("apply", "--quiet", ollama);
        assertEquals(0, quietAgain.exit(), quietAgain.toString());
        assertEquals("", quietAgain.out() + quietAgain.err(), "already patched: nothing to say");

        Cli.Result restore = Cli.run("restore", ollama);
        assertEquals(0, restore.exit(), restore.toString());
        assertArrayEquals(newRelease, Files.readAllBytes(ollama), "restore gives back the new release");
    }
}
