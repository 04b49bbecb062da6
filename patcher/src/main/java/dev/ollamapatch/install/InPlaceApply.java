package dev.ollamapatch.install;

import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfFormatException;
import dev.ollamapatch.report.ApplyOutcome;
import dev.ollamapatch.report.FileReport;
import dev.ollamapatch.report.PatchException;
import dev.ollamapatch.report.Refusal;
import dev.ollamapatch.report.Status;
import dev.ollamapatch.site.LibraryTarget;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * {@code apply TARGET} without {@code -o}: patch a binary or a whole install where it stands, as one
 * transaction. Order: read-only checks; lock; leftovers of a killed run removed; plan every file
 * ({@link InPlacePlanner}: nothing written); check the directories can be written; then
 * {@link InPlaceTransaction} (manifest, shims, verified copies, backups, swaps; any failure puts
 * everything back).
 */
public final class InPlaceApply {

    /**
     * {@code reportsWanted}: false when the caller prints nothing for an apply that finds everything
     * already patched ({@code --quiet} without {@code --report}), which lets {@link AlreadyApplied}
     * prove that from the manifest instead of finding the sites again.
     */
    public record Options(List<LibraryTarget> libraries, Path shim, boolean dryRun, boolean force,
                          String expectSha256, String tool, boolean allowOutside, boolean reportsWanted) {
        public Options(List<LibraryTarget> libraries, Path shim, boolean dryRun, boolean force, String expectSha256,
                       String tool, boolean allowOutside) {
            this(libraries, shim, dryRun, force, expectSha256, tool, allowOutside, true);
        }

        public Options(List<LibraryTarget> libraries, Path shim, boolean dryRun, boolean force, String expectSha256,
                       String tool) {
            this(libraries, shim, dryRun, force, expectSha256, tool, false);
        }
    }

    private InPlaceApply() {}

    /** Patches in place; the outcome holds each file's report, also when the run is refused. */
    public static ApplyOutcome run(InstallLayout layout, Options options) throws IOException {
        List<FileReport> reports = new ArrayList<>();
        if (AlreadyApplied.applies(options) && Manifest.exists(layout.manifest()) && !layout.files().isEmpty()) {
            // Before the ELF checks: files whose hashes are the ones this tool wrote need none.
            Optional<Refusal> unsafe = InstallSafety.checkInPlace(layout, options.libraries(), options.allowOutside());
            if (unsafe.isPresent()) return unsafe.get().outcome();
            requireWritable(layout.manifest().getParent());
            TargetLock.Attempt attempt = TargetLock.tryAcquire(layout.lock());
            if (attempt.refusal() != null) return attempt.refusal().outcome();
            try (TargetLock lock = attempt.lock()) {
                ApplyOutcome done = AlreadyApplied.prove(layout, options, recorded(layout));
                if (done != null) return done;
            }
        }
        preflight(layout);
        Optional<Refusal> unsafe = InstallSafety.checkInPlace(layout, options.libraries(), options.allowOutside());
        if (unsafe.isPresent()) return unsafe.get().outcome();
        // A dry run only reads: no lock file is created and no leftover is cleaned up.
        if (options.dryRun()) return patch(layout, options, reports, recorded(layout));
        requireWritable(layout.manifest().getParent());
        TargetLock.Attempt attempt = TargetLock.tryAcquire(layout.lock());
        if (attempt.refusal() != null) return attempt.refusal().outcome();
        try (TargetLock lock = attempt.lock()) {
            ManifestPaths.Resolved recorded = recorded(layout);
            List<Path> shimTargets = new ArrayList<>();
            for (Path f : layout.files()) shimTargets.add(ShimInstall.installTarget(f, options.libraries().get(0).defaultPath()));
            Leftovers.remove(Leftovers.of(layout, recorded, shimTargets));
            return patch(layout, options, reports, recorded);
        }
    }

