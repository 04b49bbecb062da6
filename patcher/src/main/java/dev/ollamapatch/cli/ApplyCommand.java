package dev.ollamapatch.cli;

import dev.ollamapatch.archive.ArchiveFormat;
import dev.ollamapatch.archive.Checksums;
import dev.ollamapatch.image.ImageApply;
import dev.ollamapatch.install.CopyApply;
import dev.ollamapatch.install.InPlaceApply;
import dev.ollamapatch.install.InstallLayout;
import dev.ollamapatch.report.ApplyOutcome;
import dev.ollamapatch.report.FileReport;
import dev.ollamapatch.report.PatchException;
import dev.ollamapatch.report.Refusal;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;

/**
 * {@code apply TARGET -o OUT}: a patched, verified copy at OUT with the shim beside it; without
 * {@code -o}, patch TARGET (a file or an install) in place as one transaction.
 */
@Command(name = "apply", mixinStandardHelpOptions = true,
        description = "Retarget the NVML sites of TARGET to the shim and install the shim beside the result.",
        footerHeading = "%nExamples:%n",
        footer = {"  sudo ollama-patch apply /usr/local                  # bin/ollama and lib/ollama/** in place",
                "  ollama-patch apply --dry-run /usr/local/bin/ollama  # what would change, writing nothing",
                "  ollama-patch apply ollama -o /opt/o/ollama           # a patched copy, shim beside it",
                "  ollama-patch apply ollama-linux-amd64.tgz -o patched.tgz --report report.json"})
final class ApplyCommand implements Callable<Integer> {
    @Parameters(paramLabel = "TARGET", description = "ELF file, install directory (in place without -o), "
            + "release archive (.tgz, .tar.gz, .tar, .tar.zst; -o required), "
            + "or container image (docker save tarball, OCI layout directory or tarball; -o required)")
    Path target;

    @Option(names = {"-o", "--output"}, paramLabel = "OUT", description = "write the patched copy here")
    Path output;

    @Option(names = "--shim", paramLabel = "FILE", description = "shim to install (default: the bundled one)")
    Path shim;

    @Option(names = "--shim-path", paramLabel = "PATH",
            description = "path written into the binary (default: $ORIGIN/nvml.so)")
    String shimPath;

    @Option(names = "--dry-run", description = "report what would change; write nothing")
    boolean dryRun;

    @Option(names = "--json", description = "print one JSON document on stdout")
    boolean json;

    @Option(names = {"-q", "--quiet"}, description = "print nothing when the apply succeeds or finds the target "
            + "already patched (for systemd's ExecStartPre=, see 'service'); failures and refusals still print their line")
    boolean quiet;

    @Option(names = "--report", paramLabel = "FILE", description = "also write the JSON report to FILE")
    Path report;

    @Option(names = "--expect-sha256", paramLabel = "HEX", description = "refuse unless the input has this SHA-256")
    String expectSha256;

    @Option(names = "--force", description = "re-target an already patched target to another path, "
            + "or replace a different file where the shim goes")
    boolean force;

    @Option(names = "--allow-outside", description = "install the shim even where its directory is reached "
            + "through a symbolic link that leads outside the target's tree")
    boolean allowOutside;

    @Mixin
    LibraryOptions libraries;

    @Mixin
    ArchiveOptions archive;

    @Mixin
    ImageOptions image;

    @Spec
    CommandSpec spec;

    /** The streams when run without picocli ({@link PlainCommandLine}); else picocli's. */
    PrintWriter out, err;

    private PrintWriter out() {
        return spec != null ? spec.commandLine().getOut() : out;
    }

    private PrintWriter err() {
        return spec != null ? spec.commandLine().getErr() : err;
    }

    @Override
    public Integer call() throws IOException {
        PrintWriter out = out();
        PrintWriter err = err();
        dev.ollamapatch.install.Targets.requireExists(target);
        if (ImageApply.isImage(target)) return ImageCommands.apply(this, out, err);
        if (ArchiveFormat.isArchive(target) && !Files.isDirectory(target)) return ArchiveCommands.apply(this, out, err);
        if (archive.checksums != null) {
            Optional<Refusal> mismatch = Checksums.verify(archive.checksums, target);
            if (mismatch.isPresent()) return finish(out, err, null, mismatch.get().outcome());
        }
        if (output == null) {
            return inPlace(out, err);
        }
        CopyApply.Options o = new CopyApply.Options(libraries.targets(shimPath), shim, dryRun, expectSha256,
                allowOutside);
        return finish(out, err, null, CopyApply.run(target, output, o));
    }

    /**
     * {@code apply --quiet TARGET} in place, the command line the systemd drop-in runs before every
     * start of Ollama, without picocli's model of this command (reflection on its options and
     * mixins: most of the start-up of an apply that finds everything already patched). Null when
     * TARGET is a release archive or a container image: the command line then goes through picocli.
     */
    static Integer quietInPlace(Path target, PrintWriter out, PrintWriter err) throws IOException {
        dev.ollamapatch.install.Targets.requireExists(target);
        if (ImageApply.isImage(target) || (ArchiveFormat.isArchive(target) && !Files.isDirectory(target))) return null;
        ApplyCommand c = new ApplyCommand();
        c.target = target;
        c.quiet = true;
        c.libraries = new LibraryOptions();
        return c.inPlace(out, err);
    }

    private int inPlace(PrintWriter out, PrintWriter err) throws IOException {
        InPlaceApply.Options o = new InPlaceApply.Options(libraries.targets(shimPath), shim, dryRun, force,
                expectSha256, Version.tool(), allowOutside, !quiet || report != null);
        return finish(out, err, null, InPlaceApply.run(InstallLayout.of(target), o));
    }

    /**
     * Tells the user how an apply ended: the reports, then the outcome's lines on stderr; returns
     * the exit status. {@code archive}: the archive the reports' entries came from, or null.
     */
    int finish(PrintWriter out, PrintWriter err, String archive, ApplyOutcome outcome) throws IOException {
        if (outcome.stopped()) {
            // Before any file: told as a failure is, with no report.
            return Reports.failure(out, err, json, outcome.messages().get(0), ExitCodes.of(outcome.ending()));
        }
        List<FileReport> reports = archive == null ? outcome.reports()
                : outcome.reports().stream().map(r -> r.inArchive(archive)).toList();
        if (quiet && outcome.ending() == ApplyOutcome.Ending.DONE) {
            if (report != null) emit(Reports.NOWHERE, Reports.NOWHERE, reports);
            return ExitCodes.OK;
        }
        int exit = ExitCodes.of(outcome.ending());
        if (!reports.isEmpty()) {
            emit(out, err, reports);
        } else if (json) {
            // No file got as far as a report: --json still answers with one document.
            out.println(exit == ExitCodes.OK ? Reports.jsonText(reports, dryRun)
                    : Reports.errorJson(String.join("; ", outcome.messages()), exit));
            out.flush();
        }
        for (String m : outcome.messages()) err.println("ollama-patch: " + m);
        return exit;
    }

    private void emit(PrintWriter out, PrintWriter err, List<FileReport> reports) throws IOException {
        Reports.print(out, err, reports, json, dryRun);
        if (report != null) Reports.writeJson(report, reports, dryRun);
    }
}
