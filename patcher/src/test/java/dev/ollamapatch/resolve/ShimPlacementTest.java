package dev.ollamapatch.resolve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;

/** The pure decision from a resolution to the path written and the shims installed. */
class ShimPlacementTest {
    private static final String ORIGIN = ShimPlacement.ORIGIN_PATH;
    private static final Path BIN = Path.of("/opt/ollama/bin");
    private static final Path LIB = Path.of("/opt/ollama/lib/ollama");

    private static Resolution tailCallFromBin() {
        return new Resolution(Resolution.How.TAIL_CALL, List.of(BIN), BIN.resolve("ollama"), 0x1234, "test", null);
    }

    @Test
    void originIsWrittenAndTheShimGoesToEveryDirectoryTheResolutionNames() {
        Resolution two = new Resolution(Resolution.How.TAIL_CALL, List.of(BIN, LIB), BIN.resolve("ollama"), 1, "t", null);
        ShimPlacement p = ShimPlacement.decide(two, 17, ORIGIN, null, LIB);
        assertEquals(ORIGIN, p.path());
        assertEquals(List.of(BIN.resolve("nvml.so"), LIB.resolve("nvml.so")), p.shims());
        assertNull(p.refusal());
    }

    @Test
    void aBlockedResolutionGetsTheAbsolutePathBesideTheFileWhenItFits() {
        ShimPlacement p = ShimPlacement.decide(tailCallFromBin().blockedBy("musl"), 34, ORIGIN, null, LIB);
        assertEquals("/opt/ollama/lib/ollama/nvml.so", p.path());
        assertEquals(List.of(LIB.resolve("nvml.so")), p.shims());
    }

    @Test
    void anUnknownResolutionThatNoAbsolutePathFitsIsRefusedWithTheLengthThatWouldFit() {
        ShimPlacement p = ShimPlacement.decide(Resolution.unknown("no caller in this install"), 17, ORIGIN, null, LIB);
        assertTrue(p.refused());
        assertEquals("$ORIGIN cannot be used (no caller in this install), and the absolute path "
                + "\"/opt/ollama/lib/ollama/nvml.so\" is 30 bytes; the site holds 17 bytes: give --shim-path with an "
                + "absolute path of at most 17 bytes", p.refusal());
    }

    @Test
    void aUserAbsolutePathIsUsedWhateverTheResolutionAndRefusedWhenTooLong() {
        assertEquals("/nv.so", ShimPlacement.decide(tailCallFromBin(), 17, ORIGIN, "/nv.so", LIB).path());
        ShimPlacement p = ShimPlacement.decide(tailCallFromBin(), 17, ORIGIN, "/usr/local/lib/nvml-shim.so", LIB);
        assertTrue(p.refusal().startsWith("--shim-path \"/usr/local/lib/nvml-shim.so\" is 27 bytes"), p.refusal());
    }

    @Test
    void theLoaderIsNamedByInterpreterOrCLibrary() {
        assertEquals(Loader.MUSL, Loader.ofName("/lib/ld-musl-aarch64.so.1"));
        assertEquals(Loader.MUSL, Loader.ofName("libc.musl-x86_64.so.1"));
        assertEquals(Loader.GLIBC, Loader.ofName("/lib64/ld-linux-x86-64.so.2"));
        assertEquals(Loader.GLIBC, Loader.ofName("libc.so.6"));
        assertEquals(Loader.UNKNOWN, Loader.ofName("libstdc++.so.6"));
    }
}
