package dev.ollamapatch.ollama;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ollamapatch.patch.Cli;
import dev.ollamapatch.patch.Fixtures;
import dev.ollamapatch.site.LibraryTarget;
import dev.ollamapatch.patch.TestFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** --lib NAME[=PATH] and --lib-file NAME=FILE, with the fixtures' no-NVML Ollama (0.12.3) and stub CUDA driver. */
class LibOptionCliTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    static Path cudaStub(String arch) {
        Path p = Fixtures.root().resolve(arch).resolve("stub-cuda/libcuda.so.1");
        assertTrue(Files.isRegularFile(p), "stub CUDA driver not built: " + p);
        return p;
    }

    @Test
    void defaultPathsFitEveryNameOllamaUses() {
        for (String name : List.of("libcuda.so.1", "libcuda.so", "libcudart.so.12", "libcudart.so.11.0", "libcudart.so",
                "libnvidia-ml.so.1", "libnvidia-ml.so")) {
            String path = LibraryTarget.parse(name).defaultPath();
            assertTrue(path.startsWith("$ORIGIN/") && path.length() <= name.length(), name + " -> " + path);
        }
        assertEquals("$ORIGIN/cuda", LibraryTarget.parse("libcuda.so.1").defaultPath());
        assertEquals("$ORIGIN/cu", LibraryTarget.parse("libcuda.so").defaultPath());
        assertEquals("$ORIGIN/cudart", LibraryTarget.parse("libcudart.so.12").defaultPath());
        assertEquals("$ORIGIN/nvml.so", LibraryTarget.parse("libnvidia-ml.so.1").defaultPath());
    }

    /** Two libraries whose defaults coincide would load one file: a usage error naming both. */
    @Test
    void collidingDefaultsAreAUsageError() {
        Cli.Result r = Cli.run("scan", Fixtures.binary("x86_64", "release", "gen-c"), "--lib", "libcuda.so.1",
                "--lib", "libcudart.so");
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.err().contains("would both load $ORIGIN/cuda"), r.err());
    }

    /** Ollama 0.12.3 has no NVML on Linux: the line and the report say so and what would help. */
    @Test
    void noNvmlVersionSaysSoAndWhatHelps(@TempDir Path dir) throws Exception {
        Path bin = Fixtures.binary("x86_64", "release", "gen-none");
        Cli.Result scan = Cli.run("scan", bin, "--json");
        assertEquals(3, scan.exit(), scan.toString());
        JsonNode id = JSON.readTree(scan.out()).get("files").get(0).get("ollama");
        assertEquals("0.12.3", id.get("version").asText());
        assertEquals("none", id.get("generation").asText());
        assertFalse(id.get("uses_nvml").asBoolean());
        assertTrue(id.get("advice").get(0).asText().contains("--lib libcuda.so.1 --lib-file libcuda.so.1=FILE"), id.toString());
        assertTrue(scan.err().contains("0.12.3 does not use NVML on Linux"), scan.err());

        Set<String> before = TestFiles.listing(dir);
        Cli.Result apply = Cli.run("apply", bin, "-o", dir.resolve("out/gen-none"));
        assertEquals(3, apply.exit(), apply.toString());
        String last = apply.err().strip().lines().reduce((a, b) -> b).orElse("");
        assertTrue(last.contains("nothing to patch: Ollama 0.12.3 does not use NVML on Linux")
                && last.contains("--lib libcuda.so.1") && last.contains("0.12.6 or later"), last);
        assertEquals(before, TestFiles.listing(dir));
    }

    /** The real feature: the site retargeted, the stub CUDA driver installed beside the copy, and the copy uses it. */
    @Test
    void libFileInstallsACheckedReplacementThatTheBinaryLoads(@TempDir Path dir) throws Exception {
        for (String arch : Fixtures.ARCHES) {
            Path out = dir.resolve(arch + "/gen-none");
            Fixtures.Run unpatched = Fixtures.run(arch, Fixtures.binary(arch, "release", "gen-none"), Map.of());
            assertTrue(unpatched.stdout().contains("cuda: missing"), unpatched.toString());
            Cli.Result r = Cli.run("apply", Fixtures.binary(arch, "release", "gen-none"), "-o", out, "--lib-file",
                    "libcuda.so.1=" + cudaStub(arch), "--json");
            assertEquals(0, r.exit(), r.toString());
            JsonNode site = JSON.readTree(r.out()).get("files").get(0).get("sites").get(0);
            assertEquals("libcuda.so.1", site.get("original").asText());
            assertEquals("$ORIGIN/cuda", site.get("replacement").asText());
            assertEquals(TestFiles.sha256(cudaStub(arch)), TestFiles.sha256(dir.resolve(arch + "/cuda")));
            assertTrue(r.err().contains("exports cuDeviceGetCount, cuDriverGetVersion, cuInit, which the binary looks up"),
                    r.err());
            Fixtures.Run run = Fixtures.run(arch, out, Map.of());
            assertTrue(run.stdout().contains("cuda: ok init=0 driver=12080 devices=1"), run.toString());
        }
    }

    @Test
    void libFileOfAnotherMachineOrLibraryIsRefused(@TempDir Path dir) throws Exception {
        Path bin = Fixtures.binary("x86_64", "release", "gen-none");
        Set<String> before = TestFiles.listing(dir);
        Cli.Result arm = Cli.run("apply", bin, "-o", dir.resolve("o/gen-none"), "--lib-file",
                "libcuda.so.1=" + cudaStub("aarch64"));
        assertEquals(5, arm.exit(), arm.toString());
        assertTrue(arm.err().contains("is for aarch64 64-bit, the target is x86_64 64-bit"), arm.err());
        Cli.Result nvml = Cli.run("apply", bin, "-o", dir.resolve("o/gen-none"), "--lib-file",
                "libcuda.so.1=" + Fixtures.stub("x86_64"));
        assertEquals(5, nvml.exit(), nvml.toString());
        assertTrue(nvml.err().contains("has SONAME libnvidia-ml.so.1, expected libcuda.so.1"), nvml.err());
        assertTrue(nvml.err().contains("does not export cuDeviceGetCount, cuDriverGetVersion, cuInit"), nvml.err());
        assertEquals(before, TestFiles.listing(dir));
    }

    /** --lib without a file retargets and says that nothing was installed at the path. */
    @Test
    void libWithoutFileSaysNothingWasInstalled(@TempDir Path dir) throws Exception {
        Cli.Result r = Cli.run("apply", Fixtures.binary("x86_64", "release", "gen-none"), "-o",
                dir.resolve("gen-none"), "--lib", "libcuda.so.1");
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.err().contains("nothing was installed there"), r.err());
        assertFalse(Files.exists(dir.resolve("cuda")));
    }

    /** scan reports a refusal with exit 5. */
    @Test
    void scanExitsFiveWhenItReportsARefusal() {
        Cli.Result r = Cli.run("scan", Fixtures.binary("x86_64", "release", "gen-none"), "--lib",
                "libcuda.so.1=$ORIGIN/much-too-long-for-it.so");
        assertEquals(5, r.exit(), r.toString());
        assertTrue(r.out().contains("REFUSED"), r.out());
    }

    /** In place, too: nothing changes, and the line says why and what helps. */
    @Test
    void noNvmlVersionInPlaceSaysSo(@TempDir Path dir) throws Exception {
        Path bin = dir.resolve("gen-none");
        java.nio.file.Files.copy(Fixtures.binary("x86_64", "release", "gen-none"), bin);
        String sha = TestFiles.sha256(bin);
        Cli.Result r = Cli.run("apply", bin);
        assertEquals(3, r.exit(), r.toString());
        assertTrue(r.err().contains(bin + ": Ollama 0.12.3 does not use NVML on Linux"), r.err());
        assertEquals(sha, TestFiles.sha256(bin));
        assertFalse(java.nio.file.Files.exists(dir.resolve("gen-none.orig")));
    }

    /** Generation C with a shim configured below 550: the report warns; gen-b's does not. */
    @Test
    void lowConfiguredDriverVersionIsWarnedForGenerationC(@TempDir Path dir) throws Exception {
        Path conf = java.nio.file.Files.writeString(dir.resolve("shim.conf"), "[shim]\nmode = virtual\ndriver_version = 535.54.03\n");
        for (String program : List.of("gen-c", "gen-b")) {
            Path out = dir.resolve(program + ".out");
            Process p = Cli.process(Map.of("OLLAMA_PATCH_SHIM_CONFIG", conf.toString()), "scan",
                    Fixtures.binary("x86_64", "release", program), "--json")
                    .redirectOutput(out.toFile()).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            assertTrue(p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS));
            JsonNode warnings = JSON.readTree(out.toFile()).get("files").get(0).get("ollama").get("warnings");
            if (program.equals("gen-c")) {
                assertEquals(1, warnings.size(), warnings.toString());
                assertTrue(warnings.get(0).asText().startsWith("shim driver_version 535.54.03 (" + conf + " line 3) is below 550"),
                        warnings.toString());
            } else {
                assertEquals(0, warnings.size(), warnings.toString());
            }
        }
    }

    /**
     * Regression: "libcuda" inside "libcudart.so*" was taken for a form of libcuda (a mention that then
     * collided with the libcudart locator on the same bytes). It is another library's name.
     */
    @Test
    void libcudartGlobIsNotAFormOfLibcuda() throws Exception {
        Cli.Result r = Cli.run("scan", Fixtures.binary("x86_64", "release", "gen-none"), "--lib", "libcudart.so.12",
                "--lib", "libcuda.so", "--json");
        JsonNode sites = JSON.readTree(r.out()).get("files").get(0).get("sites");
        int cudart = 0;
        for (JsonNode s : sites) {
            if (!s.get("original").asText().contains("libcudart")) continue;
            cudart++;
            assertEquals("libcudart.so.12", s.get("library").asText(), s.toString());
            assertFalse(s.get("reason").asText().contains("shares bytes"), s.toString());
        }
        assertEquals(2, cudart, sites.toString());
    }
}
