package dev.ollamapatch.cli;

import dev.ollamapatch.archive.ArchiveFormat;
import dev.ollamapatch.decide.Decision;
import dev.ollamapatch.decide.FileStep;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfFormatException;
import dev.ollamapatch.io.Sha256;
import dev.ollamapatch.report.FileReport;
import dev.ollamapatch.report.PatchException;
import dev.ollamapatch.plan.PlanOptions;
import dev.ollamapatch.install.Targets;
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
        int invalid = 0;
        for (Path target : targets) {
            dev.ollamapatch.install.Targets.requireExists(target);
            if (ArchiveFormat.isArchive(target) && !Files.isDirectory(target)) {
                try {
                    for (FileReport entry : ArchiveCommands.scan(target, libraries, archive)) {
                        reports.add(entry.inArchive(target.toString()));
                    }
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
                    Decision d = FileStep.decide(elf,
                            FileStep.Options.scan(new PlanOptions(libraries.targets(null), dir.toString())));
                    reports.add(d.report(file.toString(), Sha256.of(elf.bytes()).hex(), true));
                } catch (ElfFormatException e) {
                    Reports.error(spec.commandLine().getErr(), file + ": " + e.getMessage());
                    invalid++;
                }
            }
        }
        Reports.print(spec.commandLine().getOut(), spec.commandLine().getErr(), reports, json, true);
        if (invalid > 0) return ExitCodes.INVALID_INPUT;
        boolean any = reports.stream().anyMatch(r -> r.plan().hasWork() || r.plan().isRefused());
        return any ? ExitCodes.OK : ExitCodes.NOTHING_TO_PATCH;
    }
}
