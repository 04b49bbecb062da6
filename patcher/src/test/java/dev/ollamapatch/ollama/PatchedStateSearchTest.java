package dev.ollamapatch.ollama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ollamapatch.elf.ElfFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * The already-patched search reads a file's data once for all the shim paths that end in the shim's
 * name, and once per open file: its evidence is still in needle order ($ORIGIN/nvml.so before any
 * absolute path to nvml.so), each needle's strings in file order, as when each needle had a pass.
 */
class PatchedStateSearchTest {
    @Test
    void evidenceKeepsNeedleOrderAndTheSearchIsMadeOncePerOpenFile(@TempDir Path dir) throws Exception {
        // In the file, .rodata (the absolute paths) comes before .data (the $ORIGIN path).
        Path src = dir.resolve("p.c");
        Files.writeString(src, """
                const char *abs1 = "/opt/one/nvml.so";
                const char *abs2 = "/opt/two/nvml.so";
                char origin[] = "////$ORIGIN/nvml.so";
                int main(void) { return abs1[0] + abs2[0] + origin[0]; }
                """);
        Path bin = dir.resolve("p");
        Process cc = new ProcessBuilder("gcc", "-O0", "-o", bin.toString(), src.toString()).inheritIO().start();
        assertEquals(0, cc.waitFor());
        try (ElfFile elf = ElfFile.open(bin)) {
            PatchedState first = PatchedState.fromBytes(elf, Set.of("$ORIGIN/nvml.so"));
            assertTrue(first.patched());
            assertEquals(List.of("$ORIGIN/nvml.so", "/opt/one/nvml.so", "/opt/two/nvml.so"), first.paths());
            assertEquals(3, first.evidence().size(), first.evidence().toString());
            assertTrue(first.evidence().get(0).matches("file offset 0x[0-9a-f]+ \\(\\.data\\): \"////\\$ORIGIN/nvml.so\""),
                    first.evidence().toString());
            assertTrue(first.evidence().get(1).endsWith("(.rodata): \"/opt/one/nvml.so\""), first.evidence().toString());
            assertSame(first, PatchedState.fromBytes(elf, Set.of("$ORIGIN/nvml.so")), "searched again");
        }
    }
}
