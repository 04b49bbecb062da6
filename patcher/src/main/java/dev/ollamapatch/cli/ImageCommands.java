package dev.ollamapatch.cli;

import dev.ollamapatch.image.ImageApply;
import dev.ollamapatch.report.ApplyOutcome;
import dev.ollamapatch.archive.Checksums;
import dev.ollamapatch.report.PatchException;
import dev.ollamapatch.report.Refusal;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Optional;

/** The container image branch of {@code apply} and {@code scan}: options in, reports and exit status out. */
final class ImageCommands {
    private ImageCommands() {}

    static int apply(ApplyCommand c, PrintWriter out, PrintWriter err) throws IOException {
        if ((c.expectSha256 != null || c.archive.checksums != null) && java.nio.file.Files.isDirectory(c.target)) {
            throw new PatchException(PatchException.Kind.USAGE, c.target + ": an OCI layout directory has no "
                    + "single SHA-256; its blobs are checked against their digests anyway");
        }
        Optional<Refusal> mismatch = c.archive.checksums != null
                ? Checksums.verify(c.archive.checksums, c.target) : Optional.empty();
        if (mismatch.isEmpty() && c.expectSha256 != null) mismatch = Checksums.expect(c.expectSha256, c.target);
        if (mismatch.isPresent()) return c.finish(out, err, null, mismatch.get().outcome());
        ImageApply.Options o = new ImageApply.Options(c.target, c.output, c.libraries.targets(c.shimPath), c.shim,
                c.dryRun, c.force, c.image.platform, Version.tool());
        ImageApply.Reports reports = new ImageApply.Reports();
        ApplyOutcome outcome = ImageApply.run(o, reports);
        if (!reports.files().isEmpty()) emit(c, out, err, reports);
        for (String m : outcome.messages()) err.println("ollama-patch: " + m);
        return ExitCodes.of(outcome.ending());
    }

    private static void emit(ApplyCommand c, PrintWriter out, PrintWriter err, ImageApply.Reports r) throws IOException {
        Reports.print(out, err, r.files(), c.json, c.dryRun);
        if (c.report != null) Reports.writeJson(c.report, r.files(), c.dryRun);
    }

    static ImageApply.Reports scan(Path image, LibraryOptions libraries, ImageOptions options) throws IOException {
        ImageApply.Reports reports = new ImageApply.Reports();
        ImageApply.scan(image, libraries.targets(null), options.platform, reports);
        return reports;
    }
}
