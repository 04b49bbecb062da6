package dev.ollamapatch.cli;

import dev.ollamapatch.report.PatchException;
import dev.ollamapatch.archive.ArchiveApply;
import dev.ollamapatch.archive.Checksums;
import dev.ollamapatch.report.FileReport;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;

/** The archive branch of {@code apply} and {@code scan}: options in, reports and exit status out. */
final class ArchiveCommands {
    private ArchiveCommands() {}

    static int apply(ApplyCommand c, PrintWriter out, PrintWriter err) throws IOException {
        if (!c.libraries.libFiles.isEmpty()) {
            // Not silently ignored: an archive gets the shim entry only; its libraries are not added yet.
            throw new PatchException(PatchException.Kind.USAGE, "--lib-file is not supported for archives; "
                    + "extract the archive and apply the install directory, or give --lib NAME=PATH to a file you add");
        }
        ArchiveApply.Options o = new ArchiveApply.Options(c.target, c.output, c.libraries.targets(c.shimPath), c.shim,
                c.archive.prefix, c.dryRun, c.force, c.archive.checksums, c.expectSha256);
        // A bar only for a person watching: not in CI logs, not mixed into --json output.
        boolean bar = !c.json && System.console() != null;
        return c.finish(out, err, c.target.toString(), ArchiveApply.run(o, ArchiveApply.progress(err, c.target, bar)));
    }

    /** The archive's entries' reports; {@code --checksums} is checked first ({@link Checksums#verify}). */
    static List<FileReport> scan(Path archive, LibraryOptions libraries, ArchiveOptions options) throws IOException {
        return ArchiveApply.scan(archive, libraries.targets(null), options.prefix);
    }
}
