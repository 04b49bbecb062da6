package dev.ollamapatch.decide;

import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.plan.AlreadyPatched;
import dev.ollamapatch.plan.Plan;
import dev.ollamapatch.plan.PlanOptions;
import dev.ollamapatch.plan.PlannedSite;
import dev.ollamapatch.plan.Planner;
import dev.ollamapatch.plan.ShimCheck;
import dev.ollamapatch.site.LibraryTarget;

import java.io.IOException;

/**
 * The one per-file step: an ELF file's facts in, a {@link Decision} out. Scan, {@code apply -o},
 * {@code apply} in place and archives all call it, so a file is refused, left alone, recognised as
 * patched or planned by the same rules everywhere.
 */
public final class FileStep {
    /** Chooses the shim for one file (the user's, or the bundled one for its machine). */
    public interface ShimChooser {
        ShimSource choose(ElfFile elf) throws IOException;
    }

    /**
     * @param plan      libraries and install directory for planning
     * @param shims     the shim to check a planned file against; null for a scan (no shim, no
     *                  already-patched check)
     * @param shimAlways check the shim for every planned file, not only those that retarget NVML
     */
    public record Options(PlanOptions plan, ShimChooser shims, boolean shimAlways) {
        public static Options scan(PlanOptions plan) {
            return new Options(plan, null, false);
        }
    }

    private FileStep() {}

    public static Decision decide(ElfFile elf, Options options) throws IOException {
        Plan plan = Planner.plan(elf, options.plan());
        if (plan.isRefused()) return new Decision.Refused(plan, refusal(plan), null);
        boolean scan = options.shims() == null;
        if (!plan.hasWork()) {
            return !scan && AlreadyPatched.holds(elf, options.plan().libraries())
                    ? new Decision.AlreadyPatched(plan) : new Decision.Nothing(plan);
        }
        if (scan || !(options.shimAlways() || plan.retargets(LibraryTarget.NVML))) {
            return new Decision.Planned(plan, null, null);
        }
        ShimSource shim = options.shims().choose(elf);
        ShimCheck.Result check = shim.checkAgainst(elf);
        if (!check.ok()) {
            return new Decision.Refused(plan, "the shim cannot serve it: " + String.join("; ", check.problems()), check);
        }
        return new Decision.Planned(plan, shim, check);
    }

    /** Why a plan is refused: its first refused site. */
    private static String refusal(Plan plan) {
        PlannedSite first = plan.refused().get(0);
        return String.format("refusing to patch: %s site \"%s\" at offset 0x%x: %s", first.site().kind().label(),
                first.site().original(), first.site().offset(), first.reason());
    }
}
