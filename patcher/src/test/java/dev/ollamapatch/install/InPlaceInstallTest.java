package dev.ollamapatch.install;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ollamapatch.patch.Cli;
import dev.ollamapatch.patch.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code apply TARGET} in place on an Ollama-like install, then {@code verify} and {@code restore}. */
class InPlaceInstallTest {
    /** A test's install under a short /tmp name (outside {@code tmp}): removed after the test. */
    private Path shortRoot;

    @org.junit.jupiter.api.AfterEach
    void removeShortRoot() throws Exception {
        if (shortRoot == null) return;
        try (var s = Files.walk(shortRoot)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }

    @TempDir
    Path tmp;

    /** gen-b laid out as Ollama installs itself: {@code bin/ollama} and {@code lib/ollama/...}. */
    private Path genBInstall() throws Exception {
        Path root = Fixtures.copyInstall(Fixtures.installDir("x86_64", "release", "gen-b"), tmp.resolve("usr"));
        Files.move(root.resolve("bin/gen-b"), root.resolve("bin/ollama"));
        return root;
    }

    private static Path knownFor(Path root, Path f) {
        String rel = root.relativize(f).toString().replace("bin/ollama", "bin/gen-b");
        return Fixtures.installDir("x86_64", "release", "gen-b").resolve(rel);
    }

    private static Map<Path, byte[]> contents(List<Path> files) throws Exception {
        Map<Path, byte[]> m = new HashMap<>();
        for (Path f : files) m.put(f, Files.readAllBytes(f));
        return m;
    }

    private static List<Path> elfFiles(Path root) {
        return List.of(root.resolve("bin/ollama"), root.resolve("lib/ollama/libggml-base.so"));
    }

    /** Expected bytes: the original with every known site right-aligned to the path, '/' before it. */
    private static byte[] expectedPatched(byte[] original, Path knownFrom, String path) throws Exception {
        byte[] out = original.clone();
        for (JsonNode s : Fixtures.knownAnswers(knownFrom).get("sites")) {
            int off = s.get("offset").asInt();
            int len = s.get("length").asInt();
            byte[] p = path.getBytes(StandardCharsets.UTF_8);
            Arrays.fill(out, off, off + len - p.length, (byte) '/');
            System.arraycopy(p, 0, out, off + len - p.length, p.length);
        }
        return out;
    }

    @Test
    void aWholeInstallIsPatchedVerifiedAndRestoredByteForByte() throws Exception {
        Path root = genBInstall();
        List<Path> files = elfFiles(root);
        Map<Path, byte[]> originals = contents(files);

        Cli.Result r = Cli.run("apply", root, "--shim", Fixtures.stub("x86_64"));
        assertEquals(0, r.exit(), r.toString());
        for (Path f : files) {
            assertArrayEquals(expectedPatched(originals.get(f), knownFor(root, f), "$ORIGIN/nvml.so"), Files.readAllBytes(f),
                    "exact bytes of " + f);
            assertArrayEquals(originals.get(f), Files.readAllBytes(InstallLayout.backupOf(f)), "backup of " + f);
        }
        assertTrue(Files.isRegularFile(root.resolve("bin/nvml.so")));
        assertTrue(Files.isRegularFile(root.resolve("lib/ollama/nvml.so")));
        assertEquals("rwxr-xr-x", PosixFilePermissions.toString(Files.getPosixFilePermissions(root.resolve("bin/nvml.so"))));
        JsonNode manifest = new com.fasterxml.jackson.databind.ObjectMapper().readTree(root.resolve(".ollama-patch.json").toFile());
        assertEquals(2, manifest.get("files").size());
        assertEquals("$ORIGIN/nvml.so", manifest.get("shim_path").asText());
        assertTrue(manifest.get("tool").asText().startsWith("ollama-patch "));

        Fixtures.Run gen = Fixtures.run("x86_64", root.resolve("bin/ollama"), Map.of("FIXTURE_GPU_UUIDS",
                "GPU-00000000-0000-4000-8000-00000000f1x7"));
        assertTrue(gen.stdout().contains("discovery: nvml=ok driver=n/a devices=1"), gen.toString());
        Fixtures.Run loader = Fixtures.run("x86_64", root.resolve("bin/ggml-loader"), Map.of("FIXTURE_GPU_UUIDS",
                "GPU-00000000-0000-4000-8000-00000000f1x7"));
        assertTrue(loader.stdout().contains("nvml=ok"), loader.toString());

        assertEquals(0, Cli.run("verify", root).exit());
        // The kept originals and the shims are not the install's files: scan sees only the patched ones.
        // Patched is a state of its own: scan reports it (exit 0), with the manifest as evidence.
        Cli.Result scan = Cli.run("scan", "--json", root);
        assertEquals(0, scan.exit(), scan.toString());
        assertTrue(scan.out().contains("\"status\" : \"already-patched\""), scan.out());
        assertTrue(scan.out().contains("\"by\" : \"manifest\""), scan.out());
        for (com.fasterxml.jackson.databind.JsonNode f : new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(scan.out()).get("files")) {
            assertFalse(f.get("path").asText().endsWith(".orig"), scan.out());
            assertFalse(f.get("path").asText().endsWith("nvml.so"), scan.out());
        }

        Cli.Result again = Cli.run("apply", root, "--shim", Fixtures.stub("x86_64"));
        assertEquals(0, again.exit(), again.toString());
        assertTrue(again.err().contains("already patched"), again.err());

        Cli.Result restore = Cli.run("restore", root);
        assertEquals(0, restore.exit(), restore.toString());
        for (Path f : files) {
            assertArrayEquals(originals.get(f), Files.readAllBytes(f), "restored " + f);
            assertFalse(Files.exists(InstallLayout.backupOf(f)));
        }
        assertFalse(Files.exists(root.resolve("bin/nvml.so")));
        assertFalse(Files.exists(root.resolve(".ollama-patch.json")));
    }

    @Test
    void aDryRunInPlaceReportsAndWritesNothingNotEvenALock() throws Exception {
        Path root = genBInstall();
        java.util.Set<String> before = dev.ollamapatch.patch.TestFiles.listing(root);
        String sha = dev.ollamapatch.patch.TestFiles.sha256(root.resolve("bin/ollama"));
        Cli.Result r = Cli.run("apply", "--dry-run", root, "--shim", Fixtures.stub("x86_64"));
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("RETARGET c-string \"libnvidia-ml.so.1\""), r.out());
        assertEquals(before, dev.ollamapatch.patch.TestFiles.listing(root));
        assertEquals(sha, dev.ollamapatch.patch.TestFiles.sha256(root.resolve("bin/ollama")));
    }

