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
import dev.ollamapatch.resolve.InstallResolutions;
import dev.ollamapatch.resolve.ShimTargets;

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
            Plan plan;
            // Resolved as the file will be installed: at OUT, read from TARGET.
            try (InstallResolutions resolutions = new InstallResolutions(java.util.Map.of(destination, target))) {
                plan = FilePatcher.plan(elf, new PlanOptions(o.libraries(), destination.getParent().toString(),
                        resolutions.forFile(destination)));
            }
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
            if (o.dryRun()) {
                reports.add(new FileReport(target.toString(), sha.get(), plan, null, null, "planned", check));
                return new ApplyOutcome(0, List.of());
            }
            if (plan.retargets(LibraryTarget.NVML)) {
                // One file, so every site resolves beside OUT: by $ORIGIN, or by the absolute path of that file.
                for (Path t : ShimTargets.of(plan, destination, LibraryTarget.NVML)) shimSource.installAt(t);
            }
            FilePatcher.Written written = FilePatcher.writeVerified(elf, target, plan, destination);
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
        } catch (ElfFormatException e) {
            throw new PatchException(PatchException.Kind.INVALID_INPUT, target + ": " + e.getMessage(), e);
        }
    }
}
