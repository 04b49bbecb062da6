package dev.ollamapatch.archive;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ollamapatch.report.PatchException;
import org.junit.jupiter.api.Test;

/** Entry names compared as paths, their install directory, and where the shim entry goes. */
class EntryNamesTest {
    @Test
    void spellingsOfOnePathShareAKey() {
        assertEquals("bin/ollama", EntryNames.key("./bin/ollama"));
        assertEquals("bin/ollama", EntryNames.key("bin//ollama"));
        assertEquals("bin/ollama", EntryNames.key("././bin/ollama/"));
        assertEquals("lib/ollama", EntryNames.key("lib/ollama/"));
    }

    @Test
    void theInstallDirectoryIsTheEntrysDirectoryUnderThePrefix() {
        assertEquals("/usr/local/bin", EntryNames.installDir("/usr/local", "./bin/ollama"));
        assertEquals("/usr/local/lib/ollama/cuda_v12", EntryNames.installDir("/usr/local", "lib/ollama/cuda_v12/libggml-cuda.so"));
        assertEquals("/opt", EntryNames.installDir("/opt", "ollama"));
    }

    @Test
    void theShimGoesBesideTheEntryInTheSameStyle() {
        assertEquals("./bin/nvml.so", EntryNames.shimEntry("./bin/ollama", "$ORIGIN/nvml.so"));
        assertEquals("bin/nvml.so", EntryNames.shimEntry("bin/ollama", "$ORIGIN/nvml.so"));
        assertEquals("nvml.so", EntryNames.shimEntry("ollama", "$ORIGIN/nvml.so"));
        assertEquals("lib/ollama/nvml.so", EntryNames.shimEntry("bin/ollama", "$ORIGIN/../lib/ollama/nvml.so"));
    }

    @Test
    void aShimPathLeavingTheArchiveOrNotBesideTheEntryIsAUsageError() {
        PatchException out = assertThrows(PatchException.class, () -> EntryNames.shimEntry("bin/ollama", "$ORIGIN/../../nvml.so"));
        assertEquals(PatchException.Kind.USAGE, out.kind());
        assertEquals("--shim-path $ORIGIN/../../nvml.so: places the shim outside the archive for entry bin/ollama",
                out.getMessage());
        PatchException absolute = assertThrows(PatchException.class, () -> EntryNames.shimEntry("bin/ollama", "/opt/nvml.so"));
        assertEquals(PatchException.Kind.USAGE, absolute.kind());
    }
}