    @Test
    void anotherShimPathIsOnlyTakenWithForceAndComesFromTheOriginal() throws Exception {
        Path root = genBInstall();
        Map<Path, byte[]> originals = contents(elfFiles(root));
        assertEquals(0, Cli.run("apply", root, "--shim", Fixtures.stub("x86_64")).exit());
        Cli.Result refused = Cli.run("apply", root, "--shim", Fixtures.stub("x86_64"), "--shim-path", "$ORIGIN/other.so");
        assertEquals(5, refused.exit(), refused.toString());
        assertTrue(refused.err().contains("is already patched (by ollama-patch ") && refused.err().contains(
                "to $ORIGIN/nvml.so); another shim path asked for ($ORIGIN/other.so instead of $ORIGIN/nvml.so): "
                        + "re-target it with --force"), refused.err());

        Cli.Result forced = Cli.run("apply", root, "--shim", Fixtures.stub("x86_64"), "--shim-path", "$ORIGIN/other.so",
                "--force");
        assertEquals(0, forced.exit(), forced.toString());
        Path f = root.resolve("bin/ollama");
        assertArrayEquals(expectedPatched(originals.get(f), knownFor(root, f), "$ORIGIN/other.so"), Files.readAllBytes(f));
        assertTrue(Files.isRegularFile(root.resolve("bin/other.so")));
        assertEquals(0, Cli.run("verify", root).exit());
        assertEquals(0, Cli.run("restore", root).exit());
        assertArrayEquals(originals.get(f), Files.readAllBytes(f));
    }

    @Test
    void verifyReportsEachChangedByteAndRestoreRefusesAChangedFile() throws Exception {
        Path root = genBInstall();
        assertEquals(0, Cli.run("apply", root, "--shim", Fixtures.stub("x86_64")).exit());
        Path f = root.resolve("bin/ollama");
        flipByte(f, 4096);
        flipByte(root.resolve("lib/ollama/nvml.so"), 100);
        Cli.Result v = Cli.run("verify", root);
        assertEquals(1, v.exit(), v.toString());
        assertTrue(v.out().contains(f + ": SHA-256 is"), v.out());
        assertTrue(v.out().contains("lib/ollama/nvml.so: SHA-256 is"), v.out());
        Cli.Result restore = Cli.run("restore", root);
        assertEquals(5, restore.exit(), restore.toString());
        assertTrue(restore.err().contains("changed since it was patched"), restore.err());
        assertTrue(Files.exists(InstallLayout.backupOf(f)), "nothing was restored");
    }

