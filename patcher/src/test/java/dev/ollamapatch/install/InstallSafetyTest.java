package dev.ollamapatch.install;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ollamapatch.patch.Cli;
import dev.ollamapatch.patch.Fixtures;
import dev.ollamapatch.patch.TestFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The install safety rules (README "Robustness"), as root: no shim or patched file goes into a
 * directory others can write or another user owns, no shim directory reached through a symlink chain
 * that leaves the target's tree (unless --allow-outside), nothing written through a planted link.
 * Every refusal is exit 5 with nothing written and every link target unchanged.
 */
class InstallSafetyTest {
    @TempDir
    Path dir;
    Path app;
    Path lib;
    Path victim;

    @BeforeEach
    void setUp() throws Exception {
        assumeTrue(InstallSafety.isRoot(), "these rules apply to root; the test suite runs as root in CI");
        app = Files.createDirectories(dir.resolve("app"));
        lib = app.resolve("libggml-base.so");
        Files.copy(Fixtures.installDir("x86_64", "release", "gen-b").resolve("lib/ollama/libggml-base.so"), lib,
                StandardCopyOption.COPY_ATTRIBUTES);
        victim = Files.writeString(dir.resolve("victim"), "precious\n");
    }

    private void refused(Cli.Result r, String... words) throws Exception {
        assertEquals(5, r.exit(), r.toString());
        assertEquals(1, r.err().lines().filter(l -> l.startsWith("ollama-patch: ")).count(), r.toString());
        for (String w : words) assertTrue(r.err().contains(w), "should say " + w + ": " + r);
        assertFalse(r.err().contains("Exception"), r.toString());
        assertEquals("precious\n", Files.readString(victim));
    }

    @Test
    void worldWritableDirectoryIsRefused() throws Exception {
        for (String mode : new String[] {"rwxrwxrwx", "rwxrwxr-x", "rwxr-xrwx"}) {
            Files.setPosixFilePermissions(app, PosixFilePermissions.fromString(mode));
            Set<String> before = TestFiles.listing(dir);
            String sha = TestFiles.sha256(lib);
            refused(Cli.run("apply", lib), "writable by");
            assertEquals(before, TestFiles.listing(dir));
            assertEquals(sha, TestFiles.sha256(lib));
        }
        Files.setAttribute(app, "unix:mode", 01777); // sticky does not help: refused as well
        refused(Cli.run("apply", lib), "writable by group and others");
        Files.setPosixFilePermissions(app, PosixFilePermissions.fromString("rwxr-xr-x"));
        assertEquals(0, Cli.run("apply", lib).exit());
    }

    @Test
    void outputIntoWorldWritableDirectoryIsRefused() throws Exception {
        Path out = Files.createDirectories(dir.resolve("out"));
        Files.setPosixFilePermissions(out, PosixFilePermissions.fromString("rwxrwxrwx"));
        refused(Cli.run("apply", lib, "-o", out.resolve("lib.so")), "writable by");
        assertEquals(Set.of(""), TestFiles.listing(out));
    }

    @Test
    void directoryOwnedByAnotherUserIsRefusedUnlessItIsTheFilesOwner() throws Exception {
        Files.setAttribute(app, "unix:uid", 65534);
        Set<String> before = TestFiles.listing(dir);
        refused(Cli.run("apply", lib), "owned by");
        assertEquals(before, TestFiles.listing(dir));
        Files.setAttribute(lib, "unix:uid", 65534); // the file's own owner may own its directory
        Cli.Result r = Cli.run("apply", lib);
        assertEquals(0, r.exit(), r.toString());
        assertEquals(65534, Files.getAttribute(lib, "unix:uid"), "owner kept");
    }

    @Test
    void shimDirectoryThroughASymlinkLeadingOutsideIsRefusedUnlessAllowed() throws Exception {
        Path elsewhere = Files.createDirectories(dir.resolve("elsewhere"));
        Path link = TestFiles.shortTempPath(elsewhere); // /tmp/opXXXX -> elsewhere; "/tmp/opXXXX/n.so" fits every site
        try {
            Path out = Files.createDirectories(dir.resolve("out"));
            String shimPath = link.resolve("n.so").toString();
            refused(Cli.run("apply", lib, "-o", out.resolve("lib.so"), "--shim-path", shimPath),
                    "symbolic link", "--allow-outside");
            assertEquals(Set.of(""), TestFiles.listing(out));
            assertEquals(Set.of(""), TestFiles.listing(elsewhere));
            refused(Cli.run("apply", lib, "--shim-path", shimPath), "--allow-outside");
            assertFalse(Files.exists(dir.resolve("app/libggml-base.so.orig")));
            Cli.Result ok = Cli.run("apply", lib, "-o", out.resolve("lib.so"), "--shim-path", shimPath, "--allow-outside");
            assertEquals(0, ok.exit(), ok.toString());
            assertTrue(Files.isRegularFile(elsewhere.resolve("n.so")));
        } finally {
            Files.deleteIfExists(link);
        }
    }

    @Test
    void plantedLinksAtBackupManifestLockAndShimAreRefused() throws Exception {
        String[] names = {"libggml-base.so.orig", "libggml-base.so.ollama-patch.json", ".libggml-base.so.ollama-patch.lock",
                "nvml.so"};
        for (String name : names) {
            Path planted = Files.createSymbolicLink(app.resolve(name), victim);
            Set<String> before = TestFiles.listing(dir);
            String sha = TestFiles.sha256(lib);
            refused(Cli.run("apply", lib), name, "symbolic link");
            assertEquals(before, TestFiles.listing(dir), name);
            assertEquals(sha, TestFiles.sha256(lib));
            Files.delete(planted);
        }
        Path out = Files.createDirectories(dir.resolve("out"));
        Files.createSymbolicLink(out.resolve("nvml.so"), victim);
        refused(Cli.run("apply", lib, "-o", out.resolve("lib.so")), "symbolic link");
    }

    @Test
    void linksAtPredictableTemporaryNamesAreNeverFollowed() throws Exception {
        long pid = ProcessHandle.current().pid();
        String[] names = {".libggml-base.so.0.ollama-patch.tmp", ".libggml-base.so.1.ollama-patch.tmp",
                ".nvml.so.0.ollama-patch.tmp", ".libggml-base.so.rollback.ollama-patch.tmp",
                ".libggml-base.so.orig." + pid + ".link", ".libggml-base.so.ollama-patch.json.0.ollama-patch.tmp"};
        for (String n : names) Files.createSymbolicLink(app.resolve(n), victim);
        Cli.Result r = Cli.run("apply", lib);
        assertEquals(0, r.exit(), r.toString());
        assertEquals("precious\n", Files.readString(victim));
        for (String n : names) assertTrue(Files.isSymbolicLink(app.resolve(n)), n + " left alone");
        assertTrue(Files.isRegularFile(app.resolve("nvml.so")));
    }

}
