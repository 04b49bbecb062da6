package dev.ollamapatch.install;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ollamapatch.patch.Cli;
import dev.ollamapatch.patch.Fixtures;
import dev.ollamapatch.patch.TestFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Directories made for a shim at {@code $ORIGIN/sub/...}: recorded in the manifest, removed by
 * rollback and restore when empty; a directory that was there before is never removed.
 */
class ShimDirectoriesTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    private Path program(String dir) throws Exception {
        Path f = Files.createDirectories(tmp.resolve(dir)).resolve("ollama");
        Files.copy(Fixtures.binary("x86_64", "release", "gen-c"), f);
        return f;
    }

    private static Cli.Result apply(Path f, String shimPath) {
        return Cli.run("apply", f, "--shim", Fixtures.stub("x86_64"), "--shim-path", shimPath);
    }

    @Test
    void directoriesMadeForAShimAreRecordedAndRemovedByRestore() throws Exception {
        Path f = program("nested");
        byte[] original = Files.readAllBytes(f);
        Cli.Result r = apply(f, "$ORIGIN/a/b/x.so");
        assertEquals(0, r.exit(), r.toString());
        assertTrue(Files.isRegularFile(f.resolveSibling("a/b/x.so")));
        JsonNode shim = JSON.readTree(f.resolveSibling("ollama.ollama-patch.json").toFile()).get("shims").get(0);
        assertEquals("a/b/x.so", shim.get("path").asText());
        assertEquals("[\"a\",\"a/b\"]", shim.get("directories").toString());
        // The loader finds the shim there.
        Fixtures.Run run = Fixtures.run("x86_64", f, Map.of());
        assertTrue(run.stdout().contains("discovery: nvml=ok"), run.toString());
        assertTrue(run.stdout().contains("$ORIGIN/a/b/x.so"), run.toString());
        assertEquals(0, Cli.run("verify", f).exit());

        assertEquals(0, Cli.run("restore", f).exit());
        assertEquals(Set.of("", "ollama"), TestFiles.listing(f.getParent()), "the directories are gone too");
        assertArrayEquals(original, Files.readAllBytes(f));
    }

    @Test
    void aDirectoryThatWasThereBeforeStays() throws Exception {
        Path f = program("before");
        Files.createDirectory(f.resolveSibling("s"));
        assertEquals(0, apply(f, "$ORIGIN/s/nvml.so").exit());
        JsonNode shim = JSON.readTree(f.resolveSibling("ollama.ollama-patch.json").toFile()).get("shims").get(0);
        assertTrue(shim.get("directories") == null, shim.toString());
        assertEquals(0, Cli.run("restore", f).exit());
        assertEquals(Set.of("", "ollama", "s"), TestFiles.listing(f.getParent()));
    }

    @Test
    void aDirectoryThatHoldsSomethingElseStays() throws Exception {
        Path f = program("used");
        assertEquals(0, apply(f, "$ORIGIN/a/b/x.so").exit());
        Files.writeString(f.resolveSibling("a/notes"), "the user's");
        assertEquals(0, Cli.run("restore", f).exit());
        assertEquals(Set.of("", "ollama", "a", "a/notes"), TestFiles.listing(f.getParent()));
    }

    @Test
    void aRollbackRemovesTheDirectoriesItMade() throws Exception {
        Path f = program("rollback");
        // mkdir of a/b fails: a/ was made already, the shim cannot be installed, apply rolls back.
        List<String> cmd = new ArrayList<>(List.of("strace", "-f", "-qq", "-o", "/dev/null",
                "-P", f.resolveSibling("a/b").toString(), "-e", "inject=mkdir,mkdirat:error=EACCES", "--"));
        cmd.addAll(Cli.process(Map.of(), "apply", f, "--shim", Fixtures.stub("x86_64"), "--shim-path", "$ORIGIN/a/b/x.so")
                .command());
        Process p = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(1, p.exitValue());
        assertEquals(Set.of("", "ollama"), TestFiles.listing(f.getParent()), "nothing left, a/ included");
    }

    @Test
    void aShimPathThroughASymbolicLinkIsRefusedBeforeAnyChange() throws Exception {
        Path f = program("link");
        Files.createDirectory(f.resolveSibling("t"));
        Files.createSymbolicLink(f.resolveSibling("s"), Path.of("t"));
        Cli.Result r = apply(f, "$ORIGIN/s/nvml.so");
        // Installed through the link, the shim could be neither verified nor removed (a stuck state).
        assertEquals(5, r.exit(), r.toString());
        assertTrue(r.err().contains("goes through the symbolic link"), r.err());
        assertEquals(Set.of("", "ollama", "s", "t"), TestFiles.listing(f.getParent()));
    }

    @Test
    void aManifestNamingADirectoryOffTheShimsWayIsRefused() throws Exception {
        Path f = program("forged");
        assertEquals(0, apply(f, "$ORIGIN/a/b/x.so").exit());
        Path manifest = f.resolveSibling("ollama.ollama-patch.json");
        Files.createDirectory(tmp.resolve("victim"));
        for (String dir : List.of("../victim", "c", "a/b/x.so", "/tmp")) {
            ObjectNode m = (ObjectNode) JSON.readTree(manifest.toFile());
            ObjectNode shim = (ObjectNode) m.get("shims").get(0);
            ArrayNode dirs = shim.putArray("directories");
            dirs.add(dir);
            Path forged = tmp.resolve("forged.json");
            JSON.writeValue(forged.toFile(), m);
            byte[] keep = Files.readAllBytes(manifest);
            Files.copy(forged, manifest, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Cli.Result r = Cli.run("restore", f);
            assertEquals(5, r.exit(), dir + ": " + r);
            Files.write(manifest, keep);
        }
        assertTrue(Files.isDirectory(tmp.resolve("victim")));
        assertEquals(0, Cli.run("restore", f).exit());
    }
}
