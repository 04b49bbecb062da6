package dev.ollamapatch.install;

import dev.ollamapatch.decide.Decision;
import dev.ollamapatch.decide.FilePasses;
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
import dev.ollamapatch.report.Refusal;
import dev.ollamapatch.report.Status;
import dev.ollamapatch.site.LibraryTarget;
import dev.ollamapatch.resolve.InstallResolutions;
import dev.ollamapatch.resolve.ShimTargets;
import dev.ollamapatch.ollama.Identity;
import dev.ollamapatch.plan.ShimCheck;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Optional;
import java.util.Map;

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
        Optional<Refusal> unsafe = InstallSafety.checkOutput(target, destination, shimTarget, o.allowOutside());
        if (unsafe.isPresent()) return unsafe.get().outcome();
        List<FileReport> reports = new ArrayList<>();
        // The input's one census (which names it holds, and where), read on a second thread while this one
        // opens the file and the install; its hash is taken by the copy itself.
        List<byte[]> located = FilePasses.located(o.libraries());
        try (FilePasses passes = FilePasses.start(List.of(target), FilePasses.needles(o.libraries()), located, f -> false);
             ElfFile elf = ElfFile.open(target)) {
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
            Decision decision;
            // Resolved as the file will be installed: at OUT, read from TARGET.
            try (InstallResolutions resolutions = new InstallResolutions(java.util.Map.of(destination, target))) {
                // A file that names a library will need its dlopen calls: found on the reading thread meanwhile.
                passes.whenLocated(f -> resolutions.warm(destination));
                passes.take(target, elf);
                decision = FileStep.decide(elf, new FileStep.Options(
                        new PlanOptions(o.libraries(), destination.getParent().toString(), resolutions.forFile(destination)),
                        e -> ShimSource.choose(o.shim(), e), true));
            }
            Identity id = Identities.of(elf, target, decision.plan().scan(), sha, o.libraries());
            if (decision instanceof Decision.Refused r) {
                reports.add(r.report(target.toString(), sha.get(), false).withIdentity(id));
                return ApplyOutcome.refused(target + ": " + r.reason() + "; nothing written", reports);
            }
            if (decision instanceof Decision.Planned p) {
                List<String> messages = new ArrayList<>();
                Map<Path, ShimSource> libraryFiles = Libraries.check(elf, target, p.plan(), o.libraries(), destination,
                        messages);
                return write(elf, target, destination, shimTarget, p, id, libraryFiles, messages, o.dryRun(), expected,
                        sha, reports);
            }
            if (decision instanceof Decision.AlreadyPatched || id.patched().patched()) {
                return copyPatched(target, destination, elf, decision, id, o, sha, reports);
            }
            reports.add(decision.report(target.toString(), sha.get(), false).withIdentity(id));
            return ApplyOutcome.nothingToPatch(List.of(target + ": nothing to patch: " + (id.withoutNvml()
                    ? id.withoutNvmlLine() : "no string names " + LibraryTarget.NVML.name())), reports);
        } catch (ElfFormatException e) {
            throw new PatchException(PatchException.Kind.INVALID_INPUT, target + ": " + e.getMessage(), e);
        }
    }

    /**
     * An input this tool already patched: copied byte for byte to OUT, with the libraries its sites
     * name beside OUT (the shim from --shim, else the one beside the input, else the bundled one; a
     * --lib file from --lib-file, else the one beside the input). Refused when a site holds an absolute
     * path outside OUT's directory: the copy would still load that file.
     */
    private static ApplyOutcome copyPatched(Path target, Path destination, ElfFile elf, Decision decision, Identity id,
                                            Options o, java.util.function.Supplier<String> sha,
                                            List<FileReport> reports) throws IOException {
        var plan = decision.plan();
        Path outDir = destination.getParent();
        Path inDir = target.toAbsolutePath().getParent();
        Map<Path, ShimSource> installs = new LinkedHashMap<>();
        ShimCheck.Result check = null;
        for (String p : id.patched().paths()) {
            if (!p.startsWith(ORIGIN + "/")) {
                if (!Path.of(p).getParent().equals(outDir)) {
                    reports.add(new FileReport(target.toString(), sha.get(), plan, null, null, Status.REFUSED).withIdentity(id));
                    return ApplyOutcome.refused(target + " is already patched (per "
                            + id.patched().by() + ") and names the absolute path " + p + "; a copy at " + destination
                            + " would still load that file; apply the original (restore it, or its .orig) with -o "
                            + "instead; nothing written", reports);
                }
                continue;
            }
            String name = p.substring(ORIGIN.length() + 1);
            Path at = outDir.resolve(name).normalize();
            Path beside = inDir.resolve(name);
            boolean nvml = p.equals(o.libraries().get(0).defaultPath()) || name.equals(Targets.SHIM_FILE);
            ShimSource src;
            if (nvml) {
                src = ShimSource.choose(o.shim() != null ? o.shim() : Files.isRegularFile(beside) ? beside : null, elf);
                check = src.checkAgainst(elf);
                if (!check.ok()) {
                    reports.add(new FileReport(target.toString(), sha.get(), plan, null, null, Status.REFUSED, check)
                            .withIdentity(id));
                    return ApplyOutcome.refused(target + ": the shim cannot serve it: "
                            + String.join("; ", check.problems()) + "; nothing written", reports);
                }
            } else {
                Path file = o.libraries().stream().filter(l -> l.defaultPath().equals(p) && l.file() != null)
                        .map(LibraryTarget::file).findFirst().orElse(Files.isRegularFile(beside) ? beside : null);
                if (file == null) {
                    reports.add(new FileReport(target.toString(), sha.get(), plan, null, null, Status.REFUSED).withIdentity(id));
                    return ApplyOutcome.refused(target + " is already patched and loads " + p
                            + ", but there is no " + beside + " to copy beside " + destination
                            + "; give it with --lib-file NAME=FILE; nothing written", reports);
                }
                src = ShimSource.choose(file, elf);
            }
            if (!at.equals(beside) || !Files.exists(at)) installs.putIfAbsent(at, src);
        }
        if (o.dryRun()) {
            reports.add(new FileReport(target.toString(), sha.get(), plan, null, null, Status.ALREADY_PATCHED, check)
                    .withIdentity(id));
            return ApplyOutcome.done(List.of(target + " is already patched; a copy to " + destination
                    + " would be written with " + installs.keySet().stream().map(Path::toString).toList()), reports);
        }
        if (destination.equals(target.toAbsolutePath().normalize())) {
            throw new PatchException(PatchException.Kind.USAGE, "-o " + destination + " is the input itself");
        }
        for (Map.Entry<Path, ShimSource> e : installs.entrySet()) ShimInstall.installAt(e.getValue(), e.getKey());
        VerifiedCopy.Written written = VerifiedCopy.writeVerified(elf, target, plan.edits(), destination);
        AtomicFiles.commit(written.temp(), destination);
        reports.add(new FileReport(target.toString(), written.digests().inputHex(), plan, destination.toString(),
                written.digests().outputHex(), Status.COPIED, check).withIdentity(id));
        return ApplyOutcome.done(List.of(target + " is already patched (per " + id.patched().by() + "); copied it to "
                + destination + (installs.isEmpty() ? "" : " with " + String.join(", ",
                installs.keySet().stream().map(Path::toString).toList()) + " beside it")), reports);
    }

    private static final String ORIGIN = "$ORIGIN";

    private static ApplyOutcome write(ElfFile elf, Path target, Path destination, Path shimTarget, Decision.Planned p,
                                      Identity id, Map<Path, ShimSource> libraryFiles, List<String> messages,
                                      boolean dryRun, Sha256 expected, java.util.function.Supplier<String> sha,
                                      List<FileReport> reports) throws IOException {
        List<Path> shimTargets = new ArrayList<>();
        if (p.plan().retargets(LibraryTarget.NVML)) {
            for (Path t : ShimTargets.of(p.plan(), destination, LibraryTarget.NVML)) {
                Refusal foreign = foreignShim(p.shim(), t);
                if (foreign != null) return foreign.outcome();
                if (!Files.exists(t, java.nio.file.LinkOption.NOFOLLOW_LINKS)) shimTargets.add(t);
            }
        }
        if (dryRun) {
            reports.add(p.report(target.toString(), sha.get(), Status.PLANNED).withIdentity(id));
            return ApplyOutcome.done(messages, reports);
        }
        Files.createDirectories(destination.getParent()); // -o /opt/o/ollama makes /opt/o, as install(1) -D
        TargetLock.Attempt attempt = TargetLock.tryAcquire(dev.ollamapatch.archive.ArchiveApply.outputLock(destination));
        if (attempt.refusal() != null) return attempt.refusal().outcome();
        try (TargetLock lock = attempt.lock()) {
            // A killed run's patched copy, by its exact name, goes first.
            Path left = AtomicFiles.exactTemp(destination);
            if (Files.isRegularFile(left, java.nio.file.LinkOption.NOFOLLOW_LINKS) || Files.isSymbolicLink(left)) {
                Files.delete(left);
            }
            OldLeftovers.removeProven(OldLeftovers.besideOutput(destination, shimTargets));
            // One file, so every site resolves beside OUT: by $ORIGIN, or by the absolute path of that file.
            for (Path t : shimTargets) ShimInstall.installAt(p.shim(), t);
            for (Map.Entry<Path, ShimSource> e : libraryFiles.entrySet()) ShimInstall.installAt(e.getValue(), e.getKey());
            return commit(elf, target, destination, shimTarget, p, id, libraryFiles, messages, expected, reports);
        }
    }

    /**
     * The shim beside OUT is installed where it is missing; an identical one is kept; a different file
     * there is not the tool's to replace: the refusal naming it (nothing written), else null.
     */
    private static Refusal foreignShim(ShimSource shim, Path at) throws IOException {
        if (!Files.exists(at, java.nio.file.LinkOption.NOFOLLOW_LINKS)) return null;
        if (Files.isRegularFile(at, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                && Sha256.of(at).equals(Sha256.of(dev.ollamapatch.elf.ByteSource.of(shim.bytes())))) {
            return null;
        }
        return Refusal.refused(at + " exists and is not the shim to install; "
                + "move it elsewhere (or give it with --shim if it is the one to use), then run apply again; nothing written");
    }

    private static ApplyOutcome commit(ElfFile elf, Path target, Path destination, Path shimTarget, Decision.Planned p,
                                       Identity id, Map<Path, ShimSource> libraryFiles, List<String> messages,
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
                destination.toString(), written.digests().outputHex(), Status.PATCHED, p.shimCheck()).withIdentity(id));
        List<String> all = new ArrayList<>(messages);
        all.add("wrote " + destination + (p.plan().retargets(LibraryTarget.NVML) ? " and the shim " + shimTarget : "")
                + (libraryFiles.isEmpty() ? "" : " and " + String.join(", ", libraryFiles.keySet().stream()
                .map(Path::toString).toList())));
        return ApplyOutcome.done(all, reports);
    }
}
