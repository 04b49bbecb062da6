package dev.ollamapatch.patch;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What apply does besides the happy path: refusals, nothing to do, dry runs, --lib, the reports. */
class ApplyBehaviourTest {
    @TempDir
    Path tmp;

    private static Path genC() {
        return Fixtures.binary("x86_64", "release", "gen-c");
    }

    @Test
    void aFileThatNamesNoNvmlExitsThreeAndWritesNothing() throws Exception {
        Path ls = Files.copy(Path.of("/bin/ls"), tmp.resolve("ls"));
        Cli.Result r = Cli.run("apply", ls, "-o", tmp.resolve("out/ls"), "--shim", Fixtures.stub("x86_64"));
        assertEquals(3, r.exit(), r.toString());
        assertTrue(r.err().contains("nothing to patch"), r.err());
        assertFalse(Files.exists(tmp.resolve("out")), "nothing written");
        assertEquals(3, Cli.run("scan", ls).exit());
    }

    @Test
    void aDryRunWritesNothingAndShowsTheBytesAsXxdDoes() throws Exception {
        Path out = tmp.resolve("gen-c");
        Cli.Result r = Cli.run("apply", "--dry-run", genC(), "-o", out, "--shim", Fixtures.stub("x86_64"));
        assertEquals(0, r.exit(), r.toString());
        assertFalse(Files.exists(out));
        assertFalse(Files.exists(tmp.resolve("nvml.so")));
        // Every "before" line is exactly what xxd prints for the same offset and length.
        Matcher m = Pattern.compile("xxd -s 0x([0-9a-f]+) -l (\\d+) FILE\\n    before\\n((?:      [0-9a-f]{8}: .*\\n)+)")
                .matcher(r.out());
        int checked = 0;
        while (m.find()) {
            Process p = new ProcessBuilder("xxd", "-s", "0x" + m.group(1), "-l", m.group(2), genC().toString()).start();
            String xxd = new String(p.getInputStream().readAllBytes());
            p.waitFor(10, TimeUnit.SECONDS);
            assertEquals(xxd.strip(), m.group(3).lines().map(String::strip).reduce((a, b) -> a + "\n" + b).orElse(""),
                    "report lines against xxd");
            checked++;
        }
        assertEquals(1, checked, r.out()); // "libnvidia-ml.so.1"; "libnvidia-ml.so" is another form, left alone
        assertTrue(r.out().contains("unable to load libnvidia-ml"), "mentions are listed as left alone");
        assertTrue(r.out().contains("nvmlInit_v2"), "the NVML functions the binary looks up are listed");
    }

    @Test
    void aPathLongerThanASiteIsRefusedNamingTheLongestThatFits() throws Exception {
        Cli.Result r = Cli.run("apply", genC(), "-o", tmp.resolve("g"), "--shim", Fixtures.stub("x86_64"),
                "--shim-path", "$ORIGIN/a-much-longer-shim-name.so");
        assertEquals(5, r.exit(), r.toString());
        assertTrue(r.err().contains("the longest path that fits is 17 bytes"), r.err());
        assertFalse(Files.exists(tmp.resolve("g")));
    }

    @Test
    void aTailMergedReferenceInsideThePathIsRefused() throws Exception {
        // tailmerge: "/opt/nv/libnvidia-ml.so.1" (25 bytes) with code pointing 8 bytes in at the bare name.
        Path tm = Fixtures.binary("x86_64", "release", "tailmerge");
        Cli.Result r = Cli.run("apply", tm, "-o", tmp.resolve("t"), "--shim", Fixtures.stub("x86_64"),
                "--shim-path", "$ORIGIN/nvml-shim.so");
        assertEquals(5, r.exit(), r.toString());
        assertTrue(r.err().contains("8 bytes into the string"), r.err());
        assertTrue(r.err().contains("The longest path that keeps it valid is 17 bytes"), r.err());
        // With the default 15-byte path both readings name the shim.
        Cli.Result ok = Cli.run("apply", tm, "-o", tmp.resolve("t"), "--shim", Fixtures.stub("x86_64"));
        assertEquals(0, ok.exit(), ok.toString());
        assertTrue(Fixtures.run("x86_64", tmp.resolve("t"), Map.of()).stdout().contains("nvml=ok"));
    }

    @Test
    void aChecksumMismatchIsRefusedBeforeAnythingIsWritten() {
        Cli.Result r = Cli.run("apply", genC(), "-o", tmp.resolve("g"), "--shim", Fixtures.stub("x86_64"),
                "--expect-sha256", "00".repeat(32));
        assertEquals(5, r.exit(), r.toString());
        assertTrue(r.err().contains("expected 0000"), r.err());
        assertFalse(Files.exists(tmp.resolve("g")));
    }

    @Test
    void aShimForAnotherMachineIsRefused() {
        Cli.Result r = Cli.run("apply", genC(), "-o", tmp.resolve("g"), "--shim", Fixtures.stub("aarch64"));
        assertEquals(5, r.exit(), r.toString());
        assertTrue(r.err().contains("is for aarch64 64-bit, the target is x86_64 64-bit"), r.err());
        assertFalse(Files.exists(tmp.resolve("g")));
    }

