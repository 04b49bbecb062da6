package dev.ollamapatch.ollama;

import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.patch.Fixtures;
import dev.ollamapatch.site.LibraryTarget;
import dev.ollamapatch.site.SiteFinder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What each fixture is: the version its build set, its generation, machine and C library. */
class IdentityTest {

    static List<Arguments> goFixtures() {
        List<Arguments> out = new ArrayList<>();
        for (String arch : Fixtures.ARCHES) {
            for (String variant : Fixtures.VARIANTS) {
                out.add(Arguments.of(arch, variant, "gen-a", "0.1.32", Generation.A));
                out.add(Arguments.of(arch, variant, "gen-none", "0.12.3", Generation.NONE));
                out.add(Arguments.of(arch, variant, "gen-b", "0.24.0", Generation.B));
                out.add(Arguments.of(arch, variant, "gen-c", "0.30.0", Generation.C));
            }
        }
        return out;
    }

    static Identity identify(Path file) throws Exception {
        try (ElfFile elf = ElfFile.open(file)) {
            return Identify.of(elf, SiteFinder.scan(elf, List.of(LibraryTarget.NVML)), "", null,
                    Set.of(LibraryTarget.NVML.defaultPath()), ShimDriverConfig.bundledDefault());
        }
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("goFixtures")
    void versionAndGenerationOfEachFixture(String arch, String variant, String program, String version,
                                           Generation generation) throws Exception {
        Identity id = identify(Fixtures.binary(arch, variant, program));
        assertEquals(version, id.version(), id.versionSource());
        assertEquals(generation, id.generation());
        assertEquals("from version " + version, id.generationSource());
        assertEquals(arch, id.machine());
        assertEquals(64, id.elfClass());
        assertEquals("glibc", id.libc().name(), id.libc().evidence());
        assertTrue(id.libc().evidence().startsWith("PT_INTERP /lib"), id.libc().evidence());
        assertNotNull(id.go());
        assertEquals("fixtures", id.go().mainModule());
        assertFalse(id.ollama(), "the fixtures' module is not github.com/ollama/ollama");
        assertFalse(id.patched().patched());
        // Release builds are stripped (-s -w): the linker's form of an -X string proves it; debug builds name it.
        assertTrue(id.versionSource().contains(variant.equals("release")
                ? "string header in .data at vaddr 0x" : "symbol fixtures/version.Version"), id.versionSource());
        assertTrue(id.summary().startsWith("version " + version + ", generation " + generation.label()), id.summary());
        assertEquals(generation == Generation.NONE, id.withoutNvml());
        assertEquals(generation == Generation.NONE ? 1 : 0, id.advice().size(), id.advice().toString());
    }

    /** The version the fixture itself prints (--version) is the one read from its bytes. */
    @Test
    void versionReadEqualsWhatTheProgramPrints() throws Exception {
        for (String program : List.of("gen-a", "gen-none", "gen-b", "gen-c")) {
            Path bin = Fixtures.binary("x86_64", "release", program);
            Fixtures.Run run = Fixtures.run("x86_64", bin, java.util.Map.of(), "--version");
            assertEquals(run.stdout().strip(), identify(bin).version(), program);
        }
    }

    /** A C library (no Go build information, no version) gets its generation from the form of its sites. */
    @Test
    void ggmlLibraryGenerationFromItsSites() throws Exception {
        Identity id = identify(Fixtures.installDir("x86_64", "release", "gen-b").resolve("lib/ollama/libggml-base.so"));
        assertNull(id.version());
        assertNull(id.go());
        assertEquals(Generation.B, id.generation());
        assertTrue(id.generationSource().contains("form of its NVML sites"), id.generationSource());
        assertEquals("glibc", id.libc().name()); // DT_NEEDED libc.so.6: a library has no PT_INTERP
        assertEquals("DT_NEEDED libc.so.6", id.libc().evidence());
    }

    /** musl-gcc's binaries name musl's loader in PT_INTERP. */
    @Test
    void muslBinaryIsMusl(@TempDir Path dir) throws Exception {
        Path src = Files.writeString(dir.resolve("m.c"), "int main(void) { return 0; }\n");
        Path bin = dir.resolve("m");
        Process p = new ProcessBuilder("musl-gcc", "-o", bin.toString(), src.toString()).inheritIO().start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, "musl-gcc failed");
        Identity id = identify(bin);
        assertEquals("musl", id.libc().name(), id.libc().evidence());
        assertTrue(id.libc().evidence().contains("ld-musl-"), id.libc().evidence());
        Path stat = dir.resolve("s");
        p = new ProcessBuilder("gcc", "-static", "-o", stat.toString(), src.toString()).inheritIO().start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, "gcc -static failed");
        assertEquals("none", identify(stat).libc().name());
    }

    @Test
    void generationBoundariesFollowTheTable() {
        assertEquals(Generation.UNKNOWN, gen("0.1.17"));
        assertEquals(Generation.A, gen("0.1.18"));
        assertEquals(Generation.A, gen("v0.1.32"));
        assertEquals(Generation.NONE, gen("0.1.33"));
        assertEquals(Generation.NONE, gen("0.12.5"));
        assertEquals(Generation.B, gen("0.12.6"));
        assertEquals(Generation.B, gen("0.24.0"));
        assertEquals(Generation.B, gen("0.24.9"));
        assertEquals(Generation.UNKNOWN, gen("0.25.0"));
        assertEquals(Generation.C, gen("0.30.0"));
        assertEquals(Generation.C, gen("0.33.0-rc2"));
        assertTrue(OllamaVersion.parse("0.0.0").orElseThrow().isUnset());
        assertTrue(OllamaVersion.parse("go1.22.5").isEmpty());
        assertTrue(OllamaVersion.parse("1.2").isEmpty());
        assertTrue(OllamaVersion.parse(null).isEmpty());
    }

    private static Generation gen(String v) {
        return Generation.of(OllamaVersion.parse(v).orElseThrow());
    }

    /** Go records -ldflags only without -trimpath; when it does, the -X value is read from there. */
    @Test
    void linkerValueFromRecordedLdflags() {
        GoBuildInfo info = GoBuildInfo.parse("go1.24.1", "path\tgithub.com/ollama/ollama\n"
                + "mod\tgithub.com/ollama/ollama\t(devel)\t\n"
                + "build\t-ldflags=\"-w -s -X=github.com/ollama/ollama/version.Version=0.30.1 -X=github.com/ollama/ollama/server.mode=release\"\n"
                + "build\tCGO_ENABLED=1\n", 0);
        assertEquals("github.com/ollama/ollama", info.mainModule());
        assertEquals("(devel)", info.mainVersion());
        assertEquals("1", info.settings().get("CGO_ENABLED"));
        assertEquals("0.30.1", info.linkerValue(LinkedVersion.OLLAMA_VARIABLE).orElseThrow());
        GoBuildInfo spaced = GoBuildInfo.parse("go1.22.0", "mod\tgithub.com/ollama/ollama\t(devel)\t\n"
                + "build\t-ldflags=\"-X github.com/ollama/ollama/version.Version=0.1.32\"\n", 0);
        assertEquals("0.1.32", spaced.linkerValue(LinkedVersion.OLLAMA_VARIABLE).orElseThrow());
    }
}
