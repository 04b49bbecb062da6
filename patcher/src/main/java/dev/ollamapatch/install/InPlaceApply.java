package dev.ollamapatch.install;

import dev.ollamapatch.decide.Decision;
import dev.ollamapatch.decide.FileStep;
import dev.ollamapatch.decide.ShimSource;
import dev.ollamapatch.elf.ByteSource;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfFormatException;
import dev.ollamapatch.report.ApplyOutcome;
import dev.ollamapatch.io.AtomicFiles;
import dev.ollamapatch.io.Digests;
import dev.ollamapatch.io.VerifiedCopy;
import dev.ollamapatch.report.FileReport;
import dev.ollamapatch.site.LibraryTarget;
import dev.ollamapatch.report.PatchException;
import dev.ollamapatch.report.Status;
import dev.ollamapatch.plan.Plan;
import dev.ollamapatch.plan.PlanOptions;
import dev.ollamapatch.plan.ShimCheck;
import dev.ollamapatch.install.Targets;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * {@code apply TARGET} without {@code -o}: patch a binary or a whole install where it stands, as one
 * transaction. Order: lock; plan every file (nothing written); check the shim; write the manifest
 * (it names both hashes of every file); install shims; for each file write a verified patched copy
 * beside it, hard-link the original as {@code .orig}, and rename the copy over it. Any failure puts
 * back every file already swapped and removes what this run installed.
 */
public final class InPlaceApply {

    public record Options(List<LibraryTarget> libraries, Path shim, boolean dryRun, boolean force,
                          String expectSha256, String tool, boolean allowOutside) {
        public Options(List<LibraryTarget> libraries, Path shim, boolean dryRun, boolean force, String expectSha256,
                       String tool) {
            this(libraries, shim, dryRun, force, expectSha256, tool, false);
        }
    }


    /** A file to patch: its decision's plan, and the shim chosen for it (null when NVML is not retargeted). */
    private record Work(Path file, Path source, String sha256, Plan plan, ShimCheck.Result shim, ShimSource shimSource,
                        BasicFileAttributes before, String originalSha256) {}

    private InPlaceApply() {}

