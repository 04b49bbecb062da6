package dev.ollamapatch.site;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.plan.Action;
import dev.ollamapatch.plan.PlanOptions;
import dev.ollamapatch.plan.PlannedSite;
import dev.ollamapatch.plan.Planner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * {@link Site#innerRefs()} holds file offsets, as {@link Site#offset()} does, and planning compares
 * them as such: shown on a string in {@code .data}, whose virtual address (0x4020 with gcc and ld.bfd)
 * is not its file offset (0x3020), referenced at its start and 8 bytes into it.
 */
class InnerReferencesTest {
    private static final String SOURCE = """
            #include <dlfcn.h>
            static char nvml[] = "/opt/nv/libnvidia-ml.so.1";
            int main(void) {
                void *h = dlopen(nvml, RTLD_NOW);
                if (!h) h = dlopen(nvml + 8, RTLD_NOW);
                return h == 0;
            }
            """;

    @Test
    void innerReferencesAreFileOffsetsWhereTheVirtualAddressDiffers(@TempDir Path dir) throws Exception {
        Path src = Files.writeString(dir.resolve("inner.c"), SOURCE);
        Path bin = dir.resolve("inner");
        Process cc = new ProcessBuilder("gcc", "-O2", "-o", bin.toString(), src.toString()).inheritIO().start();
        assertEquals(0, cc.waitFor(), "gcc");
        try (ElfFile elf = ElfFile.open(bin)) {
            ScanResult scan = SiteFinder.scan(elf, List.of(LibraryTarget.NVML));
            assertEquals(1, scan.locators().size(), scan.toString());
            Site site = scan.locators().get(0);
            assertEquals("/opt/nv/libnvidia-ml.so.1", site.original());
            assertNotEquals(site.vaddr(), site.offset(), "the case this test is about: " + site);
            assertEquals(List.of(site.offset() + 8), site.innerRefs(), "the reference to nvml + 8, as a file offset");

            // The shim path is written right-aligned: "$ORIGIN/nvml.so" (15 bytes) takes the last 15 of the
            // 25, so the reference 8 bytes in reads "//$ORIGIN/nvml.so", a valid path: planned. Had the
            // inner reference been taken for a virtual address, it would lie past the string and refuse it.
            PlannedSite fits = Planner.plan(scan, new PlanOptions(List.of(LibraryTarget.NVML), dir.toString()))
                    .sites().get(0);
            assertEquals(Action.RETARGET, fits.action(), fits.reason());
            // A 23-byte path starts 2 bytes in: the reference 8 bytes in would read a broken path.
            PlannedSite refused = Planner.plan(scan, new PlanOptions(
                    List.of(LibraryTarget.parse("libnvidia-ml.so.1=/opt/ollama/lib/nvml.so")), dir.toString()))
                    .sites().get(0);
            assertEquals(Action.REFUSE, refused.action());
            assertTrue(refused.reason().startsWith(String.format("a reference points at file offset 0x%x, 8 bytes "
                    + "into the string", site.offset() + 8)), refused.reason());
        }
    }
}
