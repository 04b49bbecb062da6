package dev.ollamapatch.install;

import dev.ollamapatch.patch.Cli;
import dev.ollamapatch.patch.Fixtures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Leftovers of older versions of the tool (random and process-id names, from this repository's
 * history) are removed by apply and restore first thing, when proven the tool's own; look-alikes stay.
 */
class OldLeftoversTest {
    @TempDir
    Path tmp;

    private final List<Process> holders = new ArrayList<>();

    @AfterEach
    void stopHolders() throws Exception {
        for (Process p : holders) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private Path install(String name) throws Exception {
        Path root = Fixtures.copyInstall(Fixtures.installDir("x86_64", "release", "gen-b"), tmp.resolve(name));
        Files.move(root.resolve("bin/gen-b"), root.resolve("bin/ollama"));
        return root;
    }

    /** A file as an older version left it: written an hour ago. */
    private static Path planted(Path p, byte[] content) throws Exception {
        Files.write(p, content);
        Files.setLastModifiedTime(p, FileTime.from(Instant.now().minus(Duration.ofHours(1))));
        return p;
    }

    private static byte[] head(Path file, int n) throws Exception {
        return Arrays.copyOf(Files.readAllBytes(file), n);
    }

    /** Every regular file under root with its bytes. */
    private static Map<Path, byte[]> snapshot(Path root) throws Exception {
        Map<Path, byte[]> m = new LinkedHashMap<>();
        try (var s = Files.walk(root)) {
            for (Path p : s.filter(Files::isRegularFile).sorted().toList()) m.put(p, Files.readAllBytes(p));
        }
        return m;
    }

    /** Keeps {@code file} open in another process, as an older run still writing it would. */
    private void holdOpen(Path file) throws Exception {
        Process p = new ProcessBuilder("sh", "-c", "exec 3<\"$0\"; exec sleep 120", file.toString()).start();
        holders.add(p);
        String fd = null;
        for (int i = 0; i < 100 && fd == null; i++) {
            try (var s = Files.list(Path.of("/proc/" + p.pid() + "/fd"))) {
                for (Path f : s.toList()) {
                    try {
                        if (Files.readSymbolicLink(f).equals(file)) fd = f.toString();
                    } catch (Exception e) {
                        // closed meanwhile
                    }
                }
            } catch (Exception e) {
                // not started yet
            }
            if (fd == null) Thread.sleep(50);
        }
        assertTrue(fd != null, "the holder opened " + file);
    }

    @Test
    void theShapesAreMatchedByExactPrefixAndSuffixAroundDigitsOnly() {
        assertEquals("123", OldLeftovers.digitsBetween(".ollama.123.ollama-patch.tmp", ".ollama.", ".ollama-patch.tmp"));
        assertEquals("7", OldLeftovers.digitsBetween(".ollama[.7.ollama-patch.tmp", ".ollama[.", ".ollama-patch.tmp"));
        assertNull(OldLeftovers.digitsBetween(".ollama..ollama-patch.tmp", ".ollama.", ".ollama-patch.tmp"));
        assertNull(OldLeftovers.digitsBetween(".ollama.12a.ollama-patch.tmp", ".ollama.", ".ollama-patch.tmp"));
        assertNull(OldLeftovers.digitsBetween(".ollamaX.1.ollama-patch.tmp", ".ollama.", ".ollama-patch.tmp"));
        assertNull(OldLeftovers.digitsBetween(".ollama.-1.ollama-patch.tmp", ".ollama.", ".ollama-patch.tmp"));
        assertTrue(OldLeftovers.isSpool(".ollama-patch-entry.8765.ollama-patch.tmp"));
        assertTrue(OldLeftovers.isSpool(".ollama-patch-entry.4242.8765.ollama-patch.tmp"));
        assertFalse(OldLeftovers.isSpool(".ollama-patch-entry.4242.x.ollama-patch.tmp"));
        assertFalse(OldLeftovers.isSpool(".ollama-patch-entry..ollama-patch.tmp"));
        assertFalse(OldLeftovers.isSpool(".ollama-patch-entry.1.2.3.ollama-patch.tmp"));
    }

    @Test
    void applyAndRestoreRemoveEveryOldShapeProvenTheirsAndNothingElse() throws Exception {
        Path root = install("usr");
        Path bin = root.resolve("bin");
        Path lib = root.resolve("lib/ollama");
        Path ollama = bin.resolve("ollama");
        Path ggml = lib.resolve("libggml-base.so");
        Map<Path, byte[]> originals = snapshot(root);

        // What an older version left when killed: each of its shapes.
        List<Path> old = List.of(
                planted(bin.resolve(".ollama.8234234890.ollama-patch.tmp"), head(ollama, 4096)),   // partial patched copy
                planted(lib.resolve(".libggml-base.so.1.ollama-patch.tmp"), new byte[0]),           // created, nothing written
                planted(root.resolve("..ollama-patch.json.77.ollama-patch.tmp"), "{\"tool\":\"ollama-patch 0.1\"".getBytes(StandardCharsets.UTF_8)),
                planted(lib.resolve(".nvml.so.5.ollama-patch.tmp"), head(ggml, 64)),                // a shim being installed
                Files.createLink(bin.resolve(".ollama.orig.4242.link"), ollama),                    // backup being linked
                Files.createLink(lib.resolve(".libggml-base.so.rollback.ollama-patch.tmp"), ggml)); // original being put back
        // Look-alikes that are not provably the tool's: they stay, byte for byte.
        Path userText = planted(bin.resolve(".ollama.123.ollama-patch.tmp"), "the user's notes".getBytes(StandardCharsets.UTF_8));
        Path notDigits = planted(bin.resolve(".ollama.12a4.ollama-patch.tmp"), head(ollama, 64));
        Path noMiddle = planted(bin.resolve(".ollama..ollama-patch.tmp"), head(ollama, 64));
        Path fresh = Files.write(bin.resolve(".ollama.124.ollama-patch.tmp"), head(ollama, 64));       // written just now
        Path elsewhere = planted(tmp.resolve("users-file"), head(ollama, 64));
        Path twoLinks = Files.createLink(bin.resolve(".ollama.125.ollama-patch.tmp"), elsewhere);       // a second name
        Path bigger = planted(bin.resolve(".ollama.126.ollama-patch.tmp"), Arrays.copyOf(Files.readAllBytes(ollama),
                (int) Files.size(ollama) + 1));
        Path open = planted(bin.resolve(".ollama.127.ollama-patch.tmp"), head(ollama, 64));
        holdOpen(open);
        Path copyLink = planted(bin.resolve(".ollama.orig.999.link"), Files.readAllBytes(ollama));     // not the same inode
        Path otherName = planted(bin.resolve(".ollama-old.1.ollama-patch.tmp"), head(ollama, 64));
        Path userLink = Files.createSymbolicLink(bin.resolve(".ollama.128.ollama-patch.tmp"), ollama);
        List<Path> survivors = List.of(userText, notDigits, noMiddle, fresh, twoLinks, bigger, open, copyLink, otherName);
        Map<Path, byte[]> kept = new LinkedHashMap<>();
        for (Path p : survivors) kept.put(p, Files.readAllBytes(p));

        Cli.Result r = Cli.run("apply", root, "--shim", Fixtures.stub("x86_64"));
        assertEquals(0, r.exit(), r.toString());
        for (Path p : old) assertFalse(Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS), "removed: " + p);
        for (Path p : survivors) assertArrayEquals(kept.get(p), Files.readAllBytes(p), "kept: " + p);
        assertTrue(Files.isSymbolicLink(userLink), "a symbolic link is never one of the tool's files");
        assertEquals(0, Cli.run("verify", root).exit());

        // The same shapes planted again are removed by restore.
        List<Path> again = List.of(
                planted(bin.resolve(".ollama.55.ollama-patch.tmp"), head(ollama, 128)),
                Files.createLink(bin.resolve(".ollama.orig.77.link"), bin.resolve("ollama.orig")),
                planted(root.resolve("..ollama-patch.json.78.ollama-patch.tmp"), new byte[0]));
        r = Cli.run("restore", root);
        assertEquals(0, r.exit(), r.toString());
        for (Path p : again) assertFalse(Files.exists(p), "removed by restore: " + p);
        for (Path p : survivors) assertArrayEquals(kept.get(p), Files.readAllBytes(p), "kept: " + p);

        for (Path p : survivors) Files.delete(p);
        Files.delete(userLink);
        Map<Path, byte[]> now = snapshot(root);
        assertEquals(originals.keySet(), now.keySet(), "nothing else left");
        for (Path p : originals.keySet()) assertArrayEquals(originals.get(p), now.get(p), "bytes of " + p);
    }

