package dev.ollamapatch.resolve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.patch.Cli;
import dev.ollamapatch.patch.Fixtures;
import dev.ollamapatch.plan.Action;
import dev.ollamapatch.plan.Plan;
import dev.ollamapatch.plan.PlanOptions;
import dev.ollamapatch.plan.PlannedSite;
import dev.ollamapatch.plan.Planner;
import dev.ollamapatch.site.LibraryTarget;
import dev.ollamapatch.site.SiteKind;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Whether a {@code *} globs depends on who reads the string (DESIGN.md sections 2 and 4): Go's
 * {@code filepath.Glob} expands a Go string (generation A), while {@code dlopen} opens a C string as it is.
 * So a C string with a {@code *} is a path like any other (a {@code $ORIGIN} site resolved by its caller),
 * or, where the {@code *} is in the file name, no name of the library at all; a Go glob stays a glob.
 */
class GlobConsumerTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** '*' right after the name: dlopen looks for a file called "libnvidia-ml.so.1*". */
    private static final String STAR_AFTER_NAME = "/usr/local/lib/nvidia/current/libnvidia-ml.so.1*";
    /** '*' in a directory: a literal directory name to dlopen, the file name is the library's. */
    private static final String STAR_IN_DIRECTORY = "/usr/local/lib*/nvidia/current/libnvidia-ml.so.1";

    private static final String PROGRAM = """
            #include <dlfcn.h>
            #include <stdio.h>
            int main(void) {
                void *h = dlopen("%s", RTLD_NOW);
                if (!h) h = dlopen("%s", RTLD_NOW);
                printf("handle=%%s\\n", h ? "ok" : "none");
                return 0;
            }
            """.formatted(STAR_AFTER_NAME, STAR_IN_DIRECTORY);

    @ParameterizedTest
    @ValueSource(strings = {"x86_64", "aarch64"})
    void aCStringWithAStarIsOpenedAsItIsByDlopenNeverGlobbed(String arch) throws Exception {
        try (LoaderWorld w = new LoaderWorld(arch, "cglob")) {
            Path app = w.build(w.cc(), "bin/app", PROGRAM, "-O2");
            long starAfter = LoaderWorld.offsetOf(app, STAR_AFTER_NAME);

            Cli.Result r = Cli.run("apply", w.root, "--shim", w.markerShim(w.cc()), "--json");
            assertEquals(0, r.exit(), r::toString);
            Map<String, JsonNode> sites = new HashMap<>();
            for (JsonNode f : JSON.readTree(r.out()).get("files")) {
                for (JsonNode s : f.get("sites")) sites.put(s.get("original").asText(), s);
            }
            JsonNode after = sites.get(STAR_AFTER_NAME);
            assertEquals("mention", after.get("role").asText(), after::toString);
            assertEquals("skip", after.get("action").asText(), after::toString);
            assertTrue(after.get("reason").asText().contains("which dlopen opens as it is (it never globs)"), after::toString);

            JsonNode dir = sites.get(STAR_IN_DIRECTORY);
            assertEquals("c-string", dir.get("kind").asText(), dir::toString);
            assertEquals("retarget", dir.get("action").asText(), dir::toString);
            assertTrue(dir.get("replacement").asText().endsWith("/$ORIGIN/nvml.so"), dir::toString);
            assertEquals("call", dir.get("resolution").get("how").asText(), dir::toString);

            // The '*'-named string is byte for byte as it was; the other opens the shim beside the program.
            assertEquals(starAfter, LoaderWorld.offsetOf(app, STAR_AFTER_NAME));
            LoaderWorld.Run run = w.run(app, null);
            assertEquals(List.of(w.root.resolve("bin/nvml.so")), run.loadedFiles(), run::toString);
            assertTrue(run.out().contains("handle=ok"), run::toString);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"x86_64", "aarch64"})
    void aGoGlobStaysAGlobAndGetsTheShimsAbsolutePath(String arch) throws Exception {
        Path genA = Fixtures.binary(arch, "release", "gen-a");
        try (ElfFile elf = ElfFile.open(genA)) {
            Plan plan = Planner.plan(elf, new PlanOptions(List.of(LibraryTarget.NVML), "/opt/x"));
            List<PlannedSite> globs = plan.sites().stream().filter(p -> p.action() == Action.RETARGET).toList();
            assertEquals(6, globs.size(), plan.sites()::toString);
            for (PlannedSite p : globs) {
                assertEquals(SiteKind.GO_STRING, p.site().kind(), p::toString);
                assertTrue(p.site().isGlob(), p::toString);
                assertTrue(p.site().original().endsWith("libnvidia-ml.so*"), p::toString);
                assertEquals("/opt/x/nvml.so", p.path(), p::toString);
                assertFalse(new String(p.replacement()).contains(LibraryTarget.ORIGIN), p::toString);
            }
        }
    }
}
