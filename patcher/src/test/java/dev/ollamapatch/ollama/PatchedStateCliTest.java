package dev.ollamapatch.ollama;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ollamapatch.patch.Cli;
import dev.ollamapatch.patch.Fixtures;
import dev.ollamapatch.patch.TestFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Patched is a state of its own: scan, apply -o and a forced re-target each treat it as one. */
class PatchedStateCliTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    static JsonNode file(Cli.Result r) throws Exception {
        return JSON.readTree(r.out()).get("files").get(0);
    }

    @Test
    void scanOfAPatchedCopyReportsItPatchedWithByteEvidence(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("c1/gen-c");
        Cli.Result apply = Cli.run("apply", Fixtures.binary("x86_64", "release", "gen-c"), "-o", out);
        assertEquals(0, apply.exit(), apply.toString());
        Cli.Result scan = Cli.run("scan", out, "--json");
        assertEquals(0, scan.exit(), scan.toString());
        JsonNode f = file(scan);
        assertEquals("already-patched", f.get("status").asText());
        JsonNode p = f.get("ollama").get("patched");
        assertTrue(p.get("patched").asBoolean());
        assertEquals("bytes", p.get("by").asText());
        assertEquals("$ORIGIN/nvml.so", p.get("paths").get(0).asText());
        assertTrue(p.get("evidence").get(0).asText().matches("file offset 0x[0-9a-f]+ \\(\\.rodata\\): \"//\\$ORIGIN/nvml.so\""),
                p.toString());
        assertEquals("0.30.0", f.get("ollama").get("version").asText());
        assertEquals("C", f.get("ollama").get("generation").asText());
        assertTrue(scan.err().contains("patched  yes, per bytes, to $ORIGIN/nvml.so"), scan.err());
    }

    /** -o from a patched input writes the copy and the shim beside it; the copy runs and loads the shim. */
    @Test
    void applyWithOutputFromAPatchedInputCopiesItWithItsShim(@TempDir Path dir) throws Exception {
        Path first = dir.resolve("c1/gen-c");
        Path stub = Fixtures.stub("x86_64");
        assertEquals(0, Cli.run("apply", Fixtures.binary("x86_64", "release", "gen-c"), "-o", first, "--shim", stub).exit());
        Path second = dir.resolve("c2/gen-c");
        Cli.Result copy = Cli.run("apply", first, "-o", second, "--json");
        assertEquals(0, copy.exit(), copy.toString());
        assertEquals("copied", file(copy).get("status").asText());
        assertArrayEquals(Files.readAllBytes(first), Files.readAllBytes(second));
        // Its shim: the one beside the input (the stub), not the bundled one.
        assertEquals(TestFiles.sha256(stub), TestFiles.sha256(dir.resolve("c2/nvml.so")));
        assertTrue(copy.err().contains("is already patched (per bytes); copied it to " + second), copy.err());
        Fixtures.Run run = Fixtures.run("x86_64", second, Map.of());
        assertTrue(run.stdout().contains("discovery: nvml=ok driver=" + Fixtures.STUB_DRIVER), run.toString());
    }

    /** A glob site holds an absolute path: a copy elsewhere would still load the old file, so it is refused. */
    @Test
    void applyWithOutputFromAPatchedGlobBinaryElsewhereIsRefused(@TempDir Path dir) throws Exception {
        Path shortDir = TestFiles.shortTempPath(dir.resolve("s"));
        Files.createDirectories(dir.resolve("s"));
        shortDir.toFile().deleteOnExit();
        Path first = shortDir.resolve("a/gen-a");
        Files.createDirectories(first.getParent());
        Cli.Result apply = Cli.run("apply", Fixtures.binary("x86_64", "release", "gen-a"), "-o", first);
        assertEquals(0, apply.exit(), apply.toString());
        Cli.Result scan = Cli.run("scan", first, "--json");
        assertEquals(0, scan.exit(), scan.toString());
        assertEquals(first.resolveSibling("nvml.so").toString(),
                file(scan).get("ollama").get("patched").get("paths").get(0).asText());
        Set<String> before = TestFiles.listing(dir);
        Cli.Result copy = Cli.run("apply", first, "-o", dir.resolve("elsewhere/gen-a"));
        assertEquals(5, copy.exit(), copy.toString());
        assertTrue(copy.err().contains("names the absolute path"), copy.err());
        assertEquals(before, TestFiles.listing(dir));
    }

    /** In place: an added --lib is refused without --force, and with it re-targets and is recorded. */
    @Test
    void forceRetargetsAnInstallWithAnAddedLib(@TempDir Path dir) throws Exception {
        Path bin = dir.resolve("bin/gen-c");
        Files.createDirectories(bin.getParent());
        Files.copy(Fixtures.binary("x86_64", "release", "gen-c"), bin);
        byte[] original = Files.readAllBytes(bin);
        assertEquals(0, Cli.run("apply", bin, "--shim", Fixtures.stub("x86_64")).exit());
        Path cuda = Fixtures.root().resolve("x86_64/stub-cuda/libcuda.so.1");
        Cli.Result noForce = Cli.run("apply", bin, "--lib-file", "libcuda.so.1=" + cuda);
        assertEquals(5, noForce.exit(), noForce.toString());
        assertTrue(noForce.err().contains("--lib adds libcuda.so.1=$ORIGIN/cuda: re-target it with --force"), noForce.err());

        Cli.Result forced = Cli.run("apply", bin, "--force", "--lib-file", "libcuda.so.1=" + cuda,
                "--shim", Fixtures.stub("x86_64"));
        assertEquals(0, forced.exit(), forced.toString());
        JsonNode m = JSON.readTree(dir.resolve("bin/gen-c.ollama-patch.json").toFile());
        assertEquals("$ORIGIN/nvml.so", m.get("shim_path").asText());
        assertEquals("libcuda.so.1", m.get("libraries").get(0).get("name").asText());
        assertEquals("$ORIGIN/cuda", m.get("libraries").get(0).get("path").asText());
        assertEquals(2, m.get("files").get(0).get("sites").size());
        // Format 2: paths relative to the manifest's directory (bin/).
        assertTrue(m.get("shims").toString().contains("\"path\":\"cuda\""), m.toString());
        assertEquals(TestFiles.sha256(cuda), TestFiles.sha256(dir.resolve("bin/cuda")));
        // Re-patched from the kept original, not from the patched file.
        assertArrayEquals(original, Files.readAllBytes(dir.resolve("bin/gen-c.orig")));
        Fixtures.Run run = Fixtures.run("x86_64", bin, Map.of());
        assertTrue(run.stdout().contains("cuda: ok"), run.toString());
        assertTrue(run.stdout().contains("discovery: nvml=ok"), run.toString());

        Cli.Result again = Cli.run("apply", bin, "--lib-file", "libcuda.so.1=" + cuda, "--shim", Fixtures.stub("x86_64"));
        assertEquals(0, again.exit(), again.toString());
        assertTrue(again.err().contains("already patched by ollama-patch"), again.err());

        assertEquals(0, Cli.run("verify", bin).exit());
        Cli.Result restore = Cli.run("restore", bin);
        assertEquals(0, restore.exit(), restore.toString());
        assertArrayEquals(original, Files.readAllBytes(bin));
        assertFalse(Files.exists(dir.resolve("bin/cuda")));
        assertFalse(Files.exists(dir.resolve("bin/nvml.so")));
    }

    /** A new shim path with --force: re-targeted from the original, the manifest says the new path. */
    @Test
    void forceRetargetsToANewShimPath(@TempDir Path dir) throws Exception {
        Path bin = dir.resolve("bin/gen-b");
        Files.createDirectories(bin.getParent());
        Files.copy(Fixtures.binary("x86_64", "release", "gen-b"), bin);
        assertEquals(0, Cli.run("apply", bin, "--shim", Fixtures.stub("x86_64")).exit());
        Cli.Result refused = Cli.run("apply", bin, "--shim-path", "$ORIGIN/nv.so", "--shim", Fixtures.stub("x86_64"));
        assertEquals(5, refused.exit(), refused.toString());
        Cli.Result forced = Cli.run("apply", bin, "--shim-path", "$ORIGIN/nv.so", "--force", "--shim", Fixtures.stub("x86_64"));
        assertEquals(0, forced.exit(), forced.toString());
        JsonNode m = JSON.readTree(dir.resolve("bin/gen-b.ollama-patch.json").toFile());
        assertEquals("$ORIGIN/nv.so", m.get("shim_path").asText());
        assertEquals("$ORIGIN/nv.so", m.get("requested_shim_path").asText());
        assertTrue(Files.exists(dir.resolve("bin/nv.so")));
        Fixtures.Run run = Fixtures.run("x86_64", bin, Map.of());
        assertTrue(run.stdout().contains("nvml=ok"), run.toString());
    }

    /** The manifest's shim_path names what glob sites hold (an absolute path), never $ORIGIN. */
    @Test
    void manifestShimPathOfGlobSitesIsAbsolute() throws Exception {
        Path shortDir = TestFiles.shortTempPath(null); // a real directory: in place, the real path is planned
        try {
            manifestShimPathOfGlobSitesIsAbsolute(shortDir);
        } finally {
            try (java.util.stream.Stream<Path> s = Files.walk(shortDir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private void manifestShimPathOfGlobSitesIsAbsolute(Path shortDir) throws Exception {
        Path bin = shortDir.resolve("gen-a");
        Files.copy(Fixtures.binary("x86_64", "release", "gen-a"), bin);
        Cli.Result apply = Cli.run("apply", bin, "--shim", Fixtures.stub("x86_64"));
        assertEquals(0, apply.exit(), apply.toString());
        JsonNode m = JSON.readTree(bin.toRealPath().resolveSibling("gen-a.ollama-patch.json").toFile());
        assertEquals(bin.toRealPath().resolveSibling("nvml.so").toString(), m.get("shim_path").asText());
        assertEquals("$ORIGIN/nvml.so", m.get("requested_shim_path").asText());
        Cli.Result again = Cli.run("apply", bin, "--shim", Fixtures.stub("x86_64"));
        assertEquals(0, again.exit(), again.toString());
        assertTrue(again.err().contains("to " + bin.toRealPath().resolveSibling("nvml.so")), again.err());
        assertFalse(again.err().contains("$ORIGIN"), again.err());
    }
}
