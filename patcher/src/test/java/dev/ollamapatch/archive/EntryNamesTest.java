package dev.ollamapatch.archive;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ollamapatch.report.PatchException;
import java.nio.file.Path;

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

    /** Where the shim lands once extracted under /usr/local (resolved like a site: beside the caller). */
    private static String at(String entry, String shim, String shimPath) {
        return EntryNames.shimEntryAt(entry, "/usr/local", Path.of(shim), shimPath);
    }

    @Test
    void theShimGoesWhereTheResolutionPointsInTheEntrysStyle() {
        assertEquals("./bin/nvml.so", at("./bin/ollama", "/usr/local/bin/nvml.so", "$ORIGIN/nvml.so"));
        assertEquals("bin/nvml.so", at("bin/ollama", "/usr/local/bin/nvml.so", "$ORIGIN/nvml.so"));
        assertEquals("nvml.so", at("ollama", "/usr/local/nvml.so", "$ORIGIN/nvml.so"));
        assertEquals("lib/ollama/nvml.so", at("bin/ollama", "/usr/local/lib/ollama/nvml.so", "$ORIGIN/../lib/ollama/nvml.so"));
        // A library's tail-called dlopen: the shim beside the program that calls it, not beside the library.
        assertEquals("./bin/nvml.so", at("./lib/ollama/libggml-base.so", "/usr/local/bin/nvml.so", "$ORIGIN/nvml.so"));
        // An absolute --shim-path under the prefix is an entry as well.
        assertEquals("opt/nvml.so", at("bin/ollama", "/usr/local/opt/nvml.so", "/usr/local/opt/nvml.so"));
    }

    @Test
    void aShimPathLeavingTheArchiveIsAUsageError() {
        PatchException out = assertThrows(PatchException.class,
                () -> at("bin/ollama", "/usr/nvml.so", "$ORIGIN/../../nvml.so"));
        assertEquals(PatchException.Kind.USAGE, out.kind());
        assertEquals("--shim-path $ORIGIN/../../nvml.so: places the shim outside the archive for entry bin/ollama "
                + "(at /usr/nvml.so, not under --prefix /usr/local)", out.getMessage());
        PatchException absolute = assertThrows(PatchException.class, () -> at("bin/ollama", "/opt/nvml.so", "/opt/nvml.so"));
        assertEquals(PatchException.Kind.USAGE, absolute.kind());
    }
}
