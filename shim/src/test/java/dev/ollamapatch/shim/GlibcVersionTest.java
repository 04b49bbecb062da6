package dev.ollamapatch.shim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ollamapatch.elf.DynamicEntry;
import dev.ollamapatch.elf.ElfConstants;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.GlibcVersion;
import dev.ollamapatch.elf.SymbolVersionNeed;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Both bundled shims load on glibc 2.17 and later: no imported symbol version is newer than GLIBC_2.17,
 * read with the project's own ELF reader (.gnu.version + .gnu.version_r). Ollama's Linux builds need a
 * newer glibc than that, so the shim never narrows where a patched Ollama runs.
 */
class GlibcVersionTest {
    static final GlibcVersion LIMIT = GlibcVersion.parse("GLIBC_2.17").orElseThrow();

    @ParameterizedTest
    @ValueSource(strings = {"x86_64", "aarch64"})
    void noImportNewerThanGlibc217(String machine) throws Exception {
        try (ElfFile elf = ElfFile.open(ExportsTest.shim(machine))) {
            List<SymbolVersionNeed> needs = elf.symbolVersionNeeds();
            assertTrue(needs.size() > 30, "the reader sees the imports: " + needs);
            assertEquals(List.of(), GlibcVersion.newerThan(elf, LIMIT));
            assertTrue(GlibcVersion.highestNeeded(elf).orElseThrow().compareTo(LIMIT) <= 0);
            Map<String, String> bySymbol = new TreeMap<>();
            needs.forEach(n -> bySymbol.put(n.symbol(), n.version()));
            String dl = machine.equals("x86_64") ? "GLIBC_2.2.5" : "GLIBC_2.17";
            for (String f : List.of("dlopen", "dlsym", "dlerror", "dlclose", "dladdr")) {
                assertEquals(dl, bySymbol.get(f), f);
            }
            for (String avoided : List.of("gettid", "fstat", "strtoull", "getenv", "__isoc23_strtoull")) {
                assertTrue(!bySymbol.containsKey(avoided), avoided + " is imported");
            }
            assertEquals("GLIBC_2.17", bySymbol.get("secure_getenv"));
            // before glibc 2.34 the dl* functions live in libdl.so.2 only
            List<String> needed = elf.dynamic().stream().filter(d -> d.tag() == ElfConstants.DT_NEEDED)
                    .map(DynamicEntry::string).toList();
            assertTrue(needed.contains("libdl.so.2"), needed.toString());
        }
    }

    @Test
    void theCheckSeesANewerImportInALibraryBuiltTheUsualWay() throws Exception {
        // the same check on a library that calls gettid and dlopen without the shim's care finds both
        Path c = Native.write(Native.OUT.resolve("careless.c"),
                "#define _GNU_SOURCE\n#include <dlfcn.h>\n#include <unistd.h>\n"
                + "int f(void) { return gettid() + (dlopen(\"x\", RTLD_NOW) != 0); }\n");
        Path so = Native.build("careless.so", "gcc", "-shared", "-fPIC", c.toString());
        try (ElfFile elf = ElfFile.open(so)) {
            List<String> newer = GlibcVersion.newerThan(elf, LIMIT).stream().map(SymbolVersionNeed::toString).sorted().toList();
            assertEquals(List.of("dlopen@GLIBC_2.34 (libc.so.6)", "gettid@GLIBC_2.30 (libc.so.6)"), newer);
            assertEquals("GLIBC_2.34", GlibcVersion.highestNeeded(elf).orElseThrow().toString());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"x86_64", "aarch64"})
    void theShimCarriesItsOllamaPatchNote(String machine) throws Exception {
        try (ElfFile elf = ElfFile.open(ExportsTest.shim(machine))) {
            assertTrue(elf.notes().stream().anyMatch(n -> n.name().equals("ollama-patch") && n.type() == 1
                    && new String(n.descriptor()).equals("shim")), elf.notes().toString());
        }
    }
}