    @Test
    void aRollbackLeftoverThatIsTheOnlyCopyOfAnOriginalStays() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("one"));
        Path f = dir.resolve("ollama");
        Files.copy(Fixtures.binary("x86_64", "release", "gen-c"), f);
        // An older version's failed rollback: the original only under its temporary name.
        Path only = planted(dir.resolve(".ollama.rollback.ollama-patch.tmp"), Files.readAllBytes(f));
        byte[] bytes = Files.readAllBytes(only);
        Cli.Result r = Cli.run("apply", f, "--shim", Fixtures.stub("x86_64"));
        assertEquals(0, r.exit(), r.toString());
        assertArrayEquals(bytes, Files.readAllBytes(only), "never removed without proof");
        assertEquals(0, Cli.run("restore", f).exit());
        assertArrayEquals(bytes, Files.readAllBytes(only));
    }

    @Test
    void aFileNamedWithGlobCharactersIsCleanedByExactNames() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("glob"));
        Path f = dir.resolve("ollama[");
        Files.copy(Fixtures.binary("x86_64", "release", "gen-c"), f);
        Path old = planted(dir.resolve(".ollama[.31.ollama-patch.tmp"), head(f, 256));
        Path manifestTemp = planted(dir.resolve(".ollama[.ollama-patch.json.32.ollama-patch.tmp"), "{".getBytes(StandardCharsets.UTF_8));
        Path lookAlike = planted(dir.resolve(".ollama[.3x.ollama-patch.tmp"), head(f, 256));
        Path otherFile = planted(dir.resolve(".ollamaa.31.ollama-patch.tmp"), head(f, 256));
        Cli.Result r = Cli.run("apply", f, "--shim", Fixtures.stub("x86_64"));
        assertEquals(0, r.exit(), r.toString());
        assertFalse(Files.exists(old));
        assertFalse(Files.exists(manifestTemp));
        assertTrue(Files.exists(lookAlike));
        assertTrue(Files.exists(otherFile));
    }

    @Test
    void aStrayLockFileOfAnOlderRestoreIsRemovedAndALookAlikeStays() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("lock"));
        Path f = dir.resolve("ollama");
        Files.copy(Fixtures.binary("x86_64", "release", "gen-c"), f);
        Path stray = Files.createFile(dir.resolve(".ollama.ollama-patch.lock"));
        Path lookAlike = Files.createFile(dir.resolve(".ollama.ollama-patch.lock.1"));
        assertEquals(3, Cli.run("restore", f).exit());
        assertFalse(Files.exists(stray), "an older restore's lock file is gone");
        assertTrue(Files.exists(lookAlike));
        // A file with content at the lock's name is no lock file of the tool's: used as the lock, kept.
        Path users = Files.writeString(dir.resolve(".ollama.ollama-patch.lock"), "the user's");
        assertEquals(0, Cli.run("apply", f, "--shim", Fixtures.stub("x86_64")).exit());
        assertEquals("the user's", Files.readString(users));
    }

    @Test
    void anOlderBackupLinkIsNeverTakenForAnInstallFileToPatch() throws Exception {
        Path root = install("links");
        Path link = Files.createLink(root.resolve("lib/ollama/.libggml-base.so.orig.31337.link"),
                root.resolve("lib/ollama/libggml-base.so"));
        assertFalse(InstallLayout.of(root).files().contains(link));
        assertEquals(0, Cli.run("apply", root, "--shim", Fixtures.stub("x86_64")).exit());
        assertFalse(Files.exists(link));
        assertEquals(0, Cli.run("restore", root).exit());
    }
}
