package dev.ollamapatch.ollama;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Generation C drops GPUs whose driver is below 550 (570 for compute capability under 7 with CUDA 12.8+). */
class ShimDriverConfigTest {

    @Test
    void lowDriverVersionIsWarnedAbout() {
        ShimDriverConfig c = ShimDriverConfig.parse("[shim]\nmode = virtual\ndriver_version = 535.104.05  # old\n",
                "/etc/ollama-patch/shim.conf");
        assertEquals("535.104.05", c.driverVersion());
        assertEquals("/etc/ollama-patch/shim.conf line 3", c.source());
        assertEquals(1, c.generationCWarnings().size());
        assertTrue(c.generationCWarnings().get(0).contains("below 550"), c.generationCWarnings().toString());
    }

    @Test
    void below570WithAnOldGpuIsWarnedAbout() {
        ShimDriverConfig c = ShimDriverConfig.parse("[shim]\ndriver_version = 560.35.03\n[device.0]\n"
                + "compute_capability = 6.1\n", "c.conf");
        assertEquals(1, c.generationCWarnings().size());
        assertTrue(c.generationCWarnings().get(0).contains("below 570"), c.generationCWarnings().toString());
        assertTrue(c.generationCWarnings().get(0).contains("(configured here)"), c.generationCWarnings().toString());
    }

    @Test
    void defaultAndRecentVersionsAreNotWarnedAbout() {
        assertEquals(0, ShimDriverConfig.bundledDefault().generationCWarnings().size());
        assertEquals(0, ShimDriverConfig.parse("[shim]\ndriver_version = 575.51.03\n", "c").generationCWarnings().size());
        ShimDriverConfig none = ShimDriverConfig.parse("[shim]\nmode = virtual\n", "c");
        assertEquals(ShimDriverConfig.BUNDLED_DEFAULT, none.driverVersion());
        assertEquals(0, none.generationCWarnings().size());
    }

    /** The default this tool assumes is the one the shim's source sets. */
    @Test
    void bundledDefaultMatchesTheShimSource() throws Exception {
        Path src = Path.of(System.getProperty("user.dir")).getParent().resolve("shim/src/shim_config.c");
        String c = Files.readString(src);
        assertTrue(c.contains("strcpy(c->driver_version, \"" + ShimDriverConfig.BUNDLED_DEFAULT + "\")"),
                "shim/src/shim_config.c no longer defaults driver_version to " + ShimDriverConfig.BUNDLED_DEFAULT);
    }

    /** Identify adds the warning for generation C only. */
    @Test
    void warningOnlyForGenerationC() throws Exception {
        ShimDriverConfig low = ShimDriverConfig.parse("[shim]\ndriver_version = 470.1\n", "low.conf");
        for (String program : java.util.List.of("gen-b", "gen-c")) {
            try (dev.ollamapatch.elf.ElfFile elf = dev.ollamapatch.elf.ElfFile.open(
                    dev.ollamapatch.patch.Fixtures.binary("x86_64", "release", program))) {
                Identity id = Identify.of(elf, dev.ollamapatch.site.SiteFinder.scan(elf,
                        java.util.List.of(dev.ollamapatch.site.LibraryTarget.NVML)), "", null, java.util.Set.of(), low);
                assertEquals(program.equals("gen-c") ? 1 : 0, id.warnings().size(), program + ": " + id.warnings());
            }
        }
    }
}
