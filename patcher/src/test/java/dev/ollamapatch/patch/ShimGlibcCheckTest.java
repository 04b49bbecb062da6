package dev.ollamapatch.patch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ollamapatch.shim.BundledShims;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A user's --shim is held to the target's own glibc requirement (the newest GLIBC_x.y the target needs,
 * at least GLIBC_2.17): a shim that needs a newer version is refused (exit 5) with a message naming the
 * symbol and both versions, because on an older glibc the patched program would lose its GPU.
 */
class ShimGlibcCheckTest {
    @TempDir
    Path tmp;

    /** A shim exporting every NVML function of the list, whose nvmlInit_v2 also calls {@code extra}. */
    Path shimCalling(String name, String include, String extra) throws Exception {
        StringBuilder c = new StringBuilder("#define _GNU_SOURCE\n" + include + "\n");
        for (String f : BundledShims.nvmlFunctions()) {
            c.append(f.equals("nvmlInit_v2") ? "int nvmlInit_v2(void) { return (int)(" + extra + ") & 0; }\n"
                                              : "int " + f + "(void) { return 0; }\n");
        }
        return gcc(name + ".so", c.toString(), "-shared", "-fPIC", "-Wl,-soname,libnvidia-ml.so.1");
    }

    Path gcc(String out, String source, String... flags) throws Exception {
        Path src = Files.writeString(tmp.resolve(out + ".c"), source);
        List<String> cmd = new ArrayList<>(List.of("gcc", "-O1", "-o", tmp.resolve(out).toString()));
        cmd.addAll(List.of(flags));
        cmd.add(src.toString());
        Process p = new ProcessBuilder(cmd).inheritIO().start();
        assertEquals(0, p.waitFor(), cmd.toString());
        return tmp.resolve(out);
    }

    /** A library like libggml-base.so that dlopens NVML and needs nothing newer than GLIBC_2.2.5. */
    Path oldTarget() throws Exception {
        return gcc("libold-ggml.so", """
                __asm__(".symver dlopen,dlopen@GLIBC_2.2.5");
                __asm__(".symver dlsym,dlsym@GLIBC_2.2.5");
                #include <dlfcn.h>
                int probe(void) {
                    void *h = dlopen("libnvidia-ml.so.1", RTLD_NOW);
                    return h != 0 && dlsym(h, "nvmlInit_v2") != 0 && dlsym(h, "nvmlShutdown") != 0;
                }
                """, "-shared", "-fPIC");
    }

    @Test
    void aShimNeedingANewerGlibcThanTheTargetIsRefusedNamingSymbolAndVersions() throws Exception {
        Path shim = shimCalling("arc4random", "#include <stdlib.h>", "arc4random()");  // GLIBC_2.36
        Path genC = Fixtures.binary("x86_64", "release", "gen-c");                     // needs GLIBC_2.34
        Cli.Result r = Cli.run("apply", genC, "-o", tmp.resolve("out/gen-c"), "--shim", shim);
        assertEquals(5, r.exit(), r.toString());
        assertTrue(r.err().contains(shim + " needs arc4random@GLIBC_2.36, newer than GLIBC_2.34, the newest glibc version"
                + " the target itself needs: on a machine whose glibc runs the target but is older, the patched program"
                + " could not load the shim"), r.err());
        assertFalse(Files.exists(tmp.resolve("out/gen-c")), "nothing written");
    }

    @Test
    void aTargetNeedingLittleIsHeldToGlibc217() throws Exception {
        Path shim = shimCalling("gettid", "#include <unistd.h>", "gettid()");  // GLIBC_2.30
        Cli.Result r = Cli.run("apply", oldTarget(), "-o", tmp.resolve("out/lib.so"), "--shim", shim);
        assertEquals(5, r.exit(), r.toString());
        assertTrue(r.err().contains(shim + " needs gettid@GLIBC_2.30, newer than GLIBC_2.17, the oldest glibc a shim may"
                + " need (the target needs GLIBC_2.2.5)"), r.err());
    }

    @Test
    void aShimWithinTheTargetsOwnRequirementIsAccepted() throws Exception {
        Path shim = shimCalling("gettid", "#include <unistd.h>", "gettid()");  // GLIBC_2.30 <= GLIBC_2.34
        Cli.Result r = Cli.run("apply", Fixtures.binary("x86_64", "release", "gen-c"), "-o", tmp.resolve("out/gen-c"),
                "--shim", shim);
        assertEquals(0, r.exit(), r.toString());
        // and the bundled shim passes against the old target
        Cli.Result bundled = Cli.run("apply", oldTarget(), "-o", tmp.resolve("out2/lib.so"));
        assertEquals(0, bundled.exit(), bundled.toString());
    }
}
