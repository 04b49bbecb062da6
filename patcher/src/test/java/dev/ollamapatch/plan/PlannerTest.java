package dev.ollamapatch.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ollamapatch.site.LibraryTarget;
import dev.ollamapatch.site.Role;
import dev.ollamapatch.site.ScanResult;
import dev.ollamapatch.site.Site;
import dev.ollamapatch.site.SiteKind;
import org.junit.jupiter.api.Test;

import java.util.List;

/** Planning from hand-made scans: no file involved. */
class PlannerTest {
    private static final LibraryTarget CUDA = LibraryTarget.parse("libcuda.so.1");

    private static Site site(long offset, String text, LibraryTarget lib, Role role, List<Long> innerRefs, String reason) {
        return new Site(offset, text.length(), 0x400000 + offset, ".rodata", SiteKind.C_STRING, text, lib, role,
                List.of("NUL-terminated"), innerRefs, reason);
    }

    private static Site locator(long offset, String text) {
        return site(offset, text, LibraryTarget.NVML, Role.LOCATOR, List.of(), null);
    }

    /** A Go string (generation A's globs are Go literals that filepath.Glob expands). */
    private static Site goLocator(long offset, String text) {
        return new Site(offset, text.length(), 0x400000 + offset, ".rodata", SiteKind.GO_STRING, text, LibraryTarget.NVML,
                Role.LOCATOR, List.of("string header at 0x500000"), List.of(), null);
    }

    private static PlannedSite planOne(Site s, PlanOptions o) {
        Plan plan = Planner.plan(new ScanResult("x86_64", false, "x86-64 lea", List.of(s)), o);
        assertEquals(1, plan.sites().size());
        return plan.sites().get(0);
    }

    private static PlanOptions nvml(String installDir) {
        return new PlanOptions(List.of(LibraryTarget.NVML), installDir);
    }

    @Test
    void aLocatorIsRetargetedToTheShimBesideTheFile() {
        PlannedSite p = planOne(locator(0x100, "libnvidia-ml.so.1"), nvml("/opt/ollama/bin"));
        assertEquals(Action.RETARGET, p.action());
        assertEquals("//$ORIGIN/nvml.so", p.replacementText());
        assertEquals("$ORIGIN/nvml.so", p.path());
        assertNull(p.reason());
    }

    @Test
    void mentionsAndUnprovenStringsAreSkippedWithTheFindersReason() {
        PlannedSite p = planOne(site(0, "unable to load libnvidia-ml: %s", LibraryTarget.NVML, Role.MENTION, List.of(),
                "a message"), nvml(null));
        assertEquals(Action.SKIP, p.action());
        assertEquals("a message", p.reason());
        assertEquals("unable to load libnvidia-ml: %s", p.replacementText(), "a skipped site keeps its bytes");
        assertEquals(Action.SKIP, planOne(site(0, "libnvidia-ml.so", LibraryTarget.NVML, Role.UNPROVEN, List.of(),
                "no reference"), nvml(null)).action());
    }

    @Test
    void aConflictIsRefused() {
        PlannedSite p = planOne(site(0, "libnvidia-ml.so.1", LibraryTarget.NVML, Role.CONFLICT, List.of(),
                "shared with another site"), nvml(null));
        assertEquals(Action.REFUSE, p.action());
        assertEquals("shared with another site", p.reason());
    }

    @Test
    void aSiteShorterThanThePathIsRefusedNamingTheLongestThatFits() {
        PlannedSite p = planOne(locator(0x10, "libnvidia-ml.so.1"),
                new PlanOptions(List.of(LibraryTarget.NVML.withPath("$ORIGIN/../lib/ollama/nvml.so")), null));
        assertEquals(Action.REFUSE, p.action());
        assertEquals("site at file offset 0x10 is 17 bytes but the path \"$ORIGIN/../lib/ollama/nvml.so\" needs 29; "
                + "the longest path that fits is 17 bytes (choose one with --shim-path)", p.reason());
    }

