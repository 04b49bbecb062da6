package dev.ollamapatch.report;

import dev.ollamapatch.plan.Plan;
import dev.ollamapatch.plan.ShimCheck;
/**
 * What happened to one file, for reports.
 *
 * @param path          the file as the user named it (or the archive entry)
 * @param sha256        SHA-256 of the input
 * @param plan          the plan (its scan holds the machine and the sites)
 * @param output        where the patched file went, or null (scan, dry run, nothing to do)
 * @param patchedSha256 SHA-256 of the written output, or null
 * @param status        what became of it
 * @param shim          the shim's check against this file, or null when no shim is involved
 * @param archive       the archive the file is an entry of, or null for a plain file
 */
public record FileReport(String path, String sha256, Plan plan, String output, String patchedSha256, Status status,
                         ShimCheck.Result shim, String archive) {
    public FileReport(String path, String sha256, Plan plan, String output, String patchedSha256, Status status,
                      ShimCheck.Result shim) {
        this(path, sha256, plan, output, patchedSha256, status, shim, null);
    }

    public FileReport(String path, String sha256, Plan plan, String output, String patchedSha256, Status status) {
        this(path, sha256, plan, output, patchedSha256, status, null);
    }

    /** This report as an entry of {@code archive}. */
    public FileReport inArchive(String archive) {
        return new FileReport(path, sha256, plan, output, patchedSha256, status, shim, archive);
    }
}
