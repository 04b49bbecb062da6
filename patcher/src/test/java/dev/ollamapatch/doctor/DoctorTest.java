package dev.ollamapatch.doctor;

import com.fasterxml.jackson.databind.JsonNode;
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
    void theResolutionsRecordedByApplyAreWhereTheShimIsLookedFor() throws Exception {
        // A manifest that records, per site, the files the loader opens (resolves_to): here a directory
        // the shim was never installed in, as a tail-called dlopen in another object would make it.
        Path manifest = install.resolve(".ollama-patch.json");
        com.fasterxml.jackson.databind.node.ObjectNode m = (com.fasterxml.jackson.databind.node.ObjectNode) Json.MAPPER.readTree(manifest.toFile());
        Path elsewhere = install.resolve("lib/nvml.so");
        for (JsonNode site : m.get("files").get(0).get("sites")) {
            ((com.fasterxml.jackson.databind.node.ObjectNode) site).putArray("resolves_to").add(elsewhere.toString());
        }
        Files.writeString(manifest, Json.MAPPER.writeValueAsString(m));
        Check c = check(doctor(false, Map.of()), "install.site");
        assertEquals(Status.FAIL, c.status(), c.toString());
        assertTrue(c.summary().contains("loader opens " + elsewhere + ", which does not exist"), c.summary());
    }

    @Test
    void shimOfTheWrongMachine() throws Exception {
        Files.copy(Path.of(System.getProperty("fixtures.dir")).resolve("aarch64/stub-nvml/libnvidia-ml.so.1"),
                install.resolve("bin/nvml.so"), StandardCopyOption.REPLACE_EXISTING);
        List<Check> checks = doctor(false, Map.of());
        Check c = check(checks, "install.site");
        assertEquals(Status.FAIL, c.status(), text(checks));
        assertTrue(c.summary().contains("a aarch64 file, but gen-c is x86_64"), c.summary());
        assertEquals(Status.FAIL, check(checks, "install.verify").status(), "the shim's hash changed too");
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

    @Test
    void aTargetThatIsNotAnInstallIsOneFailingLine() throws Exception {
        Path text = Files.writeString(tmp.resolve("notes.txt"), "not a program\n");
        Cli.Result r = Cli.run("doctor", text, "--root", root.root);
        assertEquals(1, r.exit(), r.toString());
        assertTrue(r.out().contains("fail  install.found") && r.out().contains(text + ": not an ELF file"), r.out());
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