    @Test
    void aShimMissingAFunctionTheBinaryLooksUpIsRefusedWithTheNames() throws Exception {
        Path src = tmp.resolve("partial.c");
        Files.writeString(src, "int nvmlInit_v2(void) { return 0; }\nint nvmlShutdown(void) { return 0; }\n");
        Path so = tmp.resolve("partial.so");
        Process p = new ProcessBuilder("gcc", "-shared", "-fPIC", "-Wl,-soname,libnvidia-ml.so.1", "-o", so.toString(),
                src.toString()).inheritIO().start();
        assertEquals(0, p.waitFor());
        Cli.Result r = Cli.run("apply", genC(), "-o", tmp.resolve("g"), "--shim", so);
        assertEquals(5, r.exit(), r.toString());
        assertTrue(r.err().contains("does not export") && r.err().contains("nvmlSystemGetDriverVersion"), r.err());
        assertFalse(r.err().contains("nvmlInit_v2,"), "functions it has are not listed: " + r.err());
    }

    @Test
    void otherLibrariesAreRetargetedWithLib() throws Exception {
        Path out = tmp.resolve("g");
        // "libcuda.so.1" has 12 bytes: the default path fits it ("$ORIGIN/cuda"); a longer one is refused, saying so.
        Cli.Result byDefault = Cli.run("apply", genC(), "-o", out, "--shim", Fixtures.stub("x86_64"), "--lib",
                "libcuda.so.1", "--dry-run", "--json");
        assertEquals(0, byDefault.exit(), byDefault.toString());
        assertTrue(byDefault.out().contains("\"replacement\" : \"$ORIGIN/cuda\""), byDefault.out());
        Cli.Result tooLong = Cli.run("apply", genC(), "-o", out, "--shim", Fixtures.stub("x86_64"), "--lib",
                "libcuda.so.1=$ORIGIN/cuda.so");
        assertEquals(5, tooLong.exit(), tooLong.toString());
        assertTrue(tooLong.err().contains("--lib libcuda.so.1=PATH"), tooLong.err());
        Cli.Result r = Cli.run("apply", genC(), "-o", out, "--shim", Fixtures.stub("x86_64"), "--lib",
                "libcuda.so.1=$ORIGIN/c.so");
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("\"libcuda.so.1\" (libcuda.so.1)"), r.out());
        // Anything loadable stands in for the CUDA driver here: the point is which path is opened.
        Files.copy(Fixtures.stub("x86_64"), tmp.resolve("c.so"));
        Fixtures.Run run = Fixtures.run("x86_64", out, Map.of());
        assertTrue(run.stdout().contains("cuda: ok"), run.toString());
    }

    @Test
    void gen_aInstalledUnderALongPathIsRefusedBecauseGlobsNeedAbsolutePaths() throws Exception {
        Path deep = Files.createDirectories(tmp.resolve("a/rather/deep/install/prefix/bin"));
        Cli.Result r = Cli.run("apply", Fixtures.binary("x86_64", "release", "gen-a"), "-o", deep.resolve("gen-a"),
                "--shim", Fixtures.stub("x86_64"));
        assertEquals(5, r.exit(), r.toString());
        assertTrue(r.err().contains("/usr/lib*/libnvidia-ml.so*"), r.err());
        assertTrue(r.err().contains("the longest path that fits is 26 bytes"), r.err());
    }

    @Test
    void badInputIsOneLineWithExitFour() throws Exception {
        Path junk = Files.writeString(tmp.resolve("junk"), "not an ELF file at all");
        Cli.Result r = Cli.run("apply", junk, "-o", tmp.resolve("o"));
        assertEquals(4, r.exit(), r.toString());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains(junk.toString()), r.err());
        assertEquals(2, Cli.run("apply").exit(), "usage");
        assertEquals(2, Cli.run("apply", tmp.resolve("missing"), "-o", tmp.resolve("o")).exit());
    }

    @Test
    void theBundledShimServesEveryGenerationWithAConfig() throws Exception {
        Path conf = tmp.resolve("shim.conf");
        Files.writeString(conf, String.join("\n", List.of(
                "[shim]", "mode = virtual", "driver_version = 570.86.15", "cuda_driver_version = 12080",
                "[device.0]", "name = NVIDIA H100 PCIe", "uuid = GPU-3f1c2d4e-0000-4000-8000-000000000001",
                "pci_bus_id = 00000000:00:05.0", "memory_total = 85899345920", "memory_used = 0",
                "compute_capability = 9.0",
                "[device.1]", "name = NVIDIA L4", "uuid = GPU-3f1c2d4e-0000-4000-8000-000000000002",
                "pci_bus_id = 00000000:00:06.0", "memory_total = 24000000000", "memory_used = 1000000000",
                "compute_capability = 8.9", "")));
        Path dir = TestFiles.shortTempPath(null);
        try {
            for (String arch : Fixtures.ARCHES) {
                for (String program : List.of("gen-a", "gen-b", "gen-c", "needed", "tailmerge")) {
                    Path out = Files.createDirectories(dir.resolve(arch.substring(0, 1) + program.charAt(4)))
                            .resolve(program);
                    Cli.Result r = Cli.run("apply", Fixtures.binary(arch, "release", program), "-o", out);
                    assertEquals(0, r.exit(), r.toString());
                    // gen-b gets device UUIDs from CUDA in Ollama; the fixture takes them from the environment.
                    Fixtures.Run run = Fixtures.run(arch, out, Map.of("OLLAMA_PATCH_SHIM_CONFIG", conf.toString(),
                            "FIXTURE_GPU_UUIDS", "GPU-3f1c2d4e-0000-4000-8000-000000000001,"
                                    + "GPU-3f1c2d4e-0000-4000-8000-000000000002"));
                    String want = program.equals("gen-b") ? "driver=n/a devices=2" : "driver=570.86.15 devices=2";
                    assertTrue(run.stdout().contains("discovery: nvml=ok " + want), arch + " " + program + ": " + run);
                    assertTrue(run.stdout().contains("name=NVIDIA L4"), run.stdout());
                }
            }
        } finally {
            try (var s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
