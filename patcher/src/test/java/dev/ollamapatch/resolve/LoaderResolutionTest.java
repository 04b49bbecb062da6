package dev.ollamapatch.resolve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * Each case: build a small install, ask the resolver where the loader will look for the NVML string,
 * patch by the answer, run the program, and check that the loader opened exactly the predicted file.
 */
class LoaderResolutionTest {
    private static final String NVML = LoaderWorld.NVML;
    private static final String ORIGIN = ShimPlacement.ORIGIN_PATH;

    private static final String CALLS_DLOPEN = LoaderWorld.callsDlopen(NVML);

    /** Predicts, places, patches, runs: the marker shims that announce themselves are exactly the predicted ones. */
    private static void patchAndRun(LoaderWorld w, Resolution r, Path file, Path program, String asUser) throws Exception {
        ShimPlacement place = ShimPlacement.decide(r, NVML.length(), ORIGIN, null, file.getParent());
        assertNull(place.refusal(), () -> "refused: " + place.refusal());
        LoaderWorld.patch(file, NVML, place.path());
        LoaderWorld.Run run = w.run(program, asUser);
        List<String> predicted = place.shims().stream().map(p -> p.getParent().toString()).toList();
        assertEquals(predicted, run.loaded(), () -> "resolution: " + r.describe("nvml.so") + "\nrun: " + run);
        assertTrue(run.out().contains("handle=ok"), run::toString);
    }

    @ParameterizedTest
    @CsvSource({"x86_64,gcc,-O2", "aarch64,gcc,-O2", "x86_64,gcc,-fno-plt", "aarch64,gcc,-fno-plt",
            "x86_64,gcc,-no-pie", "aarch64,gcc,-O0", "x86_64,clang,-O2", "aarch64,clang,-Os",
            "x86_64,clang,-fuse-ld=lld", "x86_64,gcc,-fuse-ld=mold", "x86_64,gcc,-fuse-ld=gold -s"})
    void aProgramThatCallsDlopenItselfOpensTheShimBesideItself(String arch, String compiler, String flag) throws Exception {
        try (LoaderWorld w = new LoaderWorld(arch, "call")) {
            Path app = w.build(w.cc(compiler), "bin/app", CALLS_DLOPEN, "-O2", flag);
            w.marker(w.cc(), "bin");
            w.marker(w.cc(), "lib");
            Resolution r = w.resolve(w.resolver(), app, NVML, false);
            assertEquals(Resolution.How.CALL, r.how(), r.detail());
            assertEquals(List.of(w.root.resolve("bin")), r.directories());
            assertEquals(app, r.caller());
            assertTrue(r.describe("nvml.so").startsWith("loader opens `" + w.root.resolve("bin/nvml.so") + "`: `" + app
                    + "` calls dlopen at 0x"), r.describe("nvml.so"));
            patchAndRun(w, r, app, app, null);
        }
    }

    @ParameterizedTest
    @CsvSource({"x86_64,gcc,-O2", "aarch64,gcc,-O2", "x86_64,gcc,-fno-plt", "aarch64,gcc,-fno-plt",
            "x86_64,clang,-O2", "aarch64,clang,-O2", "x86_64,clang,-fuse-ld=lld", "x86_64,gcc,-fuse-ld=mold",
            "x86_64,gcc,-fuse-ld=gold -s"})
    void aLibraryFunctionEndingInJumpToDlopenOpensTheShimBesideTheProgramThatCallsIt(String arch, String compiler,
                                                                                    String flag) throws Exception {
        try (LoaderWorld w = new LoaderWorld(arch, "tail")) {
            Path lib = w.build(w.cc(compiler), "lib/libtail.so", """
                    #include <dlfcn.h>
                    void *open_nvml(int flags) { return dlopen("%s", flags); }
                    """.formatted(NVML), "-O2", flag, "-fPIC", "-shared");
            Path app = w.build(w.cc(compiler), "bin/app", """
                    #include <stdio.h>
                    void *open_nvml(int flags);
                    int main(void) { printf("handle=%s\\n", open_nvml(2) ? "ok" : "none"); return 0; }
                    """, "-O2", flag, "-L" + w.root.resolve("lib"), "-ltail", "-Wl,-rpath,$ORIGIN/../lib");
            w.marker(w.cc(), "bin");
            w.marker(w.cc(), "lib");
            Resolution r = w.resolve(w.resolver(), lib, NVML, false);
            assertEquals(Resolution.How.TAIL_CALL, r.how(), r.detail());
            assertEquals(List.of(w.root.resolve("bin")), r.directories(), r.detail());
            assertEquals(app, r.caller());
            assertTrue(r.detail().contains("open_nvml"), r.detail());
            patchAndRun(w, r, lib, app, null);
        }
    }

