package dev.ollamapatch.doctor;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ollamapatch.ollama.Generation;
import dev.ollamapatch.patch.Cli;
import dev.ollamapatch.patch.Fixtures;
import dev.ollamapatch.report.Json;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The doctor on a patched copy of the fixtures' Ollama-like gen-c, with a fake root for the host:
 * the real shim is asked through nvml-shim-query, the real loader runs the fixture for --run.
 */
class DoctorTest {
    @TempDir
    Path tmp;

    Path install;
    FakeRoot root;

    @BeforeEach
    void patchedGenC() throws Exception {
        install = tmp.resolve("ollama");
        copyTree(Fixtures.installDir("x86_64", "release", "gen-c"), install);
        Cli.Result r = Cli.run("apply", install);
        assertEquals(0, r.exit(), r.toString());
        root = new FakeRoot(Files.createDirectories(tmp.resolve("root")));
        root.nvidiaGpu("0000:00:05.0", 0x2331).driverLoaded(1).cpu("fpu sse4_2 avx avx2").libcuda()
                .config(FakeRoot.virtualConfig("570.86.15", "00000000:00:05.0"));
    }

    static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(t);
                else Files.copy(p, t, StandardCopyOption.COPY_ATTRIBUTES);
            }
        }
    }

    List<Check> doctor(boolean run, Map<String, String> env) {
        return Doctor.examine(new Doctor.Options(install, root.root, run, env, 30));
    }

    static Check check(List<Check> checks, String id) {
        return checks.stream().filter(c -> c.id().equals(id)).findFirst()
                .orElseThrow(() -> new AssertionError("no check " + id + " in\n" + text(checks)));
    }

    static String text(List<Check> checks) {
        return checks.stream().map(c -> c.status().word() + " " + c.id() + " " + c.summary() + (c.fix() == null ? "" : " -- fix: " + c.fix()))
                .collect(Collectors.joining("\n"));
    }

    @Test
    void everyLinkHoldsOnAMatchingVgpu() {
        List<Check> checks = doctor(false, Map.of());
        assertEquals(0, Doctor.exitCode(checks), text(checks));
        assertTrue(check(checks, "install.version").summary().contains("generation C"), text(checks));
        assertTrue(check(checks, "install.version").summary().startsWith("version 0.30.0, generation C (0.30 and later); "
                + "what NVML decides: " + Generation.C.nvmlDecides()), text(checks));
        Check site = check(checks, "install.site");
        assertTrue(site.summary().contains("loader opens " + install.resolve("bin/nvml.so")), site.summary());
        assertTrue(site.summary().contains("x86_64, needs GLIBC_"), site.summary());
        assertEquals("virtual", check(checks, "shim.config").summary().replaceAll(".*mode (\\w+).*", "$1"));
        assertTrue(check(checks, "shim.devices").summary().contains("00000000:00:05.0"));
        assertEquals(Status.OK, check(checks, "host.pci-match").status());
    }

    @Test
    void busIdThatSysfsDoesNotHaveFailsAndSaysWhichToWrite() throws Exception {
        root.config(FakeRoot.virtualConfig("570.86.15", "00000000:00:07.0"));
        List<Check> checks = doctor(false, Map.of());
        Check c = check(checks, "host.pci-match");
        assertEquals(Status.FAIL, c.status(), text(checks));
        assertTrue(c.fix().contains("pci_bus_id = 00000000:00:05.0"), c.fix());
        assertEquals(1, Doctor.exitCode(checks));
    }

    @Test
    void twoDevicesBothDescribedMatch() throws Exception {
        root.nvidiaGpu("0000:00:06.0", 0x2331).driverLoaded(2)
                .config(FakeRoot.virtualConfig("570.86.15", "00000000:00:05.0", "00000000:00:06.0"));
        List<Check> checks = doctor(false, Map.of());
        assertEquals(Status.OK, check(checks, "host.pci-match").status(), text(checks));
        assertTrue(check(checks, "host.pci").summary().startsWith("2 NVIDIA GPU functions"));
    }

    @Test
    void noNvidiaDeviceInSysfs() throws Exception {
        FakeRoot bare = new FakeRoot(Files.createDirectories(tmp.resolve("bare")));
        bare.pci("0000:00:02.0", 0x1234, 0x1111, 0x030000).cpu("avx").config(FakeRoot.virtualConfig("570.86.15", "00000000:00:05.0"));
        List<Check> checks = Doctor.examine(new Doctor.Options(install, bare.root, false, Map.of(), 30));
        assertEquals(Status.FAIL, check(checks, "host.pci").status());
        assertEquals(Status.FAIL, check(checks, "host.dev").status());
        assertEquals(Status.FAIL, check(checks, "host.libcuda").status());
        assertTrue(checks.stream().noneMatch(c -> c.id().equals("host.pci-match")), "nothing to match against");
    }

    @Test
    void malformedConfigIsReportedAsTheShimSaysIt() throws Exception {
        root.config("[shim]\nmode = sideways\n");
        Check c = check(doctor(false, Map.of()), "shim.config");
        assertEquals(Status.FAIL, c.status());
        assertTrue(c.summary().contains(root.path("/etc/ollama-patch/shim.conf") + ":2"), c.summary());
        assertTrue(c.fix().contains("ollama-patch shim-config >"), c.fix());
    }

    /** The bundled shim reads OLLAMA_PATCH_SHIM_ROOT, so under --root it looks up its default config there itself. */
    @Test
    void theBundledShimKnowsTheRootVariableAndTheStubDoesNot() {
        assertTrue(ShimQuery.knowsRoot(install.resolve("bin/nvml.so")));
        assertTrue(!ShimQuery.knowsRoot(Fixtures.stub("x86_64")));
    }

    @Test
    void missingConfig() throws Exception {
        Files.delete(root.path("/etc/ollama-patch/shim.conf"));
        Check c = check(doctor(false, Map.of()), "shim.config");
        assertEquals(Status.FAIL, c.status(), c.toString());
        assertTrue(c.fix().startsWith("create the config"), c.fix());
    }

    @Test
    void forwardModeIsSeenInTheLibrariesTheShimLoaded() throws Exception {
        Path real = Fixtures.stub("x86_64");
        root.config("[shim]\nmode = forward\nreal = " + real + "\n");
        List<Check> checks = doctor(false, Map.of());
        Check c = check(checks, "shim.config");
        assertEquals(Status.OK, c.status(), text(checks));
        assertTrue(c.summary().contains("mode forward, real NVML " + real + ", driver " + Fixtures.STUB_DRIVER), c.summary());
        assertTrue(check(checks, "shim.devices").summary().contains("Fixture Stub GPU"));
    }

    @Test
    void forwardModeWithoutARealNvml() throws Exception {
        root.config("[shim]\nmode = forward\nreal = /nonexistent/libnvidia-ml.so.535.1\n");
        Check c = check(doctor(false, Map.of()), "shim.config");
        assertEquals(Status.FAIL, c.status(), c.toString());
        assertTrue(c.summary().contains("/nonexistent/libnvidia-ml.so.535.1"), c.summary());
    }

    @Test
    void driverTooOldForGenerationC() throws Exception {
        root.config(FakeRoot.virtualConfig("535.104.05", "00000000:00:05.0"));
        Check c = check(doctor(false, Map.of()), "ollama.rules");
        assertEquals(Status.FAIL, c.status());
        assertTrue(c.fix().contains("driver_version = 570.86.15"), c.fix());
    }

    @Test
    void fileCapabilitiesMakeOriginUnreliable() throws Exception {
        cc("setcap", "cap_net_bind_service+ep", install.resolve("bin/gen-c").toString());
        Check c = check(doctor(false, Map.of()), "install.site");
        assertEquals(Status.WARN, c.status(), c.toString());
        assertTrue(c.summary().contains("file capabilities") && c.fix().contains("setcap -r"), c.toString());
    }

    @Test
    void setUserIdMakesOriginUnreliable() throws Exception {
        Files.setAttribute(install.resolve("bin/gen-c"), "unix:mode", 04755);
        assertEquals(Status.WARN, check(doctor(false, Map.of()), "install.site").status());
    }

    @Test
    void aManifestWhoseResolutionsDisagreeWithTheLoaderFailsVerifyAndTheSiteSaysWhereTheLoaderLooks() throws Exception {
        // A manifest that records, per site, the files the loader opens (resolves_to): here a directory
        // the shim was never installed in. The loader's choice is worked out again from the code; the
        // record that disagrees is what verify reports.
        Path manifest = install.resolve(".ollama-patch.json");
        com.fasterxml.jackson.databind.node.ObjectNode m = (com.fasterxml.jackson.databind.node.ObjectNode) Json.MAPPER.readTree(manifest.toFile());
        Path elsewhere = install.resolve("lib/nvml.so");
        for (JsonNode site : m.get("files").get(0).get("sites")) {
            ((com.fasterxml.jackson.databind.node.ObjectNode) site).putArray("resolves_to").add(elsewhere.toString());
        }
        Files.writeString(manifest, Json.MAPPER.writeValueAsString(m));
        List<Check> checks = doctor(false, Map.of());
        Check verify = check(checks, "install.verify");
        assertEquals(Status.FAIL, verify.status(), text(checks));
        assertTrue(String.join("\n", verify.evidence()).contains("resolves to " + elsewhere + ", which is missing"), verify.evidence().toString());
        Check site = check(checks, "install.site");
        assertEquals(Status.OK, site.status(), site.toString());
        assertTrue(site.summary().contains("loader opens " + install.resolve("bin/nvml.so")), site.summary());
    }

    /**
     * The library holds the string, but its function ends in a jump to dlopen (gcc -O2), so glibc expands
     * $ORIGIN to the directory of the program that called it: bin/, not lib/ollama/. Apply put the shim there;
     * the doctor looks there too, and a shim beside the library does not count.
     */
    @Test
    void aTailCalledDlopenIsLookedForBesideTheCallingProgram() throws Exception {
        Path dir = tmp.resolve("tail");
        Path lib = dir.resolve("lib/ollama/libtail.so");
        Path bin = dir.resolve("bin/ollama");
        Files.createDirectories(lib.getParent());
        Files.createDirectories(bin.getParent());
        Path libSrc = Files.writeString(tmp.resolve("tail.c"),
                "#include <dlfcn.h>\nvoid *open_nvml(int flags) { return dlopen(\"/usr/local/lib/x86_64-linux-gnu/nvidia/libnvidia-ml.so.1\", flags); }\n");
        Path binSrc = Files.writeString(tmp.resolve("app.c"),
                "#include <stdio.h>\nvoid *open_nvml(int flags);\nint main(void) { printf(\"handle=%s\\n\", open_nvml(2) ? \"ok\" : \"none\"); return 0; }\n");
        cc("gcc", "-O2", "-fPIC", "-shared", "-o", lib.toString(), libSrc.toString());
        cc("gcc", "-O2", "-o", bin.toString(), binSrc.toString(), "-L" + lib.getParent(), "-ltail", "-Wl,-rpath,$ORIGIN/../lib/ollama");
        assertEquals(0, Cli.run("apply", dir).exit());
        assertTrue(Files.isRegularFile(dir.resolve("bin/nvml.so")));

        Check ok = check(Doctor.examine(new Doctor.Options(dir, root.root, false, Map.of(), 30)), "install.site");
        assertEquals(Status.OK, ok.status(), ok.toString());
        assertTrue(ok.summary().startsWith(lib + " names $ORIGIN/nvml.so: loader opens " + dir.resolve("bin/nvml.so")), ok.summary());
        assertTrue(ok.evidence().get(2).startsWith("loader: tail-call: "), ok.evidence().toString());

        // Moved beside the library, where "$ORIGIN is the patched file's directory" would look for it.
        Files.move(dir.resolve("bin/nvml.so"), dir.resolve("lib/ollama/nvml.so"));
        List<Check> checks = Doctor.examine(new Doctor.Options(dir, root.root, false, Map.of(), 30));
        Check gone = check(checks, "install.site");
        assertEquals(Status.FAIL, gone.status(), text(checks));
        assertTrue(gone.summary().endsWith("loader opens " + dir.resolve("bin/nvml.so") + ", which does not exist"), gone.summary());
    }

    /** Each fixture's version, set at link time as Ollama's release build sets it, and its generation as DESIGN.md section 2 has it. */
    @Test
    void versionAndGenerationOfEachFixtureAreTheOnesEveryReportReads() throws Exception {
        Map<String, String> expected = Map.of("gen-a", "version 0.1.32, generation A (0.1.18 - 0.1.32)",
                "gen-b", "version 0.24.0, generation B (0.12.6 - 0.24.x)",
                "gen-c", "version 0.30.0, generation C (0.30 and later)",
                "gen-none", "version 0.12.3, generation none (0.1.33 - 0.12.5)");
        Map<String, Generation> gens = Map.of("gen-a", Generation.A, "gen-b", Generation.B, "gen-c", Generation.C, "gen-none", Generation.NONE);
        for (String program : expected.keySet()) {
            List<Check> checks = Doctor.examine(new Doctor.Options(Fixtures.installDir("x86_64", "release", program), root.root, false, Map.of(), 30));
            Check v = check(checks, "install.version");
            assertEquals(expected.get(program) + "; what NVML decides: " + gens.get(program).nvmlDecides(), v.summary(), program);
            assertTrue(v.evidence().get(0).startsWith("version: " + expected.get(program).substring(8, expected.get(program).indexOf(','))
                    + " (version string set at link time: "), v.evidence().toString());
            assertEquals(program.equals("gen-none") ? Status.FAIL : Status.OK, v.status(), v.toString());
            if (program.equals("gen-none")) assertTrue(v.fix().contains("--lib libcuda.so.1"), v.fix());
            Check patched = check(checks, "install.patched");
            if (program.equals("gen-none")) {
                // Nothing to patch: the check must not send the user to apply, which would find nothing.
                assertEquals(Status.WARN, patched.status(), patched.toString());
                assertTrue(!patched.fix().contains("apply"), patched.fix());
                assertEquals(Status.WARN, check(checks, "ollama.rules").status(), "install.version fails for it once");
            } else {
                assertEquals(Status.FAIL, patched.status(), "the fixtures as built are not patched");
            }
        }
    }

    /**
     * A build without a version (a C program here) tells its generation only by the form of its NVML sites,
     * which patching removed: the doctor reads them in the backup apply kept.
     */
    @Test
    void aPatchedBinaryWithoutAVersionIsJudgedByTheSitesOfItsBackup() throws Exception {
        Path dir = tmp.resolve("noversion");
        Path bin = Files.createDirectories(dir.resolve("bin")).resolve("ollama");
        Path src = Files.writeString(tmp.resolve("pair.c"), """
                #include <dlfcn.h>
                #include <stdio.h>
                static const char *const nvml_paths[] = {"/usr/lib/wsl/lib/libnvidia-ml.so.1", "libnvidia-ml.so.1"};
                int main(void) {
                    for (int i = 0; i < 2; i++) if (dlopen(nvml_paths[i], RTLD_NOW)) { puts("nvml ok"); return 0; }
                    puts("nvml missing");
                    return 0;
                }
                """);
        cc("gcc", "-O2", "-fPIE", "-pie", "-o", bin.toString(), src.toString());
        assertEquals(0, Cli.run("apply", dir).exit());
        Check v = check(Doctor.examine(new Doctor.Options(dir, root.root, false, Map.of(), 30)), "install.version");
        assertTrue(v.summary().startsWith("this program, version unknown, generation B (0.12.6 - 0.24.x); what NVML decides: "), v.summary());
        assertTrue(v.evidence().contains("generation B: from the form of the NVML sites in its backup " + bin.toRealPath() + ".orig"), v.evidence().toString());
    }

    /** The doctor on a fixture patched as a copy into {@code <tmp>/copy/bin/} ({@code apply -o}: no manifest); its install.site must be ok. */
    Check siteOfACopy(String program, List<Check> into) throws Exception {
        Path out = tmp.resolve("copy/bin/" + program);
        Files.createDirectories(out.getParent());
        assertEquals(0, Cli.run("apply", Fixtures.binary("x86_64", "release", program), "-o", out).exit());
        into.addAll(Doctor.examine(new Doctor.Options(out, root.root, false, Map.of(), 30)));
        Check site = check(into, "install.site");
        assertEquals(Status.OK, site.status(), text(into));
        assertTrue(site.summary().contains("loader opens " + out.resolveSibling("nvml.so") + ": present"), site.summary());
        return site;
    }

    /** {@code apply -o} writes no manifest: the patched copy is recognised by its bytes, and its sites resolved as apply resolved them. */
    @Test
    void aCopyPatchedWithoutAManifestIsReadFromItsBytes() throws Exception {
        List<Check> checks = new java.util.ArrayList<>();
        siteOfACopy("gen-c", checks);
        assertTrue(check(checks, "install.patched").evidence().get(0).endsWith("$ORIGIN/nvml.so (per bytes (no manifest))"), text(checks));
        assertEquals(Status.WARN, check(checks, "install.verify").status(), text(checks));
    }

    /** A DT_NEEDED entry patched in a copy (no manifest): $ORIGIN there is the directory of the object that has the entry. */
    @Test
    void aNeededEntryPatchedWithoutAManifestIsResolvedAgainstItsObject() throws Exception {
        Check site = siteOfACopy("needed", new java.util.ArrayList<>());
        assertTrue(site.evidence().get(2).startsWith("loader: needed: DT_NEEDED entry of `" + tmp.resolve("copy/bin/needed") + "`"),
                site.evidence().toString());
    }

    @Test
    void shimOfTheWrongMachine() throws Exception {
        Files.copy(Path.of(System.getProperty("fixtures.dir")).resolve("aarch64/stub-nvml/libnvidia-ml.so.1"),
                install.resolve("bin/nvml.so"), StandardCopyOption.REPLACE_EXISTING);
        List<Check> checks = doctor(false, Map.of());
        Check c = check(checks, "install.site");
        assertEquals(Status.FAIL, c.status(), text(checks));
        assertTrue(c.summary().contains("cannot serve it: " + install.resolve("bin/nvml.so") + " is for aarch64 64-bit, the target is x86_64 64-bit"), c.summary());
        assertTrue(c.fix().startsWith("install the x86_64 shim"), c.fix());
        assertEquals(Status.FAIL, check(checks, "install.verify").status(), "the shim's hash changed too");
    }

    /** The same rule as apply's for every shim it installs: each NVML function the binary looks up is exported. */
    @Test
    void aShimThatLacksAFunctionTheBinaryLooksUp() throws Exception {
        Path src = Files.writeString(tmp.resolve("half.c"), "int nvmlInit_v2(void) { return 0; }\nint nvmlShutdown(void) { return 0; }\n");
        cc("gcc", "-shared", "-fPIC", "-nostdlib", "-Wl,-soname,libnvidia-ml.so.1", "-o", install.resolve("bin/nvml.so").toString(), src.toString());
        Check c = check(doctor(false, Map.of()), "install.site");
        assertEquals(Status.FAIL, c.status(), c.toString());
        assertTrue(c.summary().contains("cannot serve it: " + install.resolve("bin/nvml.so") + " does not export ")
                && c.summary().contains("nvmlSystemGetDriverVersion"), c.summary());
    }

    @Test
    void shimNeedingANewerGlibcThanTheHostHas() throws Exception {
        // A host whose libc.so.6 defines versions up to GLIBC_2.28 (RHEL 8), and a shim that needs GLIBC_2.34.
        Path libcSrc = tmp.resolve("libc.c");
        Path map = tmp.resolve("libc.map");
        Files.writeString(libcSrc, "int gnu_get_libc_version_fake(void) { return 0; }\n");
        Files.writeString(map, "GLIBC_2.2.5 { global: gnu_get_libc_version_fake; local: *; };\nGLIBC_2.17 { } GLIBC_2.2.5;\nGLIBC_2.28 { } GLIBC_2.17;\n");
        Path libc = root.path("/lib/x86_64-linux-gnu/libc.so.6");
        Files.createDirectories(libc.getParent());
        cc("gcc", "-shared", "-fPIC", "-Wl,-soname,libc.so.6", "-Wl,--version-script=" + map, "-nostdlib", "-o", libc.toString(), libcSrc.toString());
        Path shimSrc = tmp.resolve("shim.c");
        Files.writeString(shimSrc, "#include <dlfcn.h>\nvoid *nvmlInit_v2(void) { return dlopen(\"x\", RTLD_NOW); }\n");
        cc("gcc", "-shared", "-fPIC", "-Wl,-soname,libnvidia-ml.so.1", "-o", install.resolve("bin/nvml.so").toString(), shimSrc.toString());
        Check c = check(doctor(false, Map.of()), "install.site");
        assertEquals(Status.FAIL, c.status(), c.toString());
        assertTrue(c.summary().contains("needs GLIBC_2.34 but this host's glibc is 2.28"), c.summary());
    }

    static void cc(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), String.join(" ", cmd) + "\n" + out);
    }

    @Test
    void theConfigNamedInTheUnitIsTheOneTheShimIsAskedWith() throws Exception {
        // The default config describes the wrong bus; the unit names another file, which is right.
        root.config(FakeRoot.virtualConfig("570.86.15", "00000000:00:07.0"))
                .file("/etc/ollama-patch/vm.conf", FakeRoot.virtualConfig("570.86.15", "00000000:00:05.0"))
                .file("/etc/systemd/system/ollama.service", "[Unit]\nDescription=Ollama\n\n[Service]\nExecStart=" + install.resolve("bin/gen-c") + " serve\n")
                .file("/etc/systemd/system/ollama.service.d/gpu.conf", "[Service]\nEnvironment=\"OLLAMA_PATCH_SHIM_CONFIG=/etc/ollama-patch/vm.conf\" OLLAMA_HOST=0.0.0.0\n");
        List<Check> checks = doctor(false, Map.of());
        assertTrue(check(checks, "shim.config").summary().contains(root.path("/etc/ollama-patch/vm.conf").toString()), text(checks));
        assertEquals(Status.OK, check(checks, "host.pci-match").status(), text(checks));
        Check unit = check(checks, "service.unit");
        assertEquals(Status.OK, unit.status(), text(checks));
        assertTrue(unit.summary().contains("shim config /etc/ollama-patch/vm.conf"), unit.summary());
    }

    @Test
    void aUnitThatRunsAnotherBinaryWithLdPreload() throws Exception {
        root.file("/etc/systemd/system/ollama.service", "[Service]\nExecStart=/usr/bin/ollama serve\nEnvironment=LD_PRELOAD=/opt/hami/libvgpu.so\n");
        Check c = check(doctor(false, Map.of()), "service.unit");
        assertEquals(Status.FAIL, c.status());
        assertTrue(c.summary().contains("HAMi") && c.fix().contains("libvgpu.so"), c.toString());
        root.file("/etc/systemd/system/ollama.service", "[Service]\nExecStart=/usr/bin/ollama serve\n");
        Check other = check(doctor(false, Map.of()), "service.unit");
        assertEquals(Status.WARN, other.status());
        assertTrue(other.summary().contains("runs /usr/bin/ollama, not " + install.resolve("bin/gen-c")), other.summary());
    }

    @Test
    void runningServiceOnTheOldInodeNeedsARestart() throws Exception {
        // The "service": a long-running program started from the install, then its file replaced as
        // an in-place apply replaces it (a new file renamed over the old one).
        Path bin = install.resolve("bin/ollama");
        Files.copy(Path.of("/bin/sleep"), bin);
        Process service = new ProcessBuilder(bin.toString(), "120").start();
        try {
            Path fresh = install.resolve("bin/.ollama.new");
            Files.copy(Path.of("/bin/sleep"), fresh);
            Files.move(fresh, bin, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            // The host's processes are the real ones: the fake root's /proc is the kernel's.
            try (Stream<Path> old = Files.walk(root.path("/proc"))) {
                for (Path p : old.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(p);
            }
            Files.createSymbolicLink(root.path("/proc"), Path.of("/proc"));
            List<Check> checks = doctor(false, Map.of());
            Check c = check(checks, "service.process");
            assertEquals(Status.FAIL, c.status(), text(checks));
            assertTrue(c.summary().contains("pid " + service.pid()) && c.summary().contains("(deleted)"), c.summary());
            assertNotNull(c.fix());
        } finally {
            service.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void runStartsOllamasOwnDiscoveryAndShowsTheShimsAnswers() {
        Map<String, String> env = new HashMap<>();
        env.put("LD_LIBRARY_PATH", Fixtures.root().resolve("x86_64/stub-cuda").toString());
        List<Check> checks = doctor(true, env);
        Check c = check(checks, "run.discovery");
        assertEquals(Status.OK, c.status(), text(checks) + "\n" + c.evidence());
        assertTrue(c.summary().startsWith("Ollama found 1 GPU"), c.summary());
        String ev = String.join("\n", c.evidence());
        assertTrue(ev.contains("msg=\"inference compute\" id=GPU-3f1c2d4e-0000-4000-8000-000000000001 library=CUDA"), ev);
        assertTrue(ev.contains("nvmlInit_v2=1") && ev.contains("nvmlSystemGetDriverVersion=1"), ev);
    }

    @Test
    void runServesOnLoopbackForOtherGenerationsAndStopsAfterTheConclusion() throws Exception {
        Path genB = tmp.resolve("gen-b");
        copyTree(Fixtures.installDir("x86_64", "release", "gen-b"), genB);
        assertEquals(0, Cli.run("apply", genB).exit());                    // lib/ollama/libggml-base.so
        assertEquals(0, Cli.run("apply", genB.resolve("bin/gen-b")).exit()); // the program itself
        long start = System.nanoTime();
        List<Check> checks = Doctor.examine(new Doctor.Options(genB.resolve("bin/gen-b"), root.root, true,
                Map.of("FIXTURE_GPU_UUIDS", "GPU-3f1c2d4e-0000-4000-8000-000000000001"), 30));
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start);
        assertTrue(check(checks, "install.version").summary().contains("generation B"), text(checks));
        assertTrue(check(checks, "install.patched").summary().startsWith("2 patched files (gen-b, libggml-base.so), manifest "), text(checks));
        assertEquals(Status.OK, check(checks, "install.verify").status(), text(checks));
        // Two sites in each patched file, each pair leading the loader to one file: one line per file.
        assertEquals(List.of(genB.resolve("bin/nvml.so").toString(), genB.resolve("lib/ollama/nvml.so").toString()),
                checks.stream().filter(x -> x.id().equals("install.site")).map(x -> x.evidence().get(0)).toList(), text(checks));
        Check c = check(checks, "run.discovery");
        assertEquals(Status.OK, c.status(), text(checks) + "\n" + c.evidence());
        String ev = String.join("\n", c.evidence());
        assertTrue(ev.contains(" serve (stopped after it concluded)"), ev);
        assertTrue(ev.contains("description=\"NVIDIA H100 PCIe\" total=\"80.0 GiB\""), ev);
        assertTrue(ev.contains("nvmlDeviceGetHandleByUUID=1"), ev);
        assertTrue(seconds < 25, "stopped long before the 30 s limit: " + seconds + " s");
    }

    @Test
    void runReportsDriverTooOldAsOllamaConcludesIt() throws Exception {
        root.config(FakeRoot.virtualConfig("470.82.01", "00000000:00:05.0"));
        Map<String, String> env = Map.of("LD_LIBRARY_PATH", Fixtures.root().resolve("x86_64/stub-cuda").toString());
        Check c = check(doctor(true, env), "run.discovery");
        assertEquals(Status.FAIL, c.status());
        assertTrue(c.summary().contains("library=cpu") && c.summary().contains("driver too old"), c.summary());
    }

    @Test
    void runWithoutCudaNeverReachesTheShim() {
        Check c = check(doctor(true, Map.of("LD_LIBRARY_PATH", tmp.toString())), "run.discovery");
        assertEquals(Status.FAIL, c.status());
        assertTrue(c.summary().contains("the shim answered no NVML call"), c.summary());
    }

    @Test
    void jsonHasEveryCheckWithStatusEvidenceAndFix() throws Exception {
        root.config(FakeRoot.virtualConfig("570.86.15", "00000000:00:07.0"));
        Cli.Result r = Cli.run("doctor", install, "--root", root.root, "--json");
        assertEquals(1, r.exit(), r.toString());
        JsonNode n = Json.MAPPER.readTree(r.out());
        assertEquals(false, n.get("ok").asBoolean());
        JsonNode match = null;
        for (JsonNode c : n.get("checks")) {
            assertTrue(c.has("id") && c.has("status") && c.has("summary") && c.get("evidence").isArray() && c.has("fix"), c.toString());
            if (c.get("id").asText().equals("host.pci-match")) match = c;
        }
        assertNotNull(match);
        assertEquals("fail", match.get("status").asText());
        assertTrue(r.err().contains("fail  host.pci-match"), r.err());
        // Fixed: exit 0, every check ok or warn, and an ok check's fix is null.
        root.config(FakeRoot.virtualConfig("570.86.15", "00000000:00:05.0"));
        Cli.Result fixed = Cli.run("doctor", install, "--root", root.root, "--json");
        assertEquals(0, fixed.exit(), fixed.toString());
        JsonNode good = Json.MAPPER.readTree(fixed.out());
        assertTrue(good.get("ok").asBoolean());
        for (JsonNode c : good.get("checks")) {
            assertTrue(!c.get("status").asText().equals("fail"), c.toString());
            assertEquals(c.get("status").asText().equals("ok"), c.get("fix").isNull(), c.toString());
        }
    }

    @Test
    void shimConfigDescribesTheDevicesAndTheShimAcceptsIt() throws Exception {
        root.nvidiaGpu("0000:00:06.0", 0x27b8);
        Cli.Result r = Cli.run("shim-config", "--root", root.root);
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("pci_bus_id = 00000000:00:05.0\npci_device_id = 0x233110de"), r.out());
        assertTrue(r.out().contains("name = NVIDIA H100 PCIe") && r.out().contains("name = NVIDIA L4"), r.out());
        assertTrue(r.out().contains("memory_total = " + (24L << 30)), r.out());
        // Round trip: the config it prints, read by the real shim, matches sysfs.
        root.config(r.out()).driverLoaded(2);
        List<Check> checks = doctor(false, Map.of());
        assertEquals(Status.OK, check(checks, "host.pci-match").status(), text(checks));
        assertEquals(0, Doctor.exitCode(checks), text(checks));
    }

    /**
     * What shim-config prints is read back by the shim's own config reader (the installed shim, asked through
     * nvml-shim-query): three devices, one of them not in the table (no memory, a placeholder name).
     */
    @Test
    void shimConfigForADeviceNotInTheTableIsReadByTheShimItself() throws Exception {
        root.nvidiaGpu("0000:00:06.0", 0x1e30).nvidiaGpu("0000:81:00.0", 0x2335);
        Cli.Result r = Cli.run("shim-config", "--root", root.root);
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("name = NVIDIA GPU 1e30\n"), r.out());
        Path conf = Files.writeString(tmp.resolve("generated.conf"), r.out());
        ShimAnswer a = ShimQuery.ask(install.resolve("bin/nvml.so"), conf.toString(), Map.of());
        assertTrue(a.initialised(), a.toString());
        assertEquals(null, a.shimMessage(), "the shim found nothing to say about the file");
        assertEquals("virtual", a.mode());
        assertEquals(dev.ollamapatch.ollama.ShimDriverConfig.BUNDLED_DEFAULT, a.driverVersion());
        assertEquals(List.of("00000000:00:05.0", "00000000:00:06.0", "00000000:81:00.0"),
                a.devices().stream().map(ShimAnswer.Device::pciBusId).toList());
        assertEquals(List.of(0x233110deL, 0x1e3010deL, 0x233510deL), a.devices().stream().map(ShimAnswer.Device::pciDeviceId).toList());
        assertEquals(List.of("NVIDIA H100 PCIe", "NVIDIA GPU 1e30", "NVIDIA H200"), a.devices().stream().map(ShimAnswer.Device::name).toList());
        assertEquals(ShimConfigWriter.uuidFor("00000000:81:00.0"), a.devices().get(2).uuid());
        assertEquals(141L << 30, a.devices().get(2).memoryTotal());
        // The placeholders of the device not in the table: loadable, and failing where Ollama reads them from NVML.
        assertEquals(0L, a.devices().get(1).memoryTotal());
        Check rules = Checks.ollamaRules(Generation.B, a, conf.toString());
        assertEquals(Status.FAIL, rules.status(), rules.toString());
        assertTrue(rules.fix().startsWith("set 'memory_total' to the bytes of the GPU's (or vGPU profile's) frame buffer in [device.1]"), rules.fix());
        assertEquals(Status.FAIL, Checks.ollamaRules(Generation.A, a, conf.toString()).status());
        assertEquals(Status.OK, Checks.ollamaRules(Generation.C, a, conf.toString()).status(), "0.30+ takes memory from CUDA, not NVML");
    }

    @Test
    void aTargetThatIsNotAnInstallIsOneFailingLine() throws Exception {
        Path text = Files.writeString(tmp.resolve("notes.txt"), "not a program\n");
        Cli.Result r = Cli.run("doctor", text, "--root", root.root);
        assertEquals(1, r.exit(), r.toString());
        assertTrue(r.out().contains("fail  install.found") && r.out().contains(text + ": not an ELF file"), r.out());
        Path tgz = tmp.resolve("ollama-linux-amd64.tgz");
        cc("tar", "-czf", tgz.toString(), "-C", install.toString(), "bin");
        Cli.Result archive = Cli.run("doctor", tgz, "--root", root.root);
        assertEquals(1, archive.exit(), archive.toString());
        assertTrue(archive.out().contains(tgz + ": a release archive or container image, not an installed Ollama"), archive.out());
        Cli.Result missing = Cli.run("doctor", tmp.resolve("nothing-here"), "--root", root.root);
        assertTrue(missing.out().contains("nothing-here: no such file or directory"), missing.out());
    }

    @Test
    void rootThatIsNotADirectoryIsAUsageError() {
        Cli.Result r = Cli.run("doctor", install, "--root", tmp.resolve("no-such-root"));
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.err().contains("--root " + tmp.resolve("no-such-root") + ": not a directory"), r.err());
        assertEquals(2, Cli.run("shim-config", "--root", tmp.resolve("no-such-root")).exit());
    }

    @Test
    void shimConfigWithoutDevicesExitsOne() throws Exception {
        Cli.Result r = Cli.run("shim-config", "--root", Files.createDirectories(tmp.resolve("empty")));
        assertEquals(1, r.exit());
        assertTrue(r.out().contains("[shim]") && r.err().contains("no NVIDIA GPU"), r.toString());
    }
}
