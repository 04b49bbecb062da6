package dev.ollamapatch.install;

import dev.ollamapatch.report.PatchException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** The manifest as a file: written atomically, read back equal, never through a link. */
class ManifestTest {
    @TempDir
    Path tmp;

    static Manifest sample(Path dir) {
        return new Manifest("ollama-patch 0.1.0", "2026-01-01T00:00:00Z", "$ORIGIN/nvml.so",
                List.of(new Manifest.FileEntry(dir.resolve("ollama").toString(), "a".repeat(64), "b".repeat(64),
                        dir.resolve("ollama.orig").toString(),
                        List.of(new Manifest.SiteEntry(0x1234, 17, "c-string", "libnvidia-ml.so.1", "//$ORIGIN/nvml.so")))),
                List.of(new Manifest.ShimEntry(dir.resolve("nvml.so").toString(), "c".repeat(64), false)));
    }

    @Test
    void whatIsWrittenReadsBackEqual() throws IOException {
        Path file = tmp.resolve("m.json");
        Manifest m = sample(tmp);
        m.write(file);
        assertTrue(Manifest.exists(file));
        assertEquals(m, Manifest.read(file));
        assertEquals("rw-r--r--", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
    }

    @Test
    void absentFieldsAreLeftOutAndUnknownOnesIgnored() throws IOException {
        Path file = tmp.resolve("m.json");
        new Manifest("t", "c", "$ORIGIN/nvml.so", List.of(), null).write(file);
        assertFalse(Files.readString(file).contains("shims"));
        Files.writeString(file, "{\"tool\":\"t\",\"shim_path\":\"$ORIGIN/nvml.so\",\"files\":[],\"from_a_newer_version\":1}");
        Manifest m = Manifest.read(file);
        assertEquals("t", m.tool());
        assertEquals(List.of(), m.files());
    }

    @Test
    void somethingElseIsNotAManifest() throws IOException {
        Path file = tmp.resolve("m.json");
        Files.writeString(file, "not json", StandardCharsets.UTF_8);
        PatchException e = assertThrows(PatchException.class, () -> Manifest.read(file));
        assertEquals(PatchException.Kind.INVALID_INPUT, e.kind());
        assertTrue(e.getMessage().startsWith(file + ": not a valid ollama-patch manifest: "), e.getMessage());
    }

    @Test
    void aSymbolicLinkIsNeitherReadNorWritten() throws IOException {
        Path real = tmp.resolve("elsewhere.json");
        sample(tmp).write(real);
        Path link = Files.createSymbolicLink(tmp.resolve("m.json"), real);
        String before = Files.readString(real);
        assertEquals(PatchException.Kind.REFUSED, assertThrows(PatchException.class, () -> Manifest.read(link)).kind());
        assertEquals(PatchException.Kind.REFUSED, assertThrows(PatchException.class, () -> sample(tmp).write(link)).kind());
        assertEquals(before, Files.readString(real));
    }
}
