package dev.ollamapatch.patch;

import dev.ollamapatch.plan.Planner;
import dev.ollamapatch.decide.ShimSource;
import dev.ollamapatch.io.Sha256;
import dev.ollamapatch.plan.Plan;
import dev.ollamapatch.plan.PlanOptions;
import dev.ollamapatch.plan.PlannedSite;
import dev.ollamapatch.plan.ShimCheck;
import dev.ollamapatch.report.FileReport;
import dev.ollamapatch.report.Json;
import dev.ollamapatch.report.JsonReport;
import dev.ollamapatch.report.PatchException;
import dev.ollamapatch.report.Status;
import dev.ollamapatch.report.TextReport;
import dev.ollamapatch.site.LibraryTarget;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.ollamapatch.elf.ByteSource;
import dev.ollamapatch.elf.EditedCopy;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfFormatException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.util.List;

/**
 * Fuzz target for the site finder, the planner and the dry-run report (text and JSON), the path
 * {@code scan} and {@code apply --dry-run} take through a file. Any input either yields a plan and
 * a report or fails with {@link ElfFormatException} or {@link PatchException}; anything else, a
 * hang or an OutOfMemoryError is a finding. A plan's edits must also be applicable: inside the
 * file, non-overlapping, never writing a NUL into a site.
 *
 * <p>Regression corpus: {@code src/test/resources/dev/ollamapatch/patch/SiteFinderFuzzTestInputs/scanPlanReport/}.
 */
class SiteFinderFuzzTest {
    private static final List<LibraryTarget> LIBS =
            LibraryTarget.nvmlPlus(List.of(LibraryTarget.parse("libcuda.so.1")));

    @FuzzTest(maxDuration = "60s")
    void scanPlanReport(byte[] input) {
        try (ElfFile elf = ElfFile.parse(ByteSource.of(input))) {
            Plan plan = Planner.plan(elf, new PlanOptions(LIBS, "/opt/ollama/bin"));
            String sha = Sha256.of(elf.bytes()).hex();
            ShimCheck.Result check = null;
            if (plan.hasWork() && !plan.isRefused()) {
                check = ShimSource.choose(null, elf).checkAgainst(elf);
            }
            List<FileReport> reports = List.of(new FileReport("fuzz", sha, plan, null, null, Status.PLANNED, check));
            TextReport.render(reports, true);
            Json.MAPPER.writeValueAsString(JsonReport.build(reports, "fuzz", true));
            if (!plan.isRefused()) {
                EditedCopy.write(elf.bytes(), plan.edits(), DISCARD);
                for (PlannedSite p : plan.retargeted()) {
                    for (byte b : p.replacement()) {
                        if (b == 0) throw new AssertionError("a replacement writes a NUL: " + p);
                    }
                }
            }
        } catch (ElfFormatException | PatchException expected) {
            String m = expected.getMessage();
            if (m == null || m.isBlank() || m.contains("\n")) {
                throw new AssertionError("error without a one-line message: " + m, expected);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static final WritableByteChannel DISCARD = new WritableByteChannel() {
        @Override public int write(ByteBuffer src) { int n = src.remaining(); src.position(src.limit()); return n; }
        @Override public boolean isOpen() { return true; }
        @Override public void close() { }
    };
}
