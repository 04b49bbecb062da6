package dev.ollamapatch.elf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class GlibcVersionTest {
    @Test
    void parsesAndOrdersNumerically() {
        GlibcVersion v225 = GlibcVersion.parse("GLIBC_2.2.5").orElseThrow();
        GlibcVersion v217 = GlibcVersion.parse("GLIBC_2.17").orElseThrow();
        GlibcVersion v234 = GlibcVersion.parse("GLIBC_2.34").orElseThrow();
        assertEquals(new GlibcVersion(2, 2, 5), v225);
        assertTrue(v225.compareTo(v217) < 0, "2.2.5 < 2.17 (numeric, not text order)");
        assertTrue(v217.compareTo(v234) < 0);
        assertEquals("GLIBC_2.17", v217.toString());
        assertEquals("GLIBC_2.2.5", v225.toString());
        assertEquals(Optional.empty(), GlibcVersion.parse("GLIBC_PRIVATE"));
        assertEquals(Optional.empty(), GlibcVersion.parse("GCC_3.0"));
        assertEquals(Optional.empty(), GlibcVersion.parse("GLIBC_2.17x"));
    }

    @Test
    void readsTheImportsOfTheHostsOwnLibraries() throws Exception {
        // libstdc++ on this machine imports from libc and libm with versions; every one has a symbol name
        Path lib = Path.of("/usr/lib/x86_64-linux-gnu/libstdc++.so.6");
        try (ElfFile elf = ElfFile.open(lib)) {
            List<SymbolVersionNeed> needs = elf.symbolVersionNeeds();
            assertTrue(needs.stream().anyMatch(n -> n.symbol().equals("malloc") && n.file().equals("libc.so.6")
                    && n.version().startsWith("GLIBC_")), needs.toString());
            assertEquals(elf.dynamicSymbols().size(), elf.symbolVersions().size());
            assertTrue(GlibcVersion.highestNeeded(elf).isPresent());
        }
    }
}
