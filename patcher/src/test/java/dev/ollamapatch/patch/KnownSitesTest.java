package dev.ollamapatch.patch;

import dev.ollamapatch.site.LibraryTarget;
import dev.ollamapatch.site.ScanResult;
import dev.ollamapatch.site.Site;
import dev.ollamapatch.site.SiteFinder;
import com.fasterxml.jackson.databind.JsonNode;
import dev.ollamapatch.elf.ElfFile;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The site finder against the fixtures' known answers, which the fixtures derive independently (from
 * the running program's own string addresses): every fixture, both architectures, release and debug.
 */
class KnownSitesTest {

    @TestFactory
    List<DynamicTest> sitesFoundEqualTheKnownAnswers() throws Exception {
        List<DynamicTest> tests = new ArrayList<>();
        for (String arch : Fixtures.ARCHES) {
            for (String variant : Fixtures.VARIANTS) {
                for (String program : Fixtures.PROGRAMS) {
                    List<Path> files = Fixtures.elfFiles(Fixtures.installDir(arch, variant, program));
                    assertFalse(files.isEmpty(), "no known answers under " + program);
                    for (Path file : files) {
                        tests.add(DynamicTest.dynamicTest(arch + "/" + variant + "/" + program + "/" + file.getFileName(),
                                () -> check(file)));
                    }
                }
            }
        }
        assertTrue(tests.size() >= 24, "expected every fixture file, found " + tests.size());
        return tests;
    }

    private static void check(Path file) throws Exception {
        JsonNode known = Fixtures.knownAnswers(file);
        List<LibraryTarget> libs = List.of(LibraryTarget.NVML, LibraryTarget.parse("libcuda.so.1"));
        try (ElfFile elf = ElfFile.open(file)) {
            ScanResult scan = SiteFinder.scan(elf, libs);
            Set<String> expected = new TreeSet<>();
            for (JsonNode s : known.get("sites")) {
                expected.add(describe(s.get("offset").asLong(), s.get("length").asInt(), s.get("kind").asText(),
                        s.get("original").asText(), s.path("lib").asText("libnvidia-ml.so.1")));
            }
            Set<String> found = scan.locators().stream()
                    .map(s -> describe(s.offset(), s.length(), s.kind().label(), s.original(), s.library().name()))
                    .collect(Collectors.toCollection(TreeSet::new));
            assertEquals(expected, found, "locator sites of " + file);
            assertTrue(scan.conflicts().isEmpty(), "no conflicts expected in " + file + ": " + scan.conflicts());

            // Inner references of tail-merged strings are found too.
            for (JsonNode s : known.get("sites")) {
                if (!s.has("inner_refs")) continue;
                Site site = scan.locators().stream().filter(x -> x.offset() == s.get("offset").asLong()).findFirst()
                        .orElseThrow();
                for (JsonNode r : s.get("inner_refs")) {
                    assertTrue(site.innerRefs().contains(r.asLong()),
                            "inner reference at " + r + " of " + site + " in " + file);
                }
            }
            // Mentions and other forms of the name are never locators.
            for (String list : List.of("mentions", "other_names")) {
                for (JsonNode m : known.path(list)) {
                    long off = m.get("offset").asLong();
                    for (Site s : scan.locators()) {
                        assertFalse(off >= s.offset() && off < s.end(),
                                list + " at " + off + " lies in locator " + s + " in " + file);
                    }
                }
            }
        }
    }

    private static String describe(long offset, int length, String kind, String original, String lib) {
        return String.format("%d+%d %s %s (%s)", offset, length, kind, original, lib);
    }
}