    @Test
    void modeOwnerGroupAndExtendedAttributesAreKept() throws Exception {
        boolean root0 = "root".equals(System.getProperty("user.name"));
        // With a file capability glibc does not expand $ORIGIN for a normal user (secure execution, issue 14):
        // the sites need an absolute path, and the 17-byte one fits /tmp/opXXXX/n.so.
        Path root = root0 ? shortRoot = Fixtures.copyInstall(Fixtures.installDir("x86_64", "release", "gen-b"),
                dev.ollamapatch.patch.TestFiles.shortTempPath(null)) : genBInstall();
        if (root0) Files.move(root.resolve("bin/gen-b"), root.resolve("bin/ollama"));
        Path f = root.resolve("bin/ollama");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rwxr-x---"));
        if (root0) {
            assertEquals(0, new ProcessBuilder("chown", "65534:65534", f.toString()).start().waitFor());
        }
        // A user attribute, and a file capability as an Ollama binary might carry (root only).
        var xattrs = Files.getFileAttributeView(f, java.nio.file.attribute.UserDefinedFileAttributeView.class);
        xattrs.write("ollama-patch.test", java.nio.ByteBuffer.wrap("kept".getBytes(StandardCharsets.UTF_8)));
        if (root0) {
            assertEquals(0, new ProcessBuilder("setcap", "cap_net_bind_service=+ep", f.toString()).start().waitFor());
        }
        PosixFileAttributes before = Files.readAttributes(f, PosixFileAttributes.class);
        Cli.Result applied = root0
                ? Cli.run("apply", root, "--shim", Fixtures.stub("x86_64"), "--shim-path", root.resolve("n.so"))
                : Cli.run("apply", root, "--shim", Fixtures.stub("x86_64"));
        assertEquals(0, applied.exit(), applied::toString);
        PosixFileAttributes after = Files.readAttributes(f, PosixFileAttributes.class);
        java.nio.ByteBuffer value = java.nio.ByteBuffer.allocate(16);
        Files.getFileAttributeView(f, java.nio.file.attribute.UserDefinedFileAttributeView.class)
                .read("ollama-patch.test", value);
        assertEquals("kept", new String(value.array(), 0, value.position(), StandardCharsets.UTF_8));
        if (root0) {
            Process getcap = new ProcessBuilder("getcap", f.toString()).start();
            String caps = new String(getcap.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(caps.contains("cap_net_bind_service"), "file capability kept: " + caps);
        }
        assertEquals(before.permissions(), after.permissions());
        assertEquals(before.owner(), after.owner());
        assertEquals(before.group(), after.group());
        assertTrue(!root0 || after.owner().getName().equals("nobody") || after.owner().getName().equals("65534"),
                "owner really changed hands in this test: " + after.owner());
    }

    @Test
    void aSymlinkedTargetPatchesTheFileItPointsToAndStaysALink() throws Exception {
        Path real = Files.createDirectories(tmp.resolve("opt/ollama/bin")).resolve("gen-c");
        Files.copy(Fixtures.binary("x86_64", "release", "gen-c"), real);
        Path link = Files.createDirectories(tmp.resolve("usr/local/bin")).resolve("gen-c");
        Files.createSymbolicLink(link, real);
        byte[] original = Files.readAllBytes(real);
        Cli.Result r = Cli.run("apply", link, "--shim", Fixtures.stub("x86_64"));
        assertEquals(0, r.exit(), r.toString());
        assertTrue(Files.isSymbolicLink(link));
        assertEquals(real, Files.readSymbolicLink(link));
        assertFalse(Arrays.equals(original, Files.readAllBytes(real)));
        assertTrue(Files.exists(real.resolveSibling("nvml.so")), "the shim goes beside the real file ($ORIGIN)");
        assertTrue(Fixtures.run("x86_64", link, Map.of()).stdout().contains("nvml=ok"));
        assertEquals(0, Cli.run("verify", link).exit());
        assertEquals(0, Cli.run("restore", link).exit());
        assertArrayEquals(original, Files.readAllBytes(real));
    }

    @Test
    void concurrentAppliesLeaveOneConsistentResult() throws Exception {
        Path root = genBInstall();
        List<Process> ps = new ArrayList<>();
        List<Path> errs = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            Path err = tmp.resolve("err" + i);
            errs.add(err);
            ps.add(Cli.process(Map.of(), "apply", root, "--shim", Fixtures.stub("x86_64"))
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(err.toFile()).start());
        }
        int ok = 0;
        for (int i = 0; i < ps.size(); i++) {
            assertTrue(ps.get(i).waitFor(120, TimeUnit.SECONDS));
            int exit = ps.get(i).exitValue();
            String err = Files.readString(errs.get(i));
            assertTrue(exit == 0 || (exit == 1 && err.contains("another ollama-patch is working")), exit + ": " + err);
            if (exit == 0) ok++;
        }
        assertTrue(ok >= 1);
        assertEquals(0, Cli.run("verify", root).exit());
        assertTrue(Fixtures.run("x86_64", root.resolve("bin/ggml-loader"), Map.of()).stdout().contains("nvml=ok"));
    }

    private static void flipByte(Path f, long at) throws Exception {
        try (var ch = java.nio.channels.FileChannel.open(f, java.nio.file.StandardOpenOption.READ,
                java.nio.file.StandardOpenOption.WRITE)) {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(1);
            ch.read(b, at);
            b.flip();
            b.put(0, (byte) (b.get(0) ^ 0x5A));
            ch.write(b, at);
        }
    }
}
