package dev.ollamapatch.patch;

import dev.ollamapatch.io.Sha256;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code apply -o} on every fixture, both architectures: the patched program, with the test stub
 * installed beside it as {@code nvml.so}, loads the stub ({@code nvml=ok}); its messages print
 * unchanged; the report's offsets, lengths and bytes agree with the files.
 */
class ApplyEndToEndTest {
    static final String STUB_UUID = "GPU-00000000-0000-4000-8000-00000000f1x7";
    private Path work;

    @BeforeEach
    void shortDirectory() throws Exception {
        work = TestFiles.shortTempPath(null);
    }

    private int count;

    @AfterEach
    void clean() throws Exception {
        try (Stream<Path> s = Files.walk(work)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @TestFactory
    List<DynamicTest> patchedFixturesLoadTheShim() {
        List<DynamicTest> tests = new ArrayList<>();
        for (String arch : Fixtures.ARCHES) {
            for (String variant : Fixtures.VARIANTS) {
                for (String program : List.of("gen-a", "gen-c", "needed", "tailmerge")) {
                    tests.add(DynamicTest.dynamicTest(arch + "/" + variant + "/" + program,
                            () -> applyAndRun(arch, variant, program)));
                }
            }
        }
        return tests;
    }

    private void applyAndRun(String arch, String variant, String program) throws Exception {
        Path input = Fixtures.binary(arch, variant, program);
        Path dir = Files.createDirectories(work.resolve("d" + count++));
        Path out = dir.resolve(program);
        Path report = dir.resolve("report.json");
        Cli.Result r = Cli.run("apply", input, "-o", out, "--shim", Fixtures.stub(arch), "--report", report, "--json");
        assertEquals(0, r.exit(), r.toString());
        assertTrue(Files.isRegularFile(dir.resolve("nvml.so")), "shim installed beside the output");

        JsonNode json = new ObjectMapper().readTree(r.out());
        assertEquals(json, new ObjectMapper().readTree(report.toFile()), "--report holds the same JSON as stdout");
        checkReportAgainstFiles(json.get("files").get(0), input, out);

        Fixtures.Run run = Fixtures.run(arch, out, Map.of());
        if (program.equals("needed")) {
            assertTrue(run.stdout().contains("discovery: nvml=ok driver=" + Fixtures.STUB_DRIVER + " devices=1"), run.toString());
        } else {
            assertTrue(run.stdout().contains("discovery: nvml=ok driver=" + Fixtures.STUB_DRIVER + " devices=1"),
                    arch + "/" + variant + "/" + program + ": " + run);
            assertTrue(run.stdout().contains("name=Fixture Stub GPU"), run.stdout());
        }
        Fixtures.Run before = Fixtures.run(arch, input, Map.of("LD_LIBRARY_PATH",
                Fixtures.stub(arch).getParent().toString()), "--mentions");
        Fixtures.Run after = Fixtures.run(arch, out, Map.of(), "--mentions");
        assertEquals(before.stdout(), after.stdout(), "messages print unchanged");
        assertTrue(after.stdout().contains("hint: libnvidia-ml.so.1 is part of the driver"), after.stdout());
    }

    /** Every site: the input holds the original, the output the replacement; no other byte differs. */
    static void checkReportAgainstFiles(JsonNode file, Path input, Path output) throws Exception {
        byte[] in = Files.readAllBytes(input);
        byte[] out = Files.readAllBytes(output);
        assertEquals(in.length, out.length);
        assertEquals(Sha256.of(dev.ollamapatch.elf.ByteSource.of(in)).hex(), file.get("sha256").asText());
        assertEquals(Sha256.of(dev.ollamapatch.elf.ByteSource.of(out)).hex(), file.get("patched_sha256").asText());
        boolean[] inSite = new boolean[in.length];
        int retargeted = 0;
        for (JsonNode s : file.get("sites")) {
            int off = s.get("offset").asInt();
            int len = s.get("length").asInt();
            byte[] original = s.get("original").asText().getBytes(StandardCharsets.ISO_8859_1);
            byte[] replacement = s.get("replacement").asText().getBytes(StandardCharsets.ISO_8859_1);
            assertEquals(len, original.length, "length of " + s);
            assertEquals(len, replacement.length, "replacement keeps the length: " + s);
            assertArrayEquals(original, Arrays.copyOfRange(in, off, off + len), "input bytes at " + off);
            assertArrayEquals(replacement, Arrays.copyOfRange(out, off, off + len), "output bytes at " + off);
            if (s.get("action").asText().equals("retarget")) {
                retargeted++;
                for (byte b : replacement) assertTrue(b != 0, "no NUL is ever written");
                for (int i = off; i < off + len; i++) inSite[i] = true;
            }
        }
        assertTrue(retargeted > 0);
        for (int i = 0; i < in.length; i++) {
            if (!inSite[i] && in[i] != out[i]) throw new AssertionError("byte " + i + " changed outside every site");
        }
    }
}