    /** Patches in place; the outcome holds each file's report, also when the run is refused. */
    public static ApplyOutcome run(InstallLayout layout, Options options) throws IOException {
        List<FileReport> reports = new ArrayList<>();
        preflight(layout);
        InstallSafety.checkInPlace(layout, options.libraries(), options.allowOutside());
        // A dry run only reads: no lock file is created and no leftover is cleaned up.
        if (options.dryRun()) return patch(layout, options, reports);
        try (TargetLock lock = TargetLock.acquire(layout.lock())) {
            removeStaleTemporaries(layout.files());
            return patch(layout, options, reports);
        }
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

    private static ApplyOutcome patch(InstallLayout layout, Options options, List<FileReport> reports)
            throws IOException {
        Manifest existing = Manifest.exists(layout.manifest()) ? Manifest.read(layout.manifest()) : null;
        Map<String, Manifest.FileEntry> recorded = new LinkedHashMap<>();
        if (existing != null) existing.files().forEach(f -> recorded.put(f.path(), f));
        String nvmlPath = options.libraries().get(0).defaultPath();

        List<String> messages = new ArrayList<>();
        List<Work> work = new ArrayList<>();
        List<Manifest.FileEntry> unchanged = new ArrayList<>();
        int alreadyPatched = 0;
        if (layout.files().isEmpty()) {
            throw new PatchException(PatchException.Kind.NOTHING_TO_PATCH, layout.target() + ": no ELF files found");
        }
        if (options.expectSha256() != null && layout.directory()) {
            throw new PatchException(PatchException.Kind.USAGE, "--expect-sha256 applies to a single file, not a directory");
        }
        for (Path file : layout.files()) {
            BasicFileAttributes before = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            String sha = Digests.sha256(file);
            if (options.expectSha256() != null && !options.expectSha256().equalsIgnoreCase(sha)) {
                throw new PatchException(PatchException.Kind.REFUSED, String.format(
                        "%s: SHA-256 is %s, expected %s; nothing changed", file, sha, options.expectSha256().toLowerCase()));
            }
            Manifest.FileEntry entry = recorded.get(file.toString());
            Path source = file;
            String originalSha = sha;
            if (entry != null && sha.equals(entry.patchedSha256())) {
                if (Objects.equals(existing.shimPath(), nvmlPath) || !options.force()) {
                    if (!Objects.equals(existing.shimPath(), nvmlPath)) {
                        throw new PatchException(PatchException.Kind.REFUSED, String.format(
                                "%s is already patched to load %s; re-target it to %s with --force", file,
                                existing.shimPath(), nvmlPath));
                    }
                    unchanged.add(entry);
                    alreadyPatched++;
                    messages.add(file + ": already patched for " + existing.shimPath() + "; nothing to do");
                    continue;
                }
                // --force with another path: re-plan from the kept original.
                source = InstallLayout.backupOf(file);
                String backupSha = Digests.sha256(source);
                if (!backupSha.equals(entry.originalSha256())) {
                    throw new PatchException(PatchException.Kind.REFUSED, source
                            + ": the backup does not match the manifest; cannot re-target " + file);
                }
                originalSha = backupSha;
            }
            try (ElfFile elf = ElfFile.open(source)) {
                Decision d = FileStep.decide(elf, new FileStep.Options(
                        new PlanOptions(options.libraries(), file.getParent().toString()),
                        e -> ShimSource.choose(options.shim(), e), false));
                if (d instanceof Decision.Refused r) {
                    reports.add(r.report(file.toString(), sha, false));
                    return ApplyOutcome.refused(file + ": " + r.reason() + "; nothing changed", reports);
                }
                if (d instanceof Decision.AlreadyPatched) {
                    alreadyPatched++;
                    messages.add(file + ": already names " + nvmlPath + "; nothing to do");
                }
                if (d instanceof Decision.Planned p) {
                    work.add(new Work(file, source, sha, p.plan(), p.shimCheck(), p.shim(), before, originalSha));
                }
            } catch (ElfFormatException e) {
                throw new PatchException(PatchException.Kind.INVALID_INPUT, source + ": " + e.getMessage(), e);
            }
        }
        if (work.isEmpty()) {
            if (alreadyPatched > 0) return ApplyOutcome.done(messages, reports);
            messages.add(layout.target() + ": nothing to patch: no file names " + LibraryTarget.NVML.name());
            return ApplyOutcome.nothingToPatch(messages, reports);
        }
        if (options.dryRun()) {
            for (Work w : work) reports.add(new FileReport(w.file.toString(), w.sha256, w.plan, null, null, Status.PLANNED, w.shim));
            return ApplyOutcome.done(messages, reports);
        }
        return swap(layout, options, existing, unchanged, work, reports, messages);
    }

    private static ApplyOutcome swap(InstallLayout layout, Options options, Manifest existing, List<Manifest.FileEntry> unchanged,
                                List<Work> work, List<FileReport> reports, List<String> messages) throws IOException {
        String nvmlPath = options.libraries().get(0).defaultPath();
        // Shims first: a patched file must never exist without the shim it names.
        Map<Path, ShimSource> shims = new LinkedHashMap<>();
        for (Work w : work) {
            if (w.shimSource == null) continue;
            shims.putIfAbsent(ShimInstall.installTarget(w.file, nvmlPath), w.shimSource);
        }
        List<Manifest.ShimEntry> shimEntries = new ArrayList<>();
        for (Map.Entry<Path, ShimSource> e : shims.entrySet()) {
            String sha = Digests.sha256(ByteSource.of(e.getValue().bytes()));
            boolean pre = false;
            if (Files.exists(e.getKey(), LinkOption.NOFOLLOW_LINKS)) {
                String have = Digests.sha256(e.getKey());
                boolean ours = existing != null && existing.shims() != null
                        && existing.shims().stream().anyMatch(s -> s.path().equals(e.getKey().toString()));
                pre = have.equals(sha) && !ours;
                if (!have.equals(sha) && !ours && !options.force()) {
                    throw new PatchException(PatchException.Kind.REFUSED, e.getKey()
                            + " exists and is not the shim to install; move it away or use --force; nothing changed");
                }
            }
            shimEntries.add(new Manifest.ShimEntry(e.getKey().toString(), sha, pre));
        }
        // The manifest first: whatever happens next, it describes both possible states of every file.
        List<Manifest.FileEntry> entries = new ArrayList<>(unchanged);
        List<PendingFile> pending = new ArrayList<>();
        for (Work w : work) {
            try (ElfFile elf = ElfFile.open(w.source)) {
                VerifiedCopy.Written written = VerifiedCopy.writeVerified(elf, w.source, w.plan.edits(), w.file);
                // The copy hashes what it read: a different digest means the source (the file, or its
                // kept original when re-targeting) changed after it was planned.
                String planned = w.source.equals(w.file) ? w.sha256 : w.originalSha256;
                if (!written.digests().inputHex().equals(planned)) {
                    Files.deleteIfExists(written.temp());
                    throw new PatchException(PatchException.Kind.REFUSED, w.source + ": changed while it was being "
                            + "patched (SHA-256 " + planned + " when planned, " + written.digests().inputHex()
                            + " when copied); nothing changed");
                }
                pending.add(new PendingFile(w, written));
                entries.add(new Manifest.FileEntry(w.file.toString(), w.originalSha256, written.digests().outputHex(),
                        InstallLayout.backupOf(w.file).toString(), siteEntries(w.plan)));
            } catch (IOException | RuntimeException e) {
                for (PendingFile p : pending) Files.deleteIfExists(p.written.temp());
                throw e;
            }
        }
        Manifest manifest = new Manifest(options.tool(), Instant.now().truncatedTo(ChronoUnit.SECONDS).toString(),
                nvmlPath, entries, mergeShims(existing, shimEntries));
        List<Path> swapped = new ArrayList<>();
        List<Path> newBackups = new ArrayList<>();
        List<Path> installedShims = new ArrayList<>();
        try {
            manifest.write(layout.manifest());
            for (Map.Entry<Path, ShimSource> e : shims.entrySet()) {
                if (!Files.exists(e.getKey(), LinkOption.NOFOLLOW_LINKS)) installedShims.add(e.getKey());
                ShimInstall.installAt(e.getValue(), e.getKey());
            }
            for (PendingFile p : pending) {
                Path file = p.work.file;
                Path backup = InstallLayout.backupOf(file);
                if (p.work.source.equals(file)) {
                    ensureBackup(file, backup, p.work.originalSha256, newBackups);
                }
                BasicFileAttributes now = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                if (!Objects.equals(now.fileKey(), p.work.before.fileKey()) || now.size() != p.work.before.size()
                        || !now.lastModifiedTime().equals(p.work.before.lastModifiedTime())) {
                    throw new PatchException(PatchException.Kind.REFUSED, file
                            + " changed while it was being patched; everything was put back");
                }
                AtomicFiles.commit(p.written.temp(), file);
                swapped.add(file);
            }
        } catch (IOException | RuntimeException e) {
            rollBack(swapped, newBackups, installedShims, pending, existing, layout.manifest());
            throw e;
        }
        for (PendingFile p : pending) {
            reports.add(new FileReport(p.work.file.toString(), p.work.sha256, p.work.plan, p.work.file.toString(),
                    p.written.digests().outputHex(), Status.PATCHED, p.work.shim));
        }
        messages.add("patched " + pending.size() + " file" + (pending.size() == 1 ? "" : "s") + "; originals kept as *"
                + InstallLayout.BACKUP_SUFFIX + "; manifest " + layout.manifest());
        messages.addAll(RunningProcesses.restartAdvice(swapped));
        return ApplyOutcome.done(messages, reports);
    }

    private record PendingFile(Work work, VerifiedCopy.Written written) {}

    /** The backup is a hard link to the original's inode: no copy, and the rename leaves it intact. */
    private static void ensureBackup(Path file, Path backup, String originalSha, List<Path> created) throws IOException {
        if (Files.isSymbolicLink(backup)) {
            throw new PatchException(PatchException.Kind.REFUSED, backup + " is a symbolic link; refusing to write through it");
        }
        if (Files.exists(backup, LinkOption.NOFOLLOW_LINKS)) {
            String have = Digests.sha256(backup);
            if (have.equals(originalSha)) return;
            // An older backup of another version: replace it atomically with this original.
            Path temp = backup.resolveSibling("." + backup.getFileName() + "." + ProcessHandle.current().pid() + ".link");
            Files.deleteIfExists(temp);
            Files.createLink(temp, file);
            AtomicFiles.commit(temp, backup);
            return;
        }
        try {
            Files.createLink(backup, file);
        } catch (UnsupportedOperationException | IOException e) {
            Files.copy(file, backup, java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
            AtomicFiles.fsync(backup);
        }
        AtomicFiles.fsyncDirectory(backup.getParent());
        created.add(backup);
    }

    private static void rollBack(List<Path> swapped, List<Path> newBackups, List<Path> installedShims,
                                 List<PendingFile> pending, Manifest previous, Path manifestPath) {
        for (int i = swapped.size() - 1; i >= 0; i--) {
            Path file = swapped.get(i);
            Path backup = InstallLayout.backupOf(file);
            try {
                Path temp = file.resolveSibling("." + file.getFileName() + ".rollback.ollama-patch.tmp");
                Files.deleteIfExists(temp);
                Files.createLink(temp, backup);
                AtomicFiles.commit(temp, file);
            } catch (IOException e) {
                // Keep going: every other file is still put back; the backup remains for restore.
            }
        }
        for (PendingFile p : pending) {
            try { Files.deleteIfExists(p.written.temp()); } catch (IOException ignored) { }
        }
        for (Path b : newBackups) {
            try { Files.deleteIfExists(b); } catch (IOException ignored) { }
        }
        for (Path s : installedShims) {
            try { Files.deleteIfExists(s); } catch (IOException ignored) { }
        }
        try {
            if (previous != null) previous.write(manifestPath); else Files.deleteIfExists(manifestPath);
        } catch (IOException ignored) {
            // The manifest still describes both states; verify will say what holds.
        }
    }

    private static List<Manifest.ShimEntry> mergeShims(Manifest existing, List<Manifest.ShimEntry> added) {
        Map<String, Manifest.ShimEntry> all = new LinkedHashMap<>();
        if (existing != null && existing.shims() != null) existing.shims().forEach(s -> all.put(s.path(), s));
        for (Manifest.ShimEntry s : added) {
            Manifest.ShimEntry old = all.get(s.path());
            all.put(s.path(), old != null ? new Manifest.ShimEntry(s.path(), s.sha256(), old.preexisting()) : s);
        }
        return new ArrayList<>(all.values());
    }

    static List<Manifest.SiteEntry> siteEntries(Plan plan) {
        return plan.retargeted().stream().map(p -> new Manifest.SiteEntry(p.site().offset(), p.site().length(),
                p.site().kind().label(), p.site().original(), p.replacementText())).toList();
    }

    /** Temporary files of a run that was killed: ours by name, removed under the lock. */
    private static void removeStaleTemporaries(List<Path> files) throws IOException {
        for (Path file : files) {
            for (String name : List.of(file.getFileName().toString(), Targets.SHIM_FILE)) {
                try (DirectoryStream<Path> s = Files.newDirectoryStream(file.getParent(),
                        "." + name + ".*.ollama-patch.tmp")) {
                    for (Path p : s) {
                        if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) Files.deleteIfExists(p);
                    }
                }
            }
        }
    }
}
