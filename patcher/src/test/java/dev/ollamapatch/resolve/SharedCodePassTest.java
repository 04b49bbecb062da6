package dev.ollamapatch.resolve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ollamapatch.elf.ElfConstants;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.patch.Fixtures;
import dev.ollamapatch.site.CodeAddresses;
import dev.ollamapatch.site.LibraryTarget;
import dev.ollamapatch.site.SiteFinder;

import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The loader resolution's code references ({@code ObjectCode.codeReferencesTo}) read from the leas the
 * site finder's pass kept ({@link CodeAddresses}) are exactly those its own pass over the code decodes,
 * in the same order: on every fixture (Go and C, x86_64 and aarch64, release and debug), and on programs
 * built here by gcc and clang for both machines. Every address the code forms is compared (one range
 * that holds all of them), not only the sites'.
 */
class SharedCodePassTest {
    /** One range holding every address: [0, 2^64 - 1) unsigned. */
    private static final List<long[]> EVERYWHERE = List.<long[]>of(new long[] {0, -1L});

    private static boolean sharable(ElfFile elf) {
        return elf.header().machine() == ElfConstants.EM_X86_64 && elf.header().type() == ElfConstants.ET_DYN
                && elf.byteOrder() == ByteOrder.LITTLE_ENDIAN;
    }

    /** Whether the shared leas served {@code file}; asserts they give what the pass gives. */
    private static boolean sameReferences(Path file) throws Exception {
        try (ElfFile elf = ElfFile.open(file)) {
            List<Long> own = new ObjectCode(elf).codeReferencesTo(EVERYWHERE, false).get(0);
            SiteFinder.scan(elf, List.of(LibraryTarget.NVML));
            boolean kept = CodeAddresses.of(elf).isPresent();
            if (kept) assertTrue(sharable(elf), file + ": leas are kept only for position-independent x86-64 code");
            assertEquals(own, new ObjectCode(elf).codeReferencesTo(EVERYWHERE).get(0), file.toString());
            // The resolver maps the file on its own: a second opening of the unchanged file finds them too.
            try (ElfFile again = ElfFile.open(file)) {
                assertEquals(kept, CodeAddresses.of(again).isPresent(), file + ": found by the file's status");
                assertEquals(own, new ObjectCode(again).codeReferencesTo(EVERYWHERE).get(0), file + " (second mapping)");
            }
            return kept && !own.isEmpty();
        }
    }

    @Test
    void everyFixtureGetsTheSameCodeReferencesFromTheSharedLeasAsFromItsOwnPass() throws Exception {
        List<String> served = new ArrayList<>();
        int files = 0;
        for (String arch : Fixtures.ARCHES) {
            for (String variant : Fixtures.VARIANTS) {
                for (String program : Fixtures.PROGRAMS) {
                    for (Path f : Fixtures.elfFiles(Fixtures.installDir(arch, variant, program))) {
                        files++;
                        if (sameReferences(f)) served.add(arch + "/" + variant + "/" + program + ":" + f.getFileName());
                    }
                }
            }
        }
        assertTrue(files > 20, files + " fixture files");
        // The release Go program (PIE, like Ollama's) and a debug C library name NVML in data: their leas were
        // shared (the debug Go programs are not position-independent: their code is decoded by the pass).
        assertTrue(served.contains("x86_64/release/gen-c:gen-c"), "release gen-c served from the shared leas: " + served);
        assertTrue(served.contains("x86_64/debug/gen-b:libggml-base.so"), "debug libggml-base.so served: " + served);
    }

    @Test
    void aFileChangedSinceTheSiteFinderReadItDoesNotGetItsLeas() throws Exception {
        try (LoaderWorld w = new LoaderWorld("x86_64", "shared-changed")) {
            Path prog = w.build(w.cc("gcc"), "bin/prog", PROGRAM, "-O2", "-fPIE", "-pie", "-ldl");
            try (ElfFile elf = ElfFile.open(prog)) {
            SiteFinder.scan(elf, List.of(LibraryTarget.NVML));
            assertTrue(CodeAddresses.of(elf).isPresent());
            java.nio.file.Files.setLastModifiedTime(prog, java.nio.file.attribute.FileTime.fromMillis(1_000_000));
            try (ElfFile changed = ElfFile.open(prog)) {
                assertFalse(CodeAddresses.of(changed).isPresent(), "a file whose status changed is read again");
            }
            }
        }
    }

    /** Names NVML in a C string, opens it, and forms many other addresses (a table of strings, functions). */
    private static final String PROGRAM = """
            #include <dlfcn.h>
            #include <stdio.h>
            static const char *names[] = {"alpha", "beta", "gamma", "delta"};
            static int twice(int x) { return 2 * x; }
            int (*volatile fn)(int) = twice;
            int main(int argc, char **argv) {
                void *h = dlopen("libnvidia-ml.so.1", RTLD_NOW);
                for (int i = 0; i < argc && i < 4; i++) printf("%s %d\\n", names[i], fn(i));
                return h == NULL;
            }
            """;

    @ParameterizedTest(name = "{0} {1} {2}")
    @CsvSource({"x86_64,gcc,-O2 -fPIE -pie", "x86_64,clang,-O2 -fPIE -pie", "x86_64,gcc,-O0 -fPIE -pie",
            "x86_64,clang,-O2 -shared -fPIC", "x86_64,gcc,-O2 -no-pie", "aarch64,gcc,-O2", "aarch64,clang,-O2"})
    void gccAndClangCodeGetsTheSameCodeReferences(String arch, String compiler, String flags) throws Exception {
        try (LoaderWorld w = new LoaderWorld(arch, "shared-" + compiler)) {
            Path out = w.build(w.cc(compiler), flags.contains("-shared") ? "lib/libprog.so" : "bin/prog", PROGRAM,
                    (flags + " -ldl").split(" "));
            boolean served = sameReferences(out);
            boolean pie = arch.equals("x86_64") && !flags.contains("-no-pie");
            assertEquals(pie, served, out + ": the shared leas serve position-independent x86-64 code, and only it");
        }
    }
}
