package dev.ollamapatch.cli;

import dev.ollamapatch.archive.ArchiveFormat;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfFormatException;
import dev.ollamapatch.install.Identities;
import dev.ollamapatch.ollama.Identity;
import dev.ollamapatch.patch.Digests;
import dev.ollamapatch.patch.LibraryTarget;
import dev.ollamapatch.patch.FilePatcher;
import dev.ollamapatch.patch.FileReport;
import dev.ollamapatch.patch.PatchException;
import dev.ollamapatch.patch.Plan;
import dev.ollamapatch.patch.PlanOptions;
import dev.ollamapatch.patch.Targets;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code scan TARGET...}: where each file names the library, and what apply would do. Writes nothing. */
@Command(name = "scan", mixinStandardHelpOptions = true,
        description = "Find every site that names NVML (and --lib libraries) and report what apply would do.")
final class ScanCommand implements Callable<Integer> {
    @Parameters(paramLabel = "TARGET", arity = "1..*", description = "ELF file or install directory")
    List<Path> targets;

    @Option(names = "--json", description = "print one JSON document on stdout")
    boolean json;

    @Mixin
    LibraryOptions libraries;

    @Mixin
    ArchiveOptions archive;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        List<FileReport> reports = new ArrayList<>();
        List<String> archives = new ArrayList<>();
        int invalid = 0;
        for (Path target : targets) {
            if (!Files.exists(target)) {
                throw new PatchException(PatchException.Kind.USAGE, target + ": no such file or directory");
            }
            if (ArchiveFormat.isArchive(target) && !Files.isDirectory(target)) {
                try {
                    List<FileReport> entries = ArchiveCommands.scan(target, libraries, archive);
                    reports.addAll(entries);
                    entries.forEach(e -> archives.add(target.toString()));
                } catch (PatchException e) {
                    if (e.kind() != PatchException.Kind.INVALID_INPUT) throw e;
                    Reports.error(spec.commandLine().getErr(), e.getMessage());
                    invalid++;
                }
                continue;
            }
            List<Path> files = Files.isDirectory(target) ? Targets.elfFilesOf(target) : List.of(target);
            for (Path file : files) {
                try (ElfFile elf = ElfFile.open(file)) {
                    Path dir = file.toAbsolutePath().getParent();
                    List<LibraryTarget> libs = libraries.targets(null);
                    Plan plan = FilePatcher.plan(elf, new PlanOptions(libs, dir.toString()));
                    String sha = Digests.sha256(elf.bytes());
                    Identity id = Identities.of(elf, file, plan.scan(), sha, libs);
                    reports.add(new FileReport(file.toString(), sha, plan, null, null, status(plan, id), null, id));
                    archives.add(null);
                } catch (ElfFormatException e) {
                    Reports.error(spec.commandLine().getErr(), file + ": " + e.getMessage());
                    invalid++;
                }
            }
        }
        Reports.print(spec.commandLine().getOut(), spec.commandLine().getErr(), reports, archives, json, true);
        for (FileReport r : reports) {
            if (r.identity() != null && r.identity().withoutNvml() && !r.plan().hasWork()) {
                Reports.error(spec.commandLine().getErr(), r.path() + ": " + r.identity().withoutNvmlLine());
            }
        }
        return exitCode(reports, invalid);
    }

    /** One word per file: refused, found (sites to retarget), already-patched, or nothing-to-patch. */
    static String status(Plan plan, Identity id) {
        if (plan.isRefused()) return "refused";
        if (plan.hasWork()) return "found";
        return id != null && id.patched().patched() ? "already-patched" : "nothing-to-patch";
    }

    /** 4 for an invalid input, 5 when a refusal is reported, 0 for sites or patched files, else 3. */
    static int exitCode(List<FileReport> reports, int invalid) {
        if (invalid > 0) return ExitCodes.INVALID_INPUT;
        if (reports.stream().anyMatch(r -> r.plan().isRefused())) return ExitCodes.REFUSED;
        boolean any = reports.stream().anyMatch(r -> r.plan().hasWork() || "already-patched".equals(r.status()));
        return any ? ExitCodes.OK : ExitCodes.NOTHING_TO_PATCH;
    }
}
