package dev.ollamapatch.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ollamapatch.patch.Cli;
import dev.ollamapatch.patch.Fixtures;
import dev.ollamapatch.report.Json;
import dev.ollamapatch.report.PatchException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The streaming manifest reader gives the manifest the object mapper gives, for every manifest the
 * tool writes (old ones without status records too), and leaves anything else to the mapper.
 */
class ManifestStreamTest {
    private static void assertSameAsMapper(byte[] json) throws Exception {
        Manifest streamed = ManifestStream.read(json);
        assertNotNull(streamed, new String(json, StandardCharsets.UTF_8));
        assertEquals(Json.MAPPER.readValue(json, Manifest.class), streamed);
    }

    @Test
    void manifestsTheToolWritesReadTheSame(@TempDir Path dir) throws Exception {
        int written = 0;
        for (String program : List.of("gen-a", "gen-b", "gen-c", "tailmerge", "needed")) {
            Path tree = dir.resolve(program);
            copyTree(Fixtures.installDir("x86_64", "release", program), tree);
            Cli.Result r = Cli.run("apply", "--quiet", "--lib", "libcuda.so.1", tree);
            assertTrue(r.exit() == 0 || r.exit() == 3 || r.exit() == 5, r.toString());
            Path m = tree.resolve(InstallLayout.MANIFEST_SUFFIX);
            if (Files.exists(m)) {
                assertSameAsMapper(Files.readAllBytes(m));
                written++;
            }
        }
        assertTrue(written >= 3, "manifests written: " + written);
        Manifest full = new Manifest(2, "t", "c", null,
                List.of(new Manifest.FileEntry("bin/ollama", "a".repeat(64), "b".repeat(64), "bin/ollama.orig",
                        List.of(new Manifest.SiteEntry(5_000_000_000L, 17, "go-string", "libnvidia-ml.so.1",
                                "//$ORIGIN/nvml.so", "call", List.of("bin/nvml.so", "lib/nvml.so"))),
                        new Manifest.StatRecord(1, 2, 3, 4, 5))),
                List.of(new Manifest.ShimEntry("bin/nvml.so", "c".repeat(64), true, List.of("bin"))),
                "$ORIGIN/nvml.so", List.of(new Manifest.LibraryEntry("libcuda.so.1", "$ORIGIN/libcuda.so.1", "/x")),
                List.of(new Manifest.CleanEntry("lib/ollama/x.so", new Manifest.StatRecord(-1, Long.MAX_VALUE, 0, 0, 0))));
        assertSameAsMapper(full.toJson());
        // Format 1 (absolute paths, no format field, no status records), and fields a newer version may add.
        assertSameAsMapper("""
                {"tool":"ollama-patch 0.0.1","shim_path":"$ORIGIN/nvml.so","future":{"a":[1,2,{"b":null}]},
                 "files":[{"path":"/opt/ollama/bin/ollama","original_sha256":"%s","patched_sha256":"%s",
                 "sites":[{"offset":1,"length":17,"replacement":"//$ORIGIN/nvml.so","new":true}]}],"shims":null}
                """.formatted("a".repeat(64), "b".repeat(64)).getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void whatTheToolNeverWritesIsLeftToTheMapper(@TempDir Path dir) throws Exception {
        for (String odd : List.of("{\"format\":\"2\",\"files\":[]}", "{\"files\":[{\"sites\":[{\"offset\":1.5}]}]}",
                "{\"files\":[]} trailing", "[]", "{\"files\":[{\"sites\":[{\"length\":99999999999}]}]}",
                "{\"shims\":[{\"preexisting\":\"yes\"}]}", "{\"files\":[1]}")) {
            assertNull(ManifestStream.read(odd.getBytes(StandardCharsets.UTF_8)), odd);
        }
        // Then Manifest.read says what the mapper says, as before.
        Path m = dir.resolve(InstallLayout.MANIFEST_SUFFIX);
        Files.writeString(m, "{\"files\":[{\"sites\":[{\"length\":99999999999}]}]}");
        PatchException e = assertThrows(PatchException.class, () -> Manifest.read(m));
        assertTrue(e.getMessage().contains("not a valid ollama-patch manifest"), e.getMessage());
    }

    private static void copyTree(Path from, Path to) throws Exception {
        try (var s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(t);
                else Files.copy(p, t);
            }
        }
    }
}