    @Test
    void anotherLibrarySaysHowToChooseItsPath() {
        Site s = site(0x10, "libcuda.so.1", CUDA, Role.LOCATOR, List.of(), null);
        PlannedSite p = planOne(s, new PlanOptions(List.of(LibraryTarget.NVML, CUDA.withPath("/a/very/long/path/cuda.so")), null));
        assertEquals(Action.REFUSE, p.action());
        assertTrue(p.reason().endsWith("(choose one with --lib libcuda.so.1=PATH)"), p.reason());
        Site longer = site(0x10, "/usr/lib/libcuda.so.1", CUDA, Role.LOCATOR, List.of(), null);
        assertEquals("/////////$ORIGIN/cuda", planOne(longer, new PlanOptions(List.of(CUDA), null)).replacementText(),
                "libcuda.so.1 gets $ORIGIN/cuda: it fits the bare name too");
    }

    @Test
    void aReferenceIntoTheLastBytesOfThePathIsRefused() {
        // 17-byte site, 15-byte path: starts at offset+0..+2 read the path; +3 and later do not.
        PlannedSite ok = planOne(site(0x100, "libnvidia-ml.so.1", LibraryTarget.NVML, Role.LOCATOR, List.of(0x102L), null),
                nvml(null));
        assertEquals(Action.RETARGET, ok.action());
        PlannedSite bad = planOne(site(0x100, "libnvidia-ml.so.1", LibraryTarget.NVML, Role.LOCATOR, List.of(0x103L), null),
                nvml(null));
        assertEquals(Action.REFUSE, bad.action());
        assertTrue(bad.reason().startsWith("a reference points at file offset 0x103, 3 bytes into the string"), bad.reason());
        assertTrue(bad.reason().endsWith("The longest path that keeps it valid is 14 bytes"), bad.reason());
    }

    @Test
    void aGlobGetsTheShimsAbsolutePathBecauseGoDoesNotExpandOrigin() {
        String glob = "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so*";
        PlannedSite p = planOne(goLocator(0, glob), nvml("/opt/ollama/bin"));
        assertEquals(Action.RETARGET, p.action());
        assertEquals("/opt/ollama/bin/nvml.so", p.path());
        assertEquals(glob.length(), p.replacementText().length());
        assertTrue(p.replacementText().endsWith("/opt/ollama/bin/nvml.so"));
        assertEquals("glob pattern: absolute path of the installed shim", p.reason());
    }

    @Test
    void aGlobWithoutAKnownInstallDirectoryIsRefused() {
        PlannedSite p = planOne(goLocator(0, "/usr/lib*/libnvidia-ml.so*"), nvml(null));
        assertEquals(Action.REFUSE, p.action());
        assertTrue(p.reason().startsWith("glob pattern, expanded by Go which does not know $ORIGIN"), p.reason());
    }

    @Test
    void aCStringWithAStarIsAPathForDlopenNotAGlob() {
        PlannedSite p = planOne(locator(0, "/usr/local/lib*/nvidia/current/libnvidia-ml.so.1"), nvml("/opt/ollama/bin"));
        assertEquals(Action.RETARGET, p.action());
        assertEquals("$ORIGIN/nvml.so", p.path());
        assertTrue(!p.site().isGlob());
    }

    @Test
    void aPlanListsItsSitesByAction() {
        Plan plan = Planner.plan(new ScanResult("x86_64", true, "x86-64 lea", List.of(
                locator(0x10, "libnvidia-ml.so.1"),
                site(0x40, "libnvidia-ml: %s", LibraryTarget.NVML, Role.MENTION, List.of(), "message"),
                site(0x80, "libnvidia-ml.so.1", LibraryTarget.NVML, Role.CONFLICT, List.of(), "conflict"))), nvml(null));
        assertEquals(1, plan.retargeted().size());
        assertEquals(1, plan.skipped().size());
        assertEquals(1, plan.refused().size());
        assertTrue(plan.isRefused());
        assertTrue(plan.hasWork());
        assertTrue(plan.retargets(LibraryTarget.NVML));
        assertEquals(0x10, plan.edits().get(0).offset());
    }
}
