package dev.ollamapatch.cli;

import dev.ollamapatch.archive.ArchiveApply;
import dev.ollamapatch.patch.FileReport;
import dev.ollamapatch.patch.PatchException;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** The archive branch of {@code apply} and {@code scan}: options in, reports and exit status out. */
final class ArchiveCommands {
    private ArchiveCommands() {}

    static int apply(ApplyCommand c, PrintWriter out, PrintWriter err) throws IOException {
        ArchiveApply.Options o = new ArchiveApply.Options(c.target, c.output, c.libraries.targets(c.shimPath), c.shim,
                c.archive.prefix, c.dryRun, c.force, c.archive.checksums, c.expectSha256);
        // A bar only for a person watching: not in CI logs, not mixed into --json output.
        boolean bar = !c.json && System.console() != null;
        List<FileReport> reports = new ArrayList<>();
        ArchiveApply.Outcome outcome;
        try {
            outcome = ArchiveApply.run(o, ArchiveApply.progress(err, c.target, bar), reports);
        } catch (PatchException e) {
            if (e.kind() == PatchException.Kind.REFUSED && !reports.isEmpty()) emit(c, out, err, reports);
            throw e;
        }
        emit(c, out, err, outcome.reports());
        for (String m : outcome.messages()) err.println("ollama-patch: " + m);
        return outcome.exitCode();
    }

    static List<FileReport> scan(Path archive, LibraryOptions libraries, ArchiveOptions options) throws IOException {
        if (options.checksums != null) dev.ollamapatch.archive.Checksums.verify(options.checksums, archive);
        return ArchiveApply.scan(archive, libraries.targets(null), options.prefix);
    }

    private static void emit(ApplyCommand c, PrintWriter out, PrintWriter err, List<FileReport> reports)
            throws IOException {
        List<String> archives = Collections.nCopies(reports.size(), c.target.toString());
        Reports.print(out, err, reports, archives, c.json, c.dryRun);
        if (c.report != null) Reports.writeJson(c.report, reports, archives, c.dryRun);
    }
}
