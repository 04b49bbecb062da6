package dev.ollamapatch.install;

import dev.ollamapatch.decide.Decision;
import dev.ollamapatch.decide.FileStep;
import dev.ollamapatch.decide.ShimSource;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfFormatException;
import dev.ollamapatch.io.AtomicFiles;
import dev.ollamapatch.io.Sha256;
import dev.ollamapatch.io.VerifiedCopy;
import dev.ollamapatch.plan.PlanOptions;
import dev.ollamapatch.report.ApplyOutcome;
import dev.ollamapatch.report.FileReport;
import dev.ollamapatch.report.PatchException;
import dev.ollamapatch.report.Status;
import dev.ollamapatch.site.LibraryTarget;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code apply TARGET -o OUT}: a patched, verified copy of one ELF file at OUT, with the shim
 * beside it. Order: checks (checksum, the per-file decision) with nothing written; the shim; the
 * copy, written to a temporary file beside OUT, verified, then renamed over OUT.
 */
public final class CopyApply {
    public record Options(List<LibraryTarget> libraries, Path shim, boolean dryRun, String expectSha256,
                          boolean allowOutside) {}

    private CopyApply() {}

    public static ApplyOutcome run(Path target, Path output, Options o) throws IOException {
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
        Path shimTarget = ShimInstall.installTarget(destination, o.libraries().get(0).defaultPath());
        InstallSafety.checkOutput(target, destination, shimTarget, o.allowOutside());
        List<FileReport> reports = new ArrayList<>();
        try (ElfFile elf = ElfFile.open(target)) {
            // With --expect-sha256 the input is hashed before anything else (refuse before anything
            // is written, DESIGN.md 7). Without it, a file that gets patched is hashed while it is
            // copied, in the same pass, and only reports that write nothing hash it on their own.
            Sha256 expected = null;
            if (o.expectSha256() != null) {
                expected = Sha256.of(elf.bytes());
                if (!expected.matches(o.expectSha256())) {
                    return ApplyOutcome.refused(String.format("%s: SHA-256 is %s, expected %s; nothing written",
                            target, expected, o.expectSha256().toLowerCase()), reports);
                }
            }
            Sha256 known = expected;
            java.util.function.Supplier<String> sha = () -> (known != null ? known : Sha256.of(elf.bytes())).hex();
            Decision decision = FileStep.decide(elf, new FileStep.Options(
                    new PlanOptions(o.libraries(), destination.getParent().toString()),
                    e -> ShimSource.choose(o.shim(), e), true));
            if (decision instanceof Decision.Refused r) {
                reports.add(r.report(target.toString(), sha.get(), false));
                return ApplyOutcome.refused(target + ": " + r.reason() + "; nothing written", reports);
            }
            if (decision instanceof Decision.Planned p) {
                return write(elf, target, destination, shimTarget, p, o.dryRun(), expected, sha, reports);
            }
            reports.add(decision.report(target.toString(), sha.get(), false));
            if (decision instanceof Decision.AlreadyPatched) {
                return ApplyOutcome.done(List.of(target + ": already patched (its sites name the shim); nothing to do"),
                        reports);
            }
            return ApplyOutcome.nothingToPatch(List.of(target + ": nothing to patch: no string names "
                    + LibraryTarget.NVML.name()), reports);
        } catch (ElfFormatException e) {
            throw new PatchException(PatchException.Kind.INVALID_INPUT, target + ": " + e.getMessage(), e);
        }
    }

    private static ApplyOutcome write(ElfFile elf, Path target, Path destination, Path shimTarget, Decision.Planned p,
                                      boolean dryRun, Sha256 expected, java.util.function.Supplier<String> sha,
                                      List<FileReport> reports) throws IOException {
        boolean installShim = p.plan().retargets(LibraryTarget.NVML) && shimMissing(p.shim(), shimTarget);
        if (dryRun) {
            reports.add(p.report(target.toString(), sha.get(), Status.PLANNED));
            return ApplyOutcome.done(List.of(), reports);
        }
        Files.createDirectories(destination.getParent()); // -o /opt/o/ollama makes /opt/o, as install(1) -D
        try (TargetLock lock = TargetLock.acquire(dev.ollamapatch.archive.ArchiveApply.outputLock(destination))) {
            // A killed run's patched copy, by its exact name, goes first.
            Path left = AtomicFiles.exactTemp(destination);
            if (Files.isRegularFile(left, java.nio.file.LinkOption.NOFOLLOW_LINKS) || Files.isSymbolicLink(left)) {
                Files.delete(left);
            }
            if (installShim) ShimInstall.installAt(p.shim(), shimTarget);
            return commit(elf, target, destination, shimTarget, p, expected, reports);
        }
    }

    /**
     * Whether the shim beside OUT must be installed: it is missing. An identical one is kept; a
     * different file there is not the tool's to replace (refused with its name; nothing written).
     */
    private static boolean shimMissing(ShimSource shim, Path at) throws IOException {
        if (!Files.exists(at, java.nio.file.LinkOption.NOFOLLOW_LINKS)) return true;
        if (Files.isRegularFile(at, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                && Sha256.of(at).equals(Sha256.of(dev.ollamapatch.elf.ByteSource.of(shim.bytes())))) {
            return false;
        }
        throw new PatchException(PatchException.Kind.REFUSED, at + " exists and is not the shim to install; "
                + "move it elsewhere (or give it with --shim if it is the one to use), then run apply again; nothing written");
    }

    private static ApplyOutcome commit(ElfFile elf, Path target, Path destination, Path shimTarget, Decision.Planned p,
                                       Sha256 expected, List<FileReport> reports) throws IOException {
        VerifiedCopy.Written written = VerifiedCopy.writeVerifiedTo(elf, target, p.plan().edits(),
                AtomicFiles.createExactTemp(destination));
        if (expected != null && !expected.matches(written.digests().inputHex())) {
            // Checked before the rename: the patched copy never replaces anything at OUT.
            Files.deleteIfExists(written.temp());
            return ApplyOutcome.refused(String.format(
                    "%s: changed while it was being patched (SHA-256 %s before, %s while copying); "
                            + "nothing written to %s", target, expected, written.digests().inputHex(), destination),
                    reports);
        }
        AtomicFiles.commit(written.temp(), destination);
        reports.add(new FileReport(target.toString(), written.digests().inputHex(), p.plan(),
                destination.toString(), written.digests().outputHex(), Status.PATCHED, p.shimCheck()));
        return ApplyOutcome.done(List.of("wrote " + destination + " and the shim " + shimTarget), reports);
    }
}