    /**
     * aarch64 gcc -Os linked by lld: lld relaxes the string's {@code adrp}+{@code add} into {@code nop}+{@code adr}
     * right before {@code b dlopen} (found by ToolchainZooIT: the address was not seen, so the site was
     * refused as "read from data" in a library that tail-jumps to dlopen).
     */
    @Test
    void anAdrThatLldRelaxedFromAdrpAddIsFollowedToTheTailJump() throws Exception {
        try (LoaderWorld w = new LoaderWorld("aarch64", "tail-adr")) {
            // The cross gcc finds ld.lld only beside its own tools, or through -B.
            Path ldDir = Files.createDirectories(Path.of(w.root + ".ld"));
            Files.deleteIfExists(ldDir.resolve("ld.lld"));
            Files.createSymbolicLink(ldDir.resolve("ld.lld"), Path.of("/usr/bin/ld.lld"));
            try {
                Path lib = w.build(w.cc(), "lib/libtail.so", """
                        #include <dlfcn.h>
                        void *open_nvml(int flags) { return dlopen("%s", flags); }
                        """.formatted(NVML), "-Os", "-fuse-ld=lld", "-B" + ldDir, "-fPIC", "-shared");
                Path app = w.build(w.cc(), "bin/app", """
                        #include <stdio.h>
                        void *open_nvml(int flags);
                        int main(void) { printf("handle=%s\\n", open_nvml(2) ? "ok" : "none"); return 0; }
                        """, "-O2", "-L" + w.root.resolve("lib"), "-ltail", "-Wl,-rpath,$ORIGIN/../lib");
                w.marker(w.cc(), "bin");
                w.marker(w.cc(), "lib");
                Resolution r = w.resolve(w.resolver(), lib, NVML, false);
                assertEquals(Resolution.How.TAIL_CALL, r.how(), r.detail());
                assertEquals(List.of(w.root.resolve("bin")), r.directories(), r.detail());
                patchAndRun(w, r, lib, app, null);
            } finally {
                Files.deleteIfExists(ldDir.resolve("ld.lld"));
                Files.deleteIfExists(ldDir);
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"x86_64,gcc", "aarch64,gcc", "x86_64,clang", "aarch64,clang"})
    void aNameHandedToALibraryFunctionThatCallsDlopenOpensTheShimBesideTheLibrary(String arch, String compiler)
            throws Exception {
        try (LoaderWorld w = new LoaderWorld(arch, "handed")) {
            Path lib = w.build(w.cc(compiler), "lib/libopener.so", """
                    #include <dlfcn.h>
                    #include <stdio.h>
                    void *open_lib(const char *name) {
                        void *h = dlopen(name, RTLD_NOW);
                        if (!h) fprintf(stderr, "opener: %s\\n", dlerror());
                        return h;
                    }
                    """, "-O2", "-fPIC", "-shared");
            Path app = w.build(w.cc(compiler), "bin/app", """
                    #include <stdio.h>
                    void *open_lib(const char *name);
                    int main(void) { printf("handle=%%s\\n", open_lib("%s") ? "ok" : "none"); return 0; }
                    """.formatted(NVML), "-O2", "-L" + w.root.resolve("lib"), "-lopener", "-Wl,-rpath,$ORIGIN/../lib");
            w.marker(w.cc(), "bin");
            w.marker(w.cc(), "lib");
            Resolution r = w.resolve(w.resolver(), app, NVML, false);
            assertEquals(Resolution.How.HANDED, r.how(), r.detail());
            assertEquals(List.of(w.root.resolve("lib")), r.directories(), r.detail());
            assertEquals(lib, r.caller());
            patchAndRun(w, r, app, app, null);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"x86_64", "aarch64"})
    void aDtNeededEntryOpensTheShimBesideTheObjectThatHasIt(String arch) throws Exception {
        try (LoaderWorld w = new LoaderWorld(arch, "needed")) {
            w.build(w.cc(), "lib/libnvidia-ml.so.1", "int nvmlInit_v2(void) { return 0; }\n",
                    "-fPIC", "-shared", "-Wl,-soname,libnvidia-ml.so.1");
            Path app = w.build(w.cc(), "bin/app", "#include <stdio.h>\nint main(void) { puts(\"handle=ok\"); return 0; }\n",
                    "-Wl,--no-as-needed", "-L" + w.root.resolve("lib"), "-l:libnvidia-ml.so.1");
            w.marker(w.cc(), "bin");
            w.marker(w.cc(), "lib");
            Resolution r = w.resolve(w.resolver(), app, "libnvidia-ml.so.1", true);
            assertEquals(Resolution.How.NEEDED, r.how());
            assertEquals(List.of(w.root.resolve("bin")), r.directories());
            ShimPlacement place = ShimPlacement.decide(r, 17, ORIGIN, null, app.getParent());
            assertEquals(ORIGIN, place.path());
            LoaderWorld.patch(app, "libnvidia-ml.so.1", place.path());
            LoaderWorld.Run run = w.run(app, null);
            assertEquals(List.of(w.root.resolve("bin").toString()), run.loaded(), run::toString);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"x86_64", "aarch64"})
    void muslOpensADlopenArgumentLiterallySoTheSiteGetsAnAbsolutePath(String arch) throws Exception {
        try (LoaderWorld w = new LoaderWorld(arch, "musl")) {
            Path app = w.build(w.musl(), "bin/app", CALLS_DLOPEN, "-O2");
            w.build(w.musl(), "bin/nvml.so", """
                    #include <stdio.h>
                    __attribute__((constructor)) static void hello(void) { printf("shim loaded: %s\\n", MARKER); fflush(stdout); }
                    """, "-shared", "-fPIC", "-DMARKER=\"" + w.root.resolve("bin") + "\"");
            Resolution r = w.resolve(w.resolver(), app, NVML, false);
            assertEquals(Resolution.How.CALL, r.how(), r.detail());
            assertNotNull(r.blocker());
            assertTrue(r.blocker().startsWith("musl (/lib/ld-musl-" + arch + ".so.1)"), r.blocker());
            assertTrue(!r.originWorks());

            // What the rule prevents: with $ORIGIN the musl program runs and never finds the shim.
            Path originCopy = w.root.resolve("bin/app-origin");
            Files.copy(app, originCopy, StandardCopyOption.COPY_ATTRIBUTES);
            LoaderWorld.patch(originCopy, NVML, ORIGIN);
            LoaderWorld.Run literal = w.run(originCopy, null);
            assertEquals(List.of(), literal.loaded(), literal::toString);
            assertTrue(literal.out().contains("handle=none"), literal::toString);

            ShimPlacement place = ShimPlacement.decide(r, NVML.length(), ORIGIN, null, app.getParent());
            assertEquals(w.root.resolve("bin/nvml.so").toString(), place.path());
            patchAndRun(w, r, app, app, null);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"x86_64", "aarch64"})
    void muslWithDollarOriginInDtNeededWouldNotStartSoAShortEntryIsRefusedNamingTheLengthThatFits(String arch) throws Exception {
        try (LoaderWorld w = new LoaderWorld(arch, "muslneed")) {
            w.build(w.musl(), "lib/libnvidia-ml.so.1", "int nvmlInit_v2(void) { return 0; }\n",
                    "-fPIC", "-shared", "-Wl,-soname,libnvidia-ml.so.1");
            Path app = w.build(w.musl(), "bin/app", "#include <stdio.h>\nint main(void) { puts(\"handle=ok\"); return 0; }\n",
                    "-Wl,--no-as-needed", "-L" + w.root.resolve("lib"), "-l:libnvidia-ml.so.1",
                    "-Wl,-rpath," + w.root.resolve("lib"));
            assertEquals(0, w.run(app, null).exit());
            Resolution r = w.resolve(w.resolver(), app, "libnvidia-ml.so.1", true);
            assertEquals(Resolution.How.NEEDED, r.how());
            assertTrue(r.blocker().contains("does not start"), r.blocker());

            ShimPlacement place = ShimPlacement.decide(r, 17, ORIGIN, null, app.getParent());
            assertTrue(place.refused());
            assertTrue(place.refusal().endsWith("give --shim-path with an absolute path of at most 17 bytes"), place.refusal());

            // What the refusal prevents: the patched program does not start under musl.
            LoaderWorld.patch(app, "libnvidia-ml.so.1", ORIGIN);
            LoaderWorld.Run run = w.run(app, null);
            assertNotEquals(0, run.exit(), run::toString);
            assertTrue(run.err().contains("$ORIGIN/nvml.so"), run::toString);
        }
    }

    /** Makes {@code p} run in secure-execution mode for a normal user: file capabilities, or the set-user-ID bit (root owns it). */
    private static void privilege(String how, Path p, Path dir) throws Exception {
        List<String> cmd = how.equals("capabilities") ? List.of("setcap", "cap_net_bind_service+ep", p.toString())
                : List.of("chmod", "4755", p.toString());
        LoaderWorld.Run r = LoaderWorld.exec(cmd, java.util.Map.of(), dir);
        assertEquals(0, r.exit(), r.err());
    }

    /** aarch64 runs under a qemu given the program's privileges, as binfmt_misc's C flag would (LoaderWorld.qemuFor). */
    @ParameterizedTest
    @CsvSource({"x86_64,capabilities", "x86_64,set-user-ID", "aarch64,capabilities", "aarch64,set-user-ID"})
    void secureExecutionStopsOriginForAnUnprivilegedUserSoTheSiteGetsAnAbsolutePath(String arch, String how) throws Exception {
        try (LoaderWorld w = new LoaderWorld(arch, "secure")) {
            Path app = w.build(w.cc(), "bin/app", CALLS_DLOPEN, "-O2");
            w.marker(w.cc(), "bin");
            Path originCopy = w.root.resolve("bin/app-origin");
            Files.copy(app, originCopy);
            LoaderWorld.patch(originCopy, NVML, ORIGIN);
            for (Path p : List.of(app, originCopy)) privilege(how, p, w.root);
            Resolution r = w.resolve(w.resolver(), app, NVML, false);
            assertEquals(Resolution.How.CALL, r.how(), r.detail());
            assertTrue(r.blocker() != null && r.blocker().contains("secure-execution")
                    && r.blocker().contains(how.equals("capabilities") ? "cap_net_bind_service" : "set-user-ID"),
                    String.valueOf(r.blocker()));

            // What the rule prevents: $ORIGIN loads the shim for root, not for a normal user.
            assertEquals(List.of(w.root.resolve("bin").toString()), w.run(originCopy, null).loaded());
            LoaderWorld.Run asNobody = w.run(originCopy, "nobody");
            assertEquals(List.of(), asNobody.loaded(), asNobody::toString);
            assertTrue(asNobody.out().contains("handle=none"), asNobody::toString);

            ShimPlacement place = ShimPlacement.decide(r, NVML.length(), ORIGIN, null, app.getParent());
            assertEquals(w.root.resolve("bin/nvml.so").toString(), place.path());
            LoaderWorld.patch(app, NVML, place.path());
            // Writing the file drops security.capability and the set-user-ID bit (the tool's apply keeps them): set again.
            privilege(how, app, w.root);
            LoaderWorld.Run run = w.run(app, "nobody");
            assertEquals(List.of(w.root.resolve("bin").toString()), run.loaded(), run::toString);
            assertTrue(run.out().contains("handle=ok"), run::toString);
        }
    }
    @Test
    void aLibraryDlopenInAProgramWithCapabilitiesIsBlockedByTheProgramThatLoadsIt() throws Exception {
        try (LoaderWorld w = new LoaderWorld("x86_64", "secure-lib")) {
            Path lib = w.build("gcc", "lib/libtail.so", """
                    #include <dlfcn.h>
                    void *open_nvml(int flags) { return dlopen("%s", flags); }
                    """.formatted(NVML), "-O2", "-fPIC", "-shared");
            // An absolute run path: in secure execution glibc would not expand $ORIGIN/../lib either.
            Path app = w.build("gcc", "bin/app", """
                    #include <stdio.h>
                    void *open_nvml(int flags);
                    int main(void) { printf("handle=%s\\n", open_nvml(2) ? "ok" : "none"); return 0; }
                    """, "-O2", "-L" + w.root.resolve("lib"), "-ltail", "-Wl,-rpath," + w.root.resolve("lib"));
            w.marker("gcc", "bin");
            w.marker("gcc", "lib");
            privilege("capabilities", app, w.root);
            Resolution r = w.resolve(w.resolver(), lib, NVML, false);
            assertEquals(Resolution.How.TAIL_CALL, r.how(), r.detail());
            assertTrue(r.blocker() != null && r.blocker().contains("`" + app + "` runs in secure-execution mode"),
                    String.valueOf(r.blocker()));
            ShimPlacement place = ShimPlacement.decide(r, NVML.length(), ORIGIN, null, lib.getParent());
            assertEquals(w.root.resolve("lib/nvml.so").toString(), place.path());
            LoaderWorld.patch(lib, NVML, place.path());
            LoaderWorld.Run run = w.run(app, "nobody");
            assertEquals(List.of(w.root.resolve("lib").toString()), run.loaded(), run::toString);
            assertTrue(run.out().contains("handle=ok"), run::toString);
        }
    }

}
