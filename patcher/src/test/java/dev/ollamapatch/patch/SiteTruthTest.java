package dev.ollamapatch.patch;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.plan.Action;
import dev.ollamapatch.plan.Plan;
import dev.ollamapatch.plan.PlanOptions;
import dev.ollamapatch.plan.Planner;
import dev.ollamapatch.site.LibraryTarget;
import dev.ollamapatch.site.ScanResult;
import dev.ollamapatch.site.Site;
import dev.ollamapatch.site.SiteFinder;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every byte a site covers is proven part of a library name (issue 14, part 1): the extent starts where
 * a reference points, numbers in unwind tables are not references, and evidence says only what was proven.
 */
class SiteTruthTest {
    private static final String WSL = "/usr/lib/wsl/lib/libnvidia-ml.so.1";

    @TempDir Path work;

    /**
     * Ollama v0.24.0's libggml-base.so: the NVML path follows six 16-byte constants without a NUL. The
     * tool once took the extent from the previous NUL, a 130-byte "glob", and overwrote the constants.
     */
    @TestFactory
    List<DynamicTest> constantsBeforeTheNameStayUntouched() {
        List<DynamicTest> tests = new ArrayList<>();
        for (String arch : Fixtures.ARCHES) {
            for (String variant : Fixtures.VARIANTS) {
                tests.add(DynamicTest.dynamicTest(arch + "/" + variant, () -> {
                    Path install = Fixtures.installDir(arch, variant, "hipconst");
                    Path lib = install.resolve("lib/ollama/libhipconst.so");
                    long known = knownOffset(lib, WSL);
                    ScanResult scan = scan(lib);
                    Site site = scan.locators().stream().filter(s -> s.original().endsWith(WSL)).findFirst().orElseThrow();
                    assertEquals(known, site.offset(), "the site starts at the string, not at the constants: " + site);
                    assertEquals(34, site.length(), site.toString());
                    assertEquals(WSL, site.original());
                    assertTrue(site.evidence().stream().anyMatch(e -> e.startsWith("starts where ")), site.evidence().toString());

                    // Patched in place: only the two names change, and the program loads the shim.
                    Path copy = Fixtures.copyInstall(install, work.resolve(arch + "-" + variant));
                    Path target = copy.resolve("lib/ollama/libhipconst.so");
                    byte[] before = Files.readAllBytes(target);
                    Fixtures.Run unpatched = Fixtures.run(arch, copy.resolve("bin/hipconst"), Map.of());
                    Cli.Result r = Cli.run("apply", copy, "--shim", Fixtures.stub(arch));
                    assertEquals(0, r.exit(), r.toString());
                    byte[] after = Files.readAllBytes(target);
                    for (Site s : scan.locators()) {
                        for (long i = s.offset(); i < s.end(); i++) after[(int) i] = before[(int) i];
                    }
                    assertArrayEquals(before, after, "no byte outside the two sites changed");
                    Fixtures.Run patched = Fixtures.run(arch, copy.resolve("bin/hipconst"), Map.of());
                    assertTrue(patched.stdout().contains("discovery: nvml=ok"), patched.toString());
                    assertTrue(patched.stdout().contains("$ORIGIN/nvml.so"), patched.toString());
                    assertEquals(line(unpatched.stdout(), "amd-cards:"), line(patched.stdout(), "amd-cards:"),
                            "the AMD side reads its constants as before");
                }));
            }
        }
        return tests;
    }

    /**
     * clang -O2 with ld.bfd: .eh_frame ends in {@code 0e 20 00 00 00 00 00 00} (DW_CFA_def_cfa_offset 32,
     * padding, terminator), which read as a word is 0x200e, 14 bytes into "libnvidia-ml.so.1". The tool
     * once took it for a pointer and refused a library that is safe to patch.
     */
    @TestFactory
    List<DynamicTest> unwindTablesHoldNoReferences() {
        List<DynamicTest> tests = new ArrayList<>();
        for (String variant : Fixtures.VARIANTS) {
            tests.add(DynamicTest.dynamicTest("x86_64/" + variant, () -> {
                Path install = Fixtures.installDir("x86_64", variant, "ehframe");
                Path lib = install.resolve("lib/libehframe.so");
                ScanResult scan = scan(lib);
                assertTrue(scan.conflicts().isEmpty(), scan.conflicts().toString());
                assertEquals(1, scan.locators().size(), scan.sites().toString());
                Site site = scan.locators().get(0);
                assertEquals(knownOffset(lib, "libnvidia-ml.so.1"), site.offset());
                assertTrue(site.innerRefs().isEmpty(), "no reference into the name: " + site);
                Plan plan = Planner.plan(scan, new PlanOptions(List.of(LibraryTarget.NVML), null));
                assertEquals(Action.RETARGET, plan.sites().stream().filter(p -> p.site() == site).findFirst()
                        .orElseThrow().action());

                Path copy = Fixtures.copyInstall(install, work.resolve("eh-" + variant));
                Cli.Result r = Cli.run("apply", copy, "--shim", Fixtures.stub("x86_64"));
                assertEquals(0, r.exit(), r.toString());
                Fixtures.Run run = Fixtures.run("x86_64", copy.resolve("bin/ehframe"), Map.of());
                assertTrue(run.stdout().contains("discovery: nvml=ok"), run.toString());
            }));
        }
        return tests;
    }

    /**
     * "referenced by lea at 0x1115 with length 2": the 2 was RTLD_NOW in %esi. Outside Go programs no
     * length is ever named, and every address in evidence says what kind of address it is.
     */
    @Test
    void evidenceNamesOnlyWhatWasProven() throws Exception {
        Pattern hex = Pattern.compile("(\\S+ \\S+ )?0x[0-9a-f]+");
        int checked = 0;
        for (String arch : Fixtures.ARCHES) {
            for (String variant : Fixtures.VARIANTS) {
                for (String program : Fixtures.PROGRAMS) {
                    for (Path file : Fixtures.elfFiles(Fixtures.installDir(arch, variant, program))) {
                        ScanResult scan = scan(file);
                        for (Site s : scan.sites()) {
                            for (String e : s.evidence()) {
                                checked++;
                                if (!scan.go()) assertFalse(e.contains("length"), file + ": " + e);
                                Matcher m = hex.matcher(e);
                                while (m.find()) {
                                    String before = m.group(1) == null ? "" : m.group(1);
                                    assertTrue(before.endsWith("vaddr ") || before.endsWith("file offset "),
                                            "address without its kind in \"" + e + "\" of " + file);
                                }
                            }
                        }
                    }
                }
            }
        }
        assertTrue(checked > 50, "evidence lines checked: " + checked);
    }

    private static ScanResult scan(Path file) throws Exception {
        try (ElfFile elf = ElfFile.open(file)) {
            return SiteFinder.scan(elf, List.of(LibraryTarget.NVML));
        }
    }

    private static long knownOffset(Path file, String original) throws Exception {
        JsonNode known = Fixtures.knownAnswers(file);
        for (JsonNode s : known.get("sites")) if (s.get("original").asText().equals(original)) return s.get("offset").asLong();
        throw new AssertionError("no known site " + original + " for " + file);
    }

    private static String line(String out, String prefix) {
        return out.lines().filter(l -> l.startsWith(prefix)).findFirst().orElse("(no " + prefix + " line)");
    }
}
