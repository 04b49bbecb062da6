package dev.ollamapatch.decide;

import dev.ollamapatch.plan.Plan;
import dev.ollamapatch.plan.ShimCheck;
import dev.ollamapatch.report.FileReport;
import dev.ollamapatch.report.Status;

/**
 * What {@link FileStep} decided for one ELF file. Every caller (scan, apply -o, apply in place,
 * archives) gets one of these four values and acts on it; none of them is an exception.
 */
public sealed interface Decision {
    Plan plan();

    /** The shim's check against the file, or null when no shim was involved. */
    default ShimCheck.Result shimCheck() { return null; }

    /** The report status of this decision where nothing is written (scan, dry run, no work). */
    Status status();

    /** The file's report with {@code status}, nothing written. */
    default FileReport report(String path, String sha256, Status status) {
        return new FileReport(path, sha256, plan(), null, null, status, shimCheck());
    }

    /** The file's report where nothing is written: scan ({@code scan}), dry run, refusal, no work. */
    default FileReport report(String path, String sha256, boolean scan) {
        Status s = status();
        if (scan) s = this instanceof Refused || this instanceof Planned ? Status.FOUND : Status.NOTHING_TO_PATCH;
        return report(path, sha256, s);
    }

    /**
     * Unsafe to patch. {@code reason} says why in the words every command prints after the file's
     * name: a refused site, or a shim that cannot serve the file.
     */
    record Refused(Plan plan, String reason, ShimCheck.Result shimCheck) implements Decision {
        public Status status() { return Status.REFUSED; }
    }

    /** No site names a library to retarget. */
    record Nothing(Plan plan) implements Decision {
        public Status status() { return Status.NOTHING_TO_PATCH; }
    }

    /** No site to retarget, and the file already names the shim path: patched before. */
    record AlreadyPatched(Plan plan) implements Decision {
        public Status status() { return Status.ALREADY_PATCHED; }
    }

    /**
     * Sites to retarget. {@code shim} is the shim chosen for this file (null for a scan, or when
     * no NVML site is retargeted and the shim is not needed); {@code shimCheck} its check.
     */
    record Planned(Plan plan, ShimSource shim, ShimCheck.Result shimCheck) implements Decision {
        public Status status() { return Status.PLANNED; }
    }
}
