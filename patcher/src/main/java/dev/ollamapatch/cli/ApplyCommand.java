package dev.ollamapatch.cli;

import dev.ollamapatch.archive.ArchiveFormat;
import dev.ollamapatch.archive.Checksums;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfFormatException;
import dev.ollamapatch.install.InPlaceApply;
import dev.ollamapatch.install.InstallLayout;
import dev.ollamapatch.install.InstallSafety;
import dev.ollamapatch.patch.AlreadyPatched;
import dev.ollamapatch.patch.AtomicFiles;
import dev.ollamapatch.patch.Digests;
import dev.ollamapatch.patch.FilePatcher;
import dev.ollamapatch.patch.FileReport;
import dev.ollamapatch.patch.LibraryTarget;
import dev.ollamapatch.patch.PatchException;
import dev.ollamapatch.patch.Plan;
import dev.ollamapatch.patch.PlanOptions;
import dev.ollamapatch.patch.PlannedSite;
import dev.ollamapatch.patch.ShimCheck;
import dev.ollamapatch.patch.ShimSource;
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
import java.util.concurrent.Callable;

/**
 * {@code apply TARGET -o OUT}: a patched, verified copy at OUT with the shim beside it; without
 * {@code -o}, patch TARGET (a file or an install) in place as one transaction.
 */
@Command(name = "apply", mixinStandardHelpOptions = true,
        description = "Retarget the NVML sites of TARGET to the shim and install the shim beside the result.")
final class ApplyCommand implements Callable<Integer> {
    @Parameters(paramLabel = "TARGET", description = "ELF file, install directory (in place without -o), "
            + "or release archive (.tgz, .tar.gz, .tar, .tar.zst; -o required)")
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

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (!Files.exists(target)) {
            throw new PatchException(PatchException.Kind.USAGE, target + ": no such file");
        }
        if (ArchiveFormat.isArchive(target) && !Files.isDirectory(target)) return ArchiveCommands.apply(this, out, err);
        if (archive.checksums != null) Checksums.verify(archive.checksums, target);
        if (output == null) {
            return inPlace(out, err);
        }
        if (Files.isDirectory(target)) {
            throw new PatchException(PatchException.Kind.USAGE,
                    "-o takes one ELF file (or an archive); patch a directory in place by leaving out -o");
        }
        if (!Files.isRegularFile(target)) {
            throw new PatchException(PatchException.Kind.INVALID_INPUT, target + ": not a regular file");
        }
        Path destination = output.toAbsolutePath();
        if (Files.isDirectory(destination)) {
            throw new PatchException(PatchException.Kind.USAGE, "-o " + output + ": is a directory; name the file to write");
        }
        List<LibraryTarget> libs = libraries.targets(shimPath);
        InstallSafety.checkOutput(target, destination, ShimSource.installTarget(destination, libs.get(0).defaultPath()),
                allowOutside);
        try (ElfFile elf = ElfFile.open(target)) {
            // With --expect-sha256 the input is hashed before anything else (refuse before anything
            // is written, DESIGN.md 7). Without it, a file that gets patched is hashed while it is
            // copied, in the same pass, and only reports that write nothing hash it on their own.
            String expected = null;
            if (expectSha256 != null) {
                expected = Digests.sha256(elf.bytes());
                if (!expectSha256.equalsIgnoreCase(expected)) {
                    throw new PatchException(PatchException.Kind.REFUSED, String.format(
                            "%s: SHA-256 is %s, expected %s; nothing written", target, expected,
                            expectSha256.toLowerCase()));
                }
            }
            String known = expected;
            java.util.function.Supplier<String> sha = () -> known != null ? known : Digests.sha256(elf.bytes());
            Plan plan = FilePatcher.plan(elf, new PlanOptions(libs, destination.getParent().toString()));
            if (plan.isRefused()) {
                emit(out, err, List.of(new FileReport(target.toString(), sha.get(), plan, null, null, "refused")));
                PlannedSite first = plan.refused().get(0);
                throw new PatchException(PatchException.Kind.REFUSED, String.format(
                        "%s: refusing to patch: %s site \"%s\" at offset 0x%x: %s; nothing written", target,
                        first.site().kind().label(), first.site().original(), first.site().offset(), first.reason()));
            }
            if (!plan.hasWork()) {
                boolean patched = AlreadyPatched.holds(elf, libs);
                emit(out, err, List.of(new FileReport(target.toString(), sha.get(), plan, null, null,
                        patched ? "already-patched" : "nothing-to-patch")));
                err.println("ollama-patch: " + target + (patched
                        ? ": already patched (its sites name the shim); nothing to do"
                        : ": nothing to patch: no string names " + LibraryTarget.NVML.name()));
                return patched ? ExitCodes.OK : ExitCodes.NOTHING_TO_PATCH;
            }
            ShimSource shimSource = ShimSource.choose(shim, elf);
            ShimCheck.Result check = shimSource.checkAgainst(elf);
            if (!check.ok()) {
                emit(out, err, List.of(new FileReport(target.toString(), sha.get(), plan, null, null, "refused", check)));
                throw new PatchException(PatchException.Kind.REFUSED, target + ": the shim cannot serve it: "
                        + String.join("; ", check.problems()) + "; nothing written");
            }
            if (dryRun) {
                emit(out, err, List.of(new FileReport(target.toString(), sha.get(), plan, null, null, "planned", check)));
                return ExitCodes.OK;
            }
            Path shimTarget = ShimSource.installTarget(destination, libs.get(0).defaultPath());
            if (!plan.retargeted().stream().filter(p -> p.site().library().name().equals(LibraryTarget.NVML.name()))
                    .toList().isEmpty()) {
                shimSource.installAt(shimTarget);
            }
            FilePatcher.Written written = FilePatcher.writeVerified(elf, target, plan, destination);
            if (expected != null && !expected.equals(written.digests().inputHex())) {
                // Checked before the rename: the patched copy never replaces anything at OUT.
                java.nio.file.Files.deleteIfExists(written.temp());
                throw new PatchException(PatchException.Kind.REFUSED, String.format(
                        "%s: changed while it was being patched (SHA-256 %s before, %s while copying); "
                                + "nothing written to %s", target, expected, written.digests().inputHex(), destination));
            }
            AtomicFiles.commit(written.temp(), destination);
            emit(out, err, List.of(new FileReport(target.toString(), written.digests().inputHex(), plan,
                    destination.toString(), written.digests().outputHex(), "patched", check)));
            err.println("ollama-patch: wrote " + destination + " and the shim " + shimTarget);
            return ExitCodes.OK;
        } catch (ElfFormatException e) {
            throw new PatchException(PatchException.Kind.INVALID_INPUT, target + ": " + e.getMessage(), e);
        }
    }

    private int inPlace(PrintWriter out, PrintWriter err) throws IOException {
        InPlaceApply.Outcome outcome = InPlaceApply.run(InstallLayout.of(target), new InPlaceApply.Options(
                libraries.targets(shimPath), shim, dryRun, force, expectSha256, Version.tool(), allowOutside));
        if (!outcome.reports().isEmpty()) emit(out, err, outcome.reports());
        for (String m : outcome.messages()) err.println("ollama-patch: " + m);
        return outcome.exitCode();
    }

    private void emit(PrintWriter out, PrintWriter err, List<FileReport> reports) throws IOException {
        Reports.print(out, err, reports, json, dryRun);
        if (report != null) Reports.writeJson(report, reports, dryRun);
    }
}
