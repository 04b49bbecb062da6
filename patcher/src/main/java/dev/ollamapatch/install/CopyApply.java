package dev.ollamapatch.install;

import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfFormatException;
import dev.ollamapatch.patch.AlreadyPatched;
import dev.ollamapatch.patch.ApplyOutcome;
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

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code apply TARGET -o OUT}: a patched, verified copy of one ELF file at OUT, with the shim
 * beside it. Order: checks (checksum, plan, shim) with nothing written; the shim; the copy, written
 * to a temporary file beside OUT, verified, then renamed over OUT.
 */
public final class CopyApply {
    public record Options(List<LibraryTarget> libraries, Path shim, boolean dryRun, String expectSha256,
                          boolean allowOutside) {}

    private CopyApply() {}

    public static ApplyOutcome run(Path target, Path output, Options o, List<FileReport> reports) throws IOException {
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
        Path shimTarget = ShimSource.installTarget(destination, o.libraries().get(0).defaultPath());
        InstallSafety.checkOutput(target, destination, shimTarget, o.allowOutside());
        try (ElfFile elf = ElfFile.open(target)) {
            // With --expect-sha256 the input is hashed before anything else (refuse before anything
            // is written, DESIGN.md 7). Without it, a file that gets patched is hashed while it is
            // copied, in the same pass, and only reports that write nothing hash it on their own.
            String expected = null;
            if (o.expectSha256() != null) {
                expected = Digests.sha256(elf.bytes());
                if (!o.expectSha256().equalsIgnoreCase(expected)) {
                    throw new PatchException(PatchException.Kind.REFUSED, String.format(
                            "%s: SHA-256 is %s, expected %s; nothing written", target, expected,
                            o.expectSha256().toLowerCase()));
                }
            }
            String known = expected;
            java.util.function.Supplier<String> sha = () -> known != null ? known : Digests.sha256(elf.bytes());
            Plan plan = FilePatcher.plan(elf, new PlanOptions(o.libraries(), destination.getParent().toString()));
            if (plan.isRefused()) {
                reports.add(new FileReport(target.toString(), sha.get(), plan, null, null, "refused"));
                PlannedSite first = plan.refused().get(0);
                throw new PatchException(PatchException.Kind.REFUSED, String.format(
                        "%s: refusing to patch: %s site \"%s\" at offset 0x%x: %s; nothing written", target,
                        first.site().kind().label(), first.site().original(), first.site().offset(), first.reason()));
            }
            if (!plan.hasWork()) {
                boolean patched = AlreadyPatched.holds(elf, o.libraries());
                reports.add(new FileReport(target.toString(), sha.get(), plan, null, null,
                        patched ? "already-patched" : "nothing-to-patch"));
                return new ApplyOutcome(patched ? 0 : 3, List.of(target + (patched
                        ? ": already patched (its sites name the shim); nothing to do"
                        : ": nothing to patch: no string names " + LibraryTarget.NVML.name())));
            }
            ShimSource shimSource = ShimSource.choose(o.shim(), elf);
            ShimCheck.Result check = shimSource.checkAgainst(elf);
            if (!check.ok()) {
                reports.add(new FileReport(target.toString(), sha.get(), plan, null, null, "refused", check));
                throw new PatchException(PatchException.Kind.REFUSED, target + ": the shim cannot serve it: "
                        + String.join("; ", check.problems()) + "; nothing written");
            }
            boolean installShim = plan.retargets(LibraryTarget.NVML) && shimMissing(shimSource, shimTarget);
            if (o.dryRun()) {
                reports.add(new FileReport(target.toString(), sha.get(), plan, null, null, "planned", check));
                return new ApplyOutcome(0, List.of());
            }
            Files.createDirectories(destination.getParent()); // -o /opt/o/ollama makes /opt/o, as install(1) -D
            try (TargetLock lock = TargetLock.acquire(dev.ollamapatch.archive.ArchiveApply.outputLock(destination))) {
                if (installShim) shimSource.installAt(shimTarget);
                // A killed run's patched copy, by its exact name, goes first.
                Path left = AtomicFiles.exactTemp(destination);
                if (Files.isRegularFile(left, java.nio.file.LinkOption.NOFOLLOW_LINKS) || Files.isSymbolicLink(left)) {
                    Files.delete(left);
                }
                return write(elf, target, destination, plan, check, expected, shimTarget, reports);
            }
        } catch (ElfFormatException e) {
            throw new PatchException(PatchException.Kind.INVALID_INPUT, target + ": " + e.getMessage(), e);
        }
    }

    /**
     * Whether the shim beside OUT must be installed: it is missing. An identical one is kept; a
     * different file there is not the tool's to replace (refused with its name; nothing written).
     */
    private static boolean shimMissing(ShimSource shim, Path at) throws IOException {
        if (!Files.exists(at, java.nio.file.LinkOption.NOFOLLOW_LINKS)) return true;
        if (Files.isRegularFile(at, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                && Digests.sha256(at).equals(Digests.sha256(dev.ollamapatch.elf.ByteSource.of(shim.bytes())))) {
            return false;
        }
        throw new PatchException(PatchException.Kind.REFUSED, at + " exists and is not the shim to install; "
                + "move it elsewhere (or give it with --shim if it is the one to use), then run apply again; nothing written");
    }

    private static ApplyOutcome write(ElfFile elf, Path target, Path destination, Plan plan, ShimCheck.Result check,
                                      String expected, Path shimTarget, List<FileReport> reports) throws IOException {
        {
            FilePatcher.Written written = FilePatcher.writeVerifiedTo(elf, target, plan, AtomicFiles.createExactTemp(destination));
            if (expected != null && !expected.equals(written.digests().inputHex())) {
                // Checked before the rename: the patched copy never replaces anything at OUT.
                Files.deleteIfExists(written.temp());
                throw new PatchException(PatchException.Kind.REFUSED, String.format(
                        "%s: changed while it was being patched (SHA-256 %s before, %s while copying); "
                                + "nothing written to %s", target, expected, written.digests().inputHex(), destination));
            }
            AtomicFiles.commit(written.temp(), destination);
            reports.add(new FileReport(target.toString(), written.digests().inputHex(), plan,
                    destination.toString(), written.digests().outputHex(), "patched", check));
            return new ApplyOutcome(0, List.of("wrote " + destination + " and the shim " + shimTarget));
        }
    }
}
