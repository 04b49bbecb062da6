package dev.ollamapatch.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.patch.Fixtures;
import dev.ollamapatch.shim.BundledShims;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** ShimCheck's glibc rule on its own: the limit is the target's newest GLIBC_x.y, never below GLIBC_2.17. */
class ShimCheckGlibcTest {
    @TempDir
    Path tmp;

    /** A library built the usual way here: gettid@GLIBC_2.30 and dlopen@GLIBC_2.34. */
    Path careless() throws Exception {
        Path c = Files.writeString(tmp.resolve("careless.c"), "#define _GNU_SOURCE\n#include <dlfcn.h>\n#include <unistd.h>\n"
                + "int f(void) { return gettid() + (dlopen(\"x\", RTLD_NOW) != 0); }\n");
        Path so = tmp.resolve("careless.so");
        assertEquals(0, new ProcessBuilder("gcc", "-shared", "-fPIC", "-o", so.toString(), c.toString()).inheritIO().start().waitFor());
        return so;
    }

    Path bundled() throws Exception {
        try (InputStream in = BundledShims.open("x86_64").orElseThrow()) {
            Path p = tmp.resolve("bundled.so");
            Files.write(p, in.readAllBytes());
            return p;
        }
    }

    Optional<String> problem(Path target, Path shim) throws Exception {
        try (ElfFile t = ElfFile.open(target); ElfFile s = ElfFile.open(shim)) {
            return ShimCheck.glibcProblem(t, s, "SHIM");
        }
    }

    @Test
    void theBundledShimFitsEveryTargetEvenOneNeedingOnlyGlibc225() throws Exception {
        assertEquals(Optional.empty(), problem(Fixtures.binary("x86_64", "release", "gen-c"), bundled()));
        assertEquals(Optional.empty(), problem(Fixtures.stub("x86_64"), bundled()));  // needs GLIBC_2.2.5 only
    }

    @Test
    void theLimitIsTheTargetsOwnNewestVersionOrGlibc217() throws Exception {
        Path shim = careless();
        // gen-c needs GLIBC_2.34 itself: 2.30 and 2.34 are within it
        assertEquals(Optional.empty(), problem(Fixtures.binary("x86_64", "release", "gen-c"), shim));
        // the stub needs GLIBC_2.2.5: held to 2.17, both imports are named
        assertEquals(Optional.of("SHIM needs dlopen@GLIBC_2.34, gettid@GLIBC_2.30, newer than GLIBC_2.17, the oldest glibc"
                + " a shim may need (the target needs GLIBC_2.2.5): on a machine whose glibc runs the target but is older,"
                + " the patched program could not load the shim; build the shim against an older glibc (the bundled one"
                + " needs at most GLIBC_2.17)"), problem(Fixtures.stub("x86_64"), shim));
    }
}
