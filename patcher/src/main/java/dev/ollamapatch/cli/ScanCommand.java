package dev.ollamapatch.cli;

import dev.ollamapatch.archive.ArchiveFormat;
import dev.ollamapatch.decide.Decision;
import dev.ollamapatch.decide.FilePasses;
import dev.ollamapatch.decide.FileStep;
import dev.ollamapatch.image.ImageApply;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfFormatException;
import dev.ollamapatch.io.Sha256;
import dev.ollamapatch.report.FileReport;
import dev.ollamapatch.report.PatchException;
import dev.ollamapatch.plan.PlanOptions;
import dev.ollamapatch.install.Targets;
import dev.ollamapatch.resolve.InstallResolutions;
import dev.ollamapatch.install.Identities;
import dev.ollamapatch.ollama.Identity;
import dev.ollamapatch.report.Status;
import dev.ollamapatch.site.LibraryTarget;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code scan TARGET...}: where each file names the library, and what apply would do. Writes nothing. */
@Command(name = "scan", mixinStandardHelpOptions = true,
        footerHeading = "%nExamples:%n",
        footer = {"  ollama-patch scan /usr/local/bin/ollama", "  ollama-patch scan /usr/local --json", "  ollama-patch scan ollama-linux-amd64.tar.zst"},
        description = "Find every site that names NVML (and --lib libraries) and report what apply would do.")
final class ScanCommand implements Callable<Integer> {
    @Parameters(paramLabel = "TARGET", arity = "1..*", description = "ELF file, install directory, release archive or container image")
    List<Path> targets;

    @Option(names = "--json", description = "print one JSON document on stdout")
    boolean json;

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

    /** Where the loader looks for each site, over all files of the target; null when one of them is not valid ELF (reported per file). */
    private static InstallResolutions resolutionsOf(List<Path> files) throws IOException {
        try {
            return InstallResolutions.of(files);
        } catch (ElfFormatException e) {
            return null;
        }
    }

    @Override
    public Integer call() throws IOException {
        List<FileReport> reports = new ArrayList<>();
        int invalid = 0;
        for (Path target : targets) {
            dev.ollamapatch.install.Targets.requireExists(target);
            if (ImageApply.isImage(target)) {
                try {
                    ImageApply.Reports r = ImageCommands.scan(target, libraries, image);
                    reports.addAll(r.files());
                } catch (PatchException e) {
                    if (e.kind() != PatchException.Kind.INVALID_INPUT) throw e;
                    Reports.error(err(), e.getMessage());
                    invalid++;
                }
                continue;
            }
            if (ArchiveFormat.isArchive(target) && !Files.isDirectory(target)) {
                if (archive.checksums != null) {
                    var mismatch = dev.ollamapatch.archive.Checksums.verify(archive.checksums, target);
                    if (mismatch.isPresent()) {
                        return Reports.failure(out(), err(), json,
                                mismatch.get().outcome().messages().get(0), ExitCodes.of(mismatch.get().ending()));
                    }
                }
                try {
                    for (FileReport entry : ArchiveCommands.scan(target, libraries, archive)) {
                        reports.add(entry.inArchive(target.toString()));
                    }
                } catch (PatchException e) {
                    if (e.kind() != PatchException.Kind.INVALID_INPUT) throw e;
                    Reports.error(err(), e.getMessage());
                    invalid++;
                }
                continue;
            }
            List<Path> files = Files.isDirectory(target) ? Targets.elfFilesOf(target) : List.of(target);
            // Each file is read once, ahead on two threads: its SHA-256 and which names it holds at all.
            List<LibraryTarget> libs = files.isEmpty() ? List.of() : libraries.targets(null);
            List<byte[]> needles = FilePasses.needles(libs);
            List<byte[]> located = FilePasses.located(libs);
            // A single file's decision need not wait for its hash: the census is read first, the hash after.
            try (FilePasses passes = files.size() == 1 ? FilePasses.startCensusFirst(files.get(0), needles, located)
                    : FilePasses.start(files, needles, located, f -> true)) {
            InstallResolutions resolutions = resolutionsOf(files);
            // A file that names a library will need its dlopen calls: found on a reading thread meanwhile.
            if (resolutions != null) passes.whenLocated(resolutions::warm);
            for (Path file : files) {
                try (ElfFile elf = ElfFile.open(file)) {
                    FilePasses.Pass pass = passes.take(file, elf);
                    Path dir = file.toAbsolutePath().getParent();
                    Decision d = FileStep.decide(elf, FileStep.Options.scan(new PlanOptions(libs, dir.toString(),
                            resolutions == null ? null : resolutions.forFile(file))));
                    String sha = pass != null && pass.sha256() != null ? pass.sha256() : Sha256.of(elf.bytes()).hex();
                    Identity id = Identities.of(elf, file, d.plan().scan(), sha, libs);
                    reports.add(d.report(file.toString(), sha, status(d, id)).withIdentity(id));
                } catch (ElfFormatException e) {
                    Reports.error(err(), file + ": " + e.getMessage());
                    invalid++;
                }
            }
            if (resolutions != null) resolutions.close();
            }
        }
        Reports.print(out(), err(), reports, json, true);
        for (FileReport r : reports) {
            if (r.identity() != null && r.identity().withoutNvml() && !r.plan().hasWork()) {
                Reports.error(err(), r.path() + ": " + r.identity().withoutNvmlLine());
            }
            if (r.plan().isRefused()) {
                // The exit status says "refused"; one line names the file and why, as for every failure.
                int n = r.plan().refused().size();
                Reports.error(err(), r.path() + ": " + n + " site" + (n == 1 ? "" : "s")
                        + " cannot be retargeted safely (REFUSED in the report): " + r.plan().refused().get(0).reason());
            }
        }
        return exitCode(reports, invalid);
    }

    /** What scan says of a file: refused, found (sites to retarget), already patched, or nothing to patch. */
    static Status status(Decision d, Identity id) {
        if (d instanceof Decision.Refused) return Status.REFUSED;
        if (d instanceof Decision.Planned) return Status.FOUND;
        return d instanceof Decision.AlreadyPatched || id.patched().patched() ? Status.ALREADY_PATCHED
                : Status.NOTHING_TO_PATCH;
    }

    /** 4 for an invalid input, 5 when a refusal is reported, 0 for sites or patched files, else 3. */
    static int exitCode(List<FileReport> reports, int invalid) {
        if (invalid > 0) return ExitCodes.INVALID_INPUT;
        if (reports.stream().anyMatch(r -> r.plan().isRefused())) return ExitCodes.REFUSED;
        boolean any = reports.stream().anyMatch(r -> r.plan().hasWork() || r.status() == Status.ALREADY_PATCHED);
        return any ? ExitCodes.OK : ExitCodes.NOTHING_TO_PATCH;
    }
}
