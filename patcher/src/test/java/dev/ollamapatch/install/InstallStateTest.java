package dev.ollamapatch.install;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ollamapatch.patch.Cli;
import dev.ollamapatch.patch.Fixtures;
import dev.ollamapatch.patch.TestFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 15's findings, each reproduced: what the manifest may name, copied trees, the user's own
 * {@code .orig} and {@code nvml.so}, shared shims, two machines in one directory, set-id bits,
 * leftovers of killed runs, an interrupted restore, lock files, malformed manifests.
 */
class InstallStateTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    private Path stub() {
        return Fixtures.stub("x86_64");
    }

    /** gen-b laid out as Ollama installs itself: {@code bin/ollama} and {@code lib/ollama/libggml-base.so}. */
    private Path install(String name) throws Exception {
        Path root = Fixtures.copyInstall(Fixtures.installDir("x86_64", "release", "gen-b"), tmp.resolve(name));
        Files.move(root.resolve("bin/gen-b"), root.resolve("bin/ollama"));
        return root;
    }

    private Path singleFile(String dir, String name) throws Exception {
        Path f = Files.createDirectories(tmp.resolve(dir)).resolve(name);
        Files.copy(Fixtures.binary("x86_64", "release", "gen-c"), f);
        return f;
    }

    private static Map<Path, byte[]> snapshot(Path root) throws Exception {
        Map<Path, byte[]> m = new LinkedHashMap<>();
        try (var s = Files.walk(root)) {
            for (Path p : s.filter(Files::isRegularFile).sorted().toList()) m.put(p, Files.readAllBytes(p));
        }
        return m;
    }

    private static void assertSameFiles(Map<Path, byte[]> before, Path root) throws Exception {
        Map<Path, byte[]> now = snapshot(root);
        assertEquals(before.keySet(), now.keySet(), "the same files");
        for (Path p : before.keySet()) assertArrayEquals(before.get(p), now.get(p), "bytes of " + p);
    }

    private static void assertOneLine(Cli.Result r) {
        assertEquals(1, r.err().strip().lines().count(), "one line: " + r);
        assertFalse(r.err().contains("Exception"), r.toString());
    }

    private ObjectNode manifestOf(Path manifest) throws Exception {
        return (ObjectNode) JSON.readTree(manifest.toFile());
    }

    // --- 1. the manifest names only files inside its target -------------------------------------

    @Test
    void aManifestRecordsPathsRelativeToItsTarget() throws Exception {
        Path root = install("usr");
        assertEquals(0, Cli.run("apply", root, "--shim", stub()).exit());
        ObjectNode m = manifestOf(root.resolve(".ollama-patch.json"));
        assertEquals(2, m.get("format").asInt());
        assertEquals("bin/ollama", m.get("files").get(0).get("path").asText());
        assertEquals("bin/ollama.orig", m.get("files").get(0).get("backup").asText());
        assertEquals("bin/nvml.so", m.get("shims").get(0).get("path").asText());
    }

    @Test
    void restoreAndVerifyRefuseAForgedManifestThatNamesFilesOutsideTheTarget() throws Exception {
        Path root = install("usr");
        assertEquals(0, Cli.run("apply", root, "--shim", stub()).exit());
        Path victim = Files.writeString(tmp.resolve("victim"), "a file of someone else");
        Path elsewhere = Files.createDirectories(tmp.resolve("elsewhere"));
        Files.writeString(elsewhere.resolve("nvml.so"), "not a shim");
        Files.createSymbolicLink(root.resolve("link"), elsewhere);
        String[] forged = {victim.toString(), "../victim", "bin/../../victim", "link/nvml.so"};
        Path manifest = root.resolve(".ollama-patch.json");
        byte[] genuine = Files.readAllBytes(manifest);
        for (String path : forged) {
            for (String field : new String[] {"files", "shims"}) {
                ObjectNode m = manifestOf(manifest);
                ((ObjectNode) m.get(field).get(0)).put("path", path);
                Files.write(manifest, JSON.writeValueAsBytes(m));
                Map<Path, byte[]> before = snapshot(tmp);
                for (String command : new String[] {"restore", "verify"}) {
                    Cli.Result r = Cli.run(command, root);
                    assertEquals(5, r.exit(), command + " with " + field + " " + path + ": " + r);
                    assertOneLine(r);
                    assertTrue(r.err().contains("refusing to use this manifest"), r.err());
                }
                assertSameFiles(before, tmp);
                Files.write(manifest, genuine);
            }
        }
        // A backup other than <file>.orig is refused too: restore would rename it over the file.
        ObjectNode m = manifestOf(manifest);
        ((ObjectNode) m.get("files").get(0)).put("backup", "lib/ollama/libggml-base.so");
        Files.write(manifest, JSON.writeValueAsBytes(m));
        assertEquals(5, Cli.run("restore", root).exit());
        // An absolute *.so outside the target (as an absolute --shim-path records) is only ever read:
        // restore leaves it even when its hash is the recorded one.
        Files.write(manifest, genuine);
        m = manifestOf(manifest);
        ((ObjectNode) m.get("shims").get(0)).put("path", elsewhere.resolve("nvml.so").toString())
                .put("sha256", TestFiles.sha256(elsewhere.resolve("nvml.so")));
        Files.write(manifest, JSON.writeValueAsBytes(m));
        Cli.Result outside = Cli.run("restore", root);
        assertEquals(0, outside.exit(), outside.toString());
        assertTrue(outside.err().contains("left " + elsewhere.resolve("nvml.so")), outside.err());
        assertEquals(0, Cli.run("apply", root, "--shim", stub()).exit());
        Files.write(manifest, genuine);
        assertEquals(0, Cli.run("restore", root).exit());
        assertEquals("a file of someone else", Files.readString(victim));
        assertEquals("not a shim", Files.readString(elsewhere.resolve("nvml.so")));
    }

    @Test
    void aSingleFileManifestNamesThatFileOnly() throws Exception {
        Path a = singleFile("d", "ollama");
        Path b = singleFile("d", "other");
        byte[] other = Files.readAllBytes(b);
        assertEquals(0, Cli.run("apply", a, "--shim", stub()).exit());
        Path manifest = a.resolveSibling("ollama.ollama-patch.json");
        ObjectNode m = manifestOf(manifest);
        ((ObjectNode) m.get("files").get(0)).put("path", "other").put("backup", "other.orig");
        Files.write(manifest, JSON.writeValueAsBytes(m));
        Cli.Result r = Cli.run("restore", a);
        assertEquals(5, r.exit(), r.toString());
        assertArrayEquals(other, Files.readAllBytes(b));
    }

    // --- 2. a copied or moved tree is its own -----------------------------------------------------

    @Test
    void aCopiedTreeIsVerifiedAndRestoredByItselfNotThroughTheOriginal() throws Exception {
        Path t = install("T");
        Map<Path, byte[]> originals = snapshot(t);
        assertEquals(0, Cli.run("apply", t, "--shim", stub()).exit());
        Map<Path, byte[]> patched = snapshot(t);
        Path t2 = tmp.resolve("T2");
        assertEquals(0, new ProcessBuilder("cp", "-a", t.toString(), t2.toString()).start().waitFor());
        // Break T: verify of T2 must not see it, because it checks T2's own files.
        Files.delete(t.resolve("bin/nvml.so"));
        assertEquals(0, Cli.run("verify", t2).exit(), "T2 holds");
        assertEquals(1, Cli.run("verify", t).exit(), "T lost its shim");
        Cli.Result r = Cli.run("restore", t2);
        assertEquals(0, r.exit(), r.toString());
        for (Map.Entry<Path, byte[]> e : originals.entrySet()) {
            assertArrayEquals(e.getValue(), Files.readAllBytes(t2.resolve(t.relativize(e.getKey()))), "T2 restored");
            if (!e.getKey().getFileName().toString().equals("nvml.so")) {
                assertArrayEquals(patched.get(e.getKey()), Files.readAllBytes(e.getKey()), "T untouched");
            }
        }
        assertTrue(Files.exists(t.resolve(".ollama-patch.json")), "T keeps its manifest");
        // A moved tree, likewise.
        Path t3 = tmp.resolve("T3");
        Files.move(t, t3);
        assertEquals(0, Cli.run("apply", t3, "--shim", stub()).exit(), "the missing shim is put back");
        assertEquals(0, Cli.run("verify", t3).exit());
        assertEquals(0, Cli.run("restore", t3).exit());
        for (Map.Entry<Path, byte[]> e : originals.entrySet()) {
            assertArrayEquals(e.getValue(), Files.readAllBytes(t3.resolve(t.relativize(e.getKey()))));
        }
    }

    @Test
    void aManifestOfTheFormerAbsoluteFormatIsReadInsideItsTargetOnly() throws Exception {
        Path root = install("usr");
        Map<Path, byte[]> originals = snapshot(root);
        assertEquals(0, Cli.run("apply", root, "--shim", stub()).exit());
        Path manifest = root.resolve(".ollama-patch.json");
        ObjectNode m = manifestOf(manifest);
        m.remove("format");
        for (var f : m.get("files")) {
            ((ObjectNode) f).put("path", root.resolve(f.get("path").asText()).toString());
            ((ObjectNode) f).put("backup", root.resolve(f.get("backup").asText()).toString());
        }
        for (var s : m.get("shims")) ((ObjectNode) s).put("path", root.resolve(s.get("path").asText()).toString());
        Files.write(manifest, JSON.writeValueAsBytes(m));
        assertEquals(0, Cli.run("verify", root).exit());
        assertEquals(0, Cli.run("restore", root).exit());
        assertSameFiles(originals, root);
    }

    // --- 4. the user's own files ------------------------------------------------------------------

    @Test
    void aUsersOwnOrigIsNeverOverwrittenForASingleFileOrInsideATree() throws Exception {
        Path f = singleFile("single", "ollama");
        Files.writeString(f.resolveSibling("ollama.orig"), "my own backup");
        Map<Path, byte[]> before = snapshot(f.getParent());
        Cli.Result r = Cli.run("apply", f, "--shim", stub());
        assertEquals(5, r.exit(), r.toString());
        assertOneLine(r);
        assertTrue(r.err().contains("ollama.orig exists and was not written by ollama-patch"), r.err());
        assertSameFiles(before, f.getParent());
        assertEquals(TestFiles.listing(f.getParent()), Set.of("", "ollama", "ollama.orig"), "not even a lock file");

        Path root = install("usr");
        Files.writeString(root.resolve("lib/ollama/libggml-base.so.orig"), "kept by the admin");
        Map<Path, byte[]> tree = snapshot(root);
        Cli.Result t = Cli.run("apply", root, "--shim", stub());
        assertEquals(5, t.exit(), t.toString());
        assertTrue(t.err().contains("libggml-base.so.orig exists"), t.err());
        assertSameFiles(tree, root);
    }

    @Test
    void aUsersOwnNvmlSoIsNeverOverwritten() throws Exception {
        Path f = singleFile("single", "ollama");
        Files.writeString(f.resolveSibling("nvml.so"), "some other library");
        Map<Path, byte[]> before = snapshot(f.getParent());
        for (String force : new String[] {"--dry-run", "--force"}) {
            Cli.Result r = Cli.run("apply", f, "--shim", stub(), force);
            assertEquals(5, r.exit(), r.toString());
            assertTrue(r.err().contains("nvml.so exists and was not installed by ollama-patch; move it elsewhere"), r.err());
        }
        assertSameFiles(before, f.getParent());
        // An identical one is used, and left there by restore: it was never the tool's.
        Files.copy(stub(), f.resolveSibling("nvml.so"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertEquals(0, Cli.run("apply", f, "--shim", stub()).exit());
        assertEquals(0, Cli.run("restore", f).exit());
        assertTrue(Files.exists(f.resolveSibling("nvml.so")));
    }

    // --- 5. shared shims --------------------------------------------------------------------------

    @Test
    void aShimSharedByTwoTargetsSurvivesRestoringOneOfThem() throws Exception {
        Path a = singleFile("d", "ollama");
        Path b = singleFile("d", "ollama2");
        byte[] original = Files.readAllBytes(a);
        assertEquals(0, Cli.run("apply", a, "--shim", stub()).exit());
        assertEquals(0, Cli.run("apply", b, "--shim", stub()).exit());
        Cli.Result r = Cli.run("restore", a);
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.err().contains("still uses it"), r.err());
        assertTrue(Files.exists(a.resolveSibling("nvml.so")));
        assertEquals(0, Cli.run("verify", b).exit());
        assertEquals(0, Cli.run("restore", b).exit());
        assertFalse(Files.exists(a.resolveSibling("nvml.so")), "the last user removes it");
        assertArrayEquals(original, Files.readAllBytes(b));
        assertEquals(Set.of("", "ollama", "ollama2"), TestFiles.listing(a.getParent()));
    }

    @Test
    void applyPutsBackAMissingOrChangedShimOfAnAlreadyPatchedTarget() throws Exception {
        Path root = install("usr");
        assertEquals(0, Cli.run("apply", root, "--shim", stub()).exit());
        Path shim = root.resolve("bin/nvml.so");
        Files.delete(shim);
        assertEquals(1, Cli.run("verify", root).exit());
        Cli.Result r = Cli.run("apply", root, "--shim", stub());
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.err().contains("installed the shim " + shim + " again"), r.err());
        assertArrayEquals(Files.readAllBytes(stub()), Files.readAllBytes(shim));
        Files.writeString(shim, "damaged");
        assertEquals(0, Cli.run("apply", root, "--shim", stub()).exit());
        assertArrayEquals(Files.readAllBytes(stub()), Files.readAllBytes(shim));
        assertEquals(0, Cli.run("verify", root).exit());
    }

    // --- 6. one shim per machine ------------------------------------------------------------------

    @Test
    void aDirectoryWithFilesOfTwoMachinesIsNotGivenOneShimForBoth() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("mixed"));
        Files.copy(Fixtures.binary("x86_64", "release", "gen-c"), dir.resolve("ollama-x86"));
        Files.copy(Fixtures.binary("aarch64", "release", "gen-c"), dir.resolve("ollama-arm"));
        Map<Path, byte[]> before = snapshot(dir);
        Cli.Result r = Cli.run("apply", dir);
        assertEquals(5, r.exit(), r.toString());
        assertOneLine(r);
        assertTrue(r.err().contains("one shim cannot serve both"), r.err());
        assertSameFiles(before, dir);
        // One at a time, as two targets: the second one meets the first one's shim and is refused.
        assertEquals(0, Cli.run("apply", dir.resolve("ollama-x86")).exit());
        Map<Path, byte[]> patched = snapshot(dir);
        Cli.Result second = Cli.run("apply", dir.resolve("ollama-arm"));
        assertEquals(5, second.exit(), second.toString());
        assertTrue(second.err().contains("is the shim of another patched target"), second.err());
        assertSameFiles(patched, dir);
        assertEquals(0, Cli.run("verify", dir.resolve("ollama-x86")).exit());
    }

    // --- 7. set-id bits ---------------------------------------------------------------------------

    @Test
    void setUserAndSetGroupIdBitsAreKeptByApplyAndRestore() throws Exception {
        Path f = singleFile("suid", "ollama");
        Files.setAttribute(f, "unix:mode", 06755);
        // A set-id program runs in secure-execution mode, where the loader does not expand $ORIGIN
        // (issue 14): its shim needs an absolute path that fits the 17-byte site, /tmp/sNNN/nvml.so.
        Path shimDir = null;
        for (int i = 0; i < 1000 && shimDir == null; i++) {
            Path c = Path.of("/tmp", String.format("s%03d", (i + (int) (System.nanoTime() % 1000)) % 1000));
            try {
                shimDir = Files.createDirectory(c);
            } catch (java.nio.file.FileAlreadyExistsException e) {
                // taken: the next one
            }
        }
        try {
            Cli.Result r = Cli.run("apply", f, "--shim", stub(), "--shim-path", shimDir.resolve("nvml.so"));
            assertEquals(0, r.exit(), r.toString());
            assertEquals(06755, (Integer) Files.getAttribute(f, "unix:mode") & 07777, "patched file");
            assertEquals(0, Cli.run("restore", f).exit());
            assertEquals(06755, (Integer) Files.getAttribute(f, "unix:mode") & 07777, "restored file");
        } finally {
            Files.deleteIfExists(shimDir.resolve("nvml.so"));
            Files.deleteIfExists(shimDir);
        }
    }

    // --- 8-10. leftovers, an interrupted restore, lock files --------------------------------------

    @Test
    void aPartialTemporaryFileOfAKilledRunIsNeitherAnInputNorLeftBehind() throws Exception {
        Path root = install("usr");
        Path partial = root.resolve("bin/.ollama.ollama-patch.tmp");
        byte[] elf = Files.readAllBytes(root.resolve("bin/ollama"));
        Files.write(partial, java.util.Arrays.copyOf(elf, 4096));
        Path complete = root.resolve("lib/ollama/.libggml-base.so.ollama-patch.tmp");
        Files.copy(root.resolve("lib/ollama/libggml-base.so"), complete);
        Path manifestTemp = root.resolve("..ollama-patch.json.ollama-patch.tmp");
        Files.writeString(manifestTemp, "{\"files\": [");
        Cli.Result dry = Cli.run("apply", "--dry-run", root, "--shim", stub());
        assertEquals(0, dry.exit(), dry.toString());
        Cli.Result r = Cli.run("apply", root, "--shim", stub());
        assertEquals(0, r.exit(), r.toString());
        assertFalse(Files.exists(partial));
        assertFalse(Files.exists(complete));
        assertFalse(Files.exists(manifestTemp));
    }

    @Test
    void cleanUpRemovesOnlyExactNamesNeverLookAlikes() throws Exception {
        Path f = singleFile("odd", "ollama[");
        Path lookAlike = Files.writeString(f.resolveSibling(".ollama[.1234.ollama-patch.tmp"), "the user's");
        Cli.Result r = Cli.run("apply", f, "--shim", stub());
        assertEquals(0, r.exit(), r.toString());
        assertEquals("the user's", Files.readString(lookAlike));
        assertEquals(0, Cli.run("verify", f).exit());
        assertEquals(0, Cli.run("restore", f).exit());
    }

    @Test
    void anInterruptedRestoreIsFinishedByTheNextOne() throws Exception {
        Path root = install("usr");
        Map<Path, byte[]> originals = snapshot(root);
        assertEquals(0, Cli.run("apply", root, "--shim", stub()).exit());
        // Stopped after its first rename: bin/ollama is back, lib/ollama/libggml-base.so is not.
        Files.move(root.resolve("bin/ollama.orig"), root.resolve("bin/ollama"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        Cli.Result r = Cli.run("restore", root);
        assertEquals(0, r.exit(), r.toString());
        assertSameFiles(originals, root);
    }

    @Test
    void anApplyStoppedBetweenBackupAndSwapIsUndoneByRestore() throws Exception {
        Path root = install("usr");
        Map<Path, byte[]> originals = snapshot(root);
        assertEquals(0, Cli.run("apply", root, "--shim", stub()).exit());
        // The state a kill leaves after the manifest, shims and one backup link, before the swap.
        Path lib = root.resolve("lib/ollama/libggml-base.so");
        Files.move(InstallLayout.backupOf(lib), lib, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.createLink(InstallLayout.backupOf(lib), lib);
        assertEquals(0, Cli.run("restore", root).exit());
        assertSameFiles(originals, root);
    }

    @Test
    void noLockFileIsLeftAndRestoreOfAnUnpatchedFileWritesNothing() throws Exception {
        Path f = singleFile("plain", "ollama");
        Cli.Result r = Cli.run("restore", f);
        assertEquals(3, r.exit(), r.toString());
        assertEquals(Set.of("", "ollama"), TestFiles.listing(f.getParent()));
        assertEquals(0, Cli.run("apply", f, "--shim", stub()).exit());
        assertEquals(Set.of("", "ollama", "ollama.orig", "ollama.ollama-patch.json", "nvml.so"),
                TestFiles.listing(f.getParent()));
        assertEquals(0, Cli.run("restore", f).exit());
        assertEquals(Set.of("", "ollama"), TestFiles.listing(f.getParent()));
    }

    // --- 11. malformed manifests and odd paths: one line, documented exit code -------------------

    @Test
    void aMalformedManifestIsOneLineWithExitFour() throws Exception {
        Path f = singleFile("m", "ollama");
        assertEquals(0, Cli.run("apply", f, "--shim", stub()).exit());
        Path manifest = f.resolveSibling("ollama.ollama-patch.json");
        byte[] genuine = Files.readAllBytes(manifest);
        Map<String, String> cases = new LinkedHashMap<>();
        cases.put("empty object", "{}");
        cases.put("null", "null");
        cases.put("not json", "{\"files\": [");
        ObjectNode m = manifestOf(manifest);
        ((ObjectNode) m.get("files").get(0)).putNull("sites");
        cases.put("sites null", m.toString());
        for (long offset : new long[] {-5, Long.MAX_VALUE}) {
            ObjectNode o = manifestOf(manifest);
            ((ObjectNode) o.get("files").get(0).get("sites").get(0)).put("offset", offset);
            cases.put("offset " + offset, o.toString());
        }
        ObjectNode noSha = manifestOf(manifest);
        ((ObjectNode) noSha.get("files").get(0)).put("original_sha256", "x");
        cases.put("bad hash", noSha.toString());
        ObjectNode nullEntry = manifestOf(manifest);
        ((ArrayNode) nullEntry.get("files")).addNull();
        cases.put("null entry", nullEntry.toString());
        for (Map.Entry<String, String> c : cases.entrySet()) {
            Files.writeString(manifest, c.getValue());
            for (String command : new String[] {"verify", "restore", "apply"}) {
                Cli.Result r = command.equals("apply") ? Cli.run(command, f, "--shim", stub()) : Cli.run(command, f);
                assertEquals(4, r.exit(), c.getKey() + ", " + command + ": " + r);
                assertOneLine(r);
                assertTrue(r.err().contains("not a valid ollama-patch manifest"), r.err());
            }
        }
        Files.write(manifest, genuine);
        assertEquals(0, Cli.run("restore", f).exit());
    }

    @Test
    void aDanglingSymbolicLinkOrALoopIsInvalidInputNotUsage() throws Exception {
        Path dangling = Files.createSymbolicLink(tmp.resolve("dangling"), tmp.resolve("nowhere"));
        Path loop = Files.createSymbolicLink(tmp.resolve("loop"), tmp.resolve("loop"));
        for (Path p : new Path[] {dangling, loop}) {
            for (String command : new String[] {"apply", "verify", "restore"}) {
                Cli.Result r = Cli.run(command, p);
                assertEquals(4, r.exit(), command + " " + p + ": " + r);
                assertOneLine(r);
            }
        }
    }

    @Test
    void aNewlineInAPathStaysOnOneLine() throws Exception {
        Path f = singleFile("nl", "olla\nma");
        Files.writeString(f.resolveSibling("olla\nma.orig"), "mine");
        Cli.Result r = Cli.run("apply", f, "--shim", stub());
        assertEquals(5, r.exit(), r.toString());
        assertOneLine(r);
        assertTrue(new String(r.err().getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8).contains("olla\\nma.orig"), r.err());
    }

    /**
     * A dry run predicts the permission failure the apply would meet. As root the tool is run as
     * {@code nobody} (setpriv) from a world-readable copy of its class path; as another user the
     * directory is made read-only.
     */
    @Test
    void aDryRunThatCannotWriteSaysSoInsteadOfZero() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("ro"));
        Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Path f = singleFile("ro", "ollama");
        Path shim = Files.copy(stub(), tmp.resolve("shim.so"));
        boolean root = InstallSafety.isRoot();
        java.util.List<String> prefix = new java.util.ArrayList<>();
        String classPath = System.getProperty("java.class.path");
        if (root) {
            Path cp = Files.createDirectories(tmp.resolve("cp"));
            java.util.List<String> entries = new java.util.ArrayList<>();
            int i = 0;
            for (String e : classPath.split(java.io.File.pathSeparator)) {
                Path src = Path.of(e);
                if (!Files.exists(src) || e.contains("jazzer") || e.contains("junit")) continue;
                Path dst = cp.resolve(i++ + "-" + src.getFileName());
                assertEquals(0, new ProcessBuilder("cp", "-r", src.toString(), dst.toString()).start().waitFor());
                entries.add(dst.toString());
            }
            assertEquals(0, new ProcessBuilder("chmod", "-R", "a+rX", tmp.toString()).start().waitFor());
            classPath = String.join(java.io.File.pathSeparator, entries);
            prefix.addAll(java.util.List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"));
        } else {
            Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("r-xr-xr-x"));
        }
        Set<String> before = TestFiles.listing(dir);
        for (String dry : new String[] {"--dry-run", "--json"}) {
            java.util.List<String> cmd = new java.util.ArrayList<>(prefix);
            cmd.addAll(java.util.List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-cp", classPath, "dev.ollamapatch.cli.Main", "apply", dry, f.toString(), "--shim", shim.toString()));
            Process p = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(1, p.waitFor(), dry + ": " + err);
            assertTrue(err.contains(dir + ": permission denied"), err);
            assertEquals(1, err.strip().lines().count(), err);
        }
        assertEquals(before, TestFiles.listing(dir));
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
    }
}