    /** The manifest already there, every path in it checked (refused with exit 4 or 5 before any change). */
    static ManifestPaths.Resolved recorded(InstallLayout layout) throws IOException {
        if (!Manifest.exists(layout.manifest())) return null;
        return ManifestPaths.resolve(layout, Manifest.read(layout.manifest()));
    }

    /**
     * Read-only checks before anything is created (not even the lock file): there are files, and
     * each one is an ELF file whose tables the site finder reads are well formed. A malformed input
     * is refused here with exit 4 and leaves the directory exactly as it was.
     */
    private static void preflight(InstallLayout layout) throws IOException {
        if (layout.files().isEmpty()) {
            throw new PatchException(PatchException.Kind.NOTHING_TO_PATCH, layout.target() + ": no ELF files found");
        }
        for (Path file : layout.files()) {
            if (!Files.isRegularFile(file)) {
                throw new PatchException(PatchException.Kind.INVALID_INPUT, file + ": not a regular file");
            }
            try (ElfFile elf = ElfFile.open(file)) {
                elf.dynamic();
                elf.dynamicSymbols();
                elf.versionNeeds();
                elf.relativeRelocations();
                elf.notes();
            } catch (ElfFormatException e) {
                throw new PatchException(PatchException.Kind.INVALID_INPUT, file + ": " + e.getMessage(), e);
            }
        }
    }

    private static ApplyOutcome patch(InstallLayout layout, Options options, List<FileReport> reports,
                                      ManifestPaths.Resolved recorded) throws IOException {
        InPlacePlanner.Result planned = InPlacePlanner.plan(layout, options, recorded);
        if (planned instanceof InPlacePlanner.Ends ends) return ends.outcome();
        InPlacePlanner.Ready ready = (InPlacePlanner.Ready) planned;
        InPlacePlan plan = ready.plan();
        reports.addAll(ready.reports());
        List<String> messages = new ArrayList<>(ready.messages());
        // Permission is checked before anything is written, so that a dry run says what the apply would meet.
        Set<Path> dirs = new LinkedHashSet<>();
        for (InPlacePlan.FileChange f : plan.files()) dirs.add(f.file().getParent());
        for (InPlacePlan.ShimChange s : plan.shims()) if (s.install()) dirs.add(s.path().getParent());
        dirs.add(layout.manifest().getParent());
        for (Path d : dirs) requireWritable(d);
        if (options.dryRun()) {
            for (InPlacePlan.FileChange f : plan.files()) {
                reports.add(new FileReport(f.file().toString(), f.sha256(), f.plan(), null, null, Status.PLANNED,
                        f.shimCheck()).withIdentity(f.identity()));
            }
            for (InPlacePlan.ShimChange s : plan.shims()) {
                if (s.install() && plan.files().isEmpty()) messages.add("would reinstall the shim " + s.path());
            }
            return ApplyOutcome.done(messages, reports);
        }
        InPlaceTransaction.Committed done = InPlaceTransaction.run(plan, layout.target());
        for (InPlaceTransaction.Patched p : done.patched()) {
            InPlacePlan.FileChange f = p.change();
            reports.add(new FileReport(f.file().toString(), f.sha256(), f.plan(), f.file().toString(),
                    p.patchedSha256(), Status.PATCHED, f.shimCheck()).withIdentity(f.identity()));
        }
        for (Path s : done.reinstalledShims()) messages.add("installed the shim " + s + " again");
        if (!done.patched().isEmpty()) {
            int n = done.patched().size();
            messages.add("patched " + n + " file" + (n == 1 ? "" : "s") + "; originals kept as *"
                    + InstallLayout.BACKUP_SUFFIX + "; manifest " + layout.manifest());
        }
        messages.addAll(RunningProcesses.restartAdvice(done.files()));
        return ApplyOutcome.done(messages, reports);
    }

    private static void requireWritable(Path d) {
        if (Files.isDirectory(d) && !Files.isWritable(d)) {
            throw new PatchException(PatchException.Kind.FAILED, d + ": permission denied: apply writes the patched "
                    + "file, its backup, the shim and the manifest here (run it as the owner, or as root); nothing changed");
        }
    }
}
