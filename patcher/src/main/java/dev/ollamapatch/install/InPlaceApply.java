package dev.ollamapatch.install;

import dev.ollamapatch.decide.Decision;
import dev.ollamapatch.decide.FileStep;
import dev.ollamapatch.decide.ShimSource;
import dev.ollamapatch.elf.ByteSource;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfFormatException;
import dev.ollamapatch.elf.ElfNames;
import dev.ollamapatch.io.AtomicFiles;
import dev.ollamapatch.io.Sha256;
import dev.ollamapatch.io.VerifiedCopy;
import dev.ollamapatch.plan.Plan;
import dev.ollamapatch.plan.PlanOptions;
import dev.ollamapatch.plan.Planner;
import dev.ollamapatch.plan.ShimCheck;
import dev.ollamapatch.report.ApplyOutcome;
import dev.ollamapatch.report.FileReport;
import dev.ollamapatch.report.PatchException;
import dev.ollamapatch.report.Status;
import dev.ollamapatch.plan.Plan;
import dev.ollamapatch.plan.PlanOptions;
import dev.ollamapatch.plan.ShimCheck;
import dev.ollamapatch.resolve.InstallResolutions;
import dev.ollamapatch.resolve.ShimTargets;
import dev.ollamapatch.site.LibraryTarget;
import dev.ollamapatch.ollama.Identity;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
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


    /**
     * What a re-apply would change for an install the manifest records: another NVML path, or a
     * library added, dropped or moved; null when it asks for what is there.
     */
    static String retargeting(Manifest existing, List<LibraryTarget> libraries) {
        String nvmlPath = libraries.get(0).defaultPath();
        if (!Objects.equals(existing.requested(), nvmlPath)) {
            return "another shim path asked for (" + nvmlPath + " instead of " + existing.requested() + ")";
        }
        java.util.Set<String> had = new java.util.TreeSet<>();
        if (existing.libraries() != null) existing.libraries().forEach(l -> had.add(l.name() + "=" + l.path()));
        java.util.Set<String> want = new java.util.TreeSet<>();
        libraries.subList(1, libraries.size()).forEach(l -> want.add(l.name() + "=" + l.defaultPath()));
        if (had.equals(want)) return null;
        java.util.Set<String> added = new java.util.TreeSet<>(want);
        added.removeAll(had);
        java.util.Set<String> dropped = new java.util.TreeSet<>(had);
        dropped.removeAll(want);
        return "--lib " + (added.isEmpty() ? "" : "adds " + String.join(", ", added))
                + (added.isEmpty() || dropped.isEmpty() ? "" : " and ")
                + (dropped.isEmpty() ? "" : "drops " + String.join(", ", dropped));
    }

    /** The distinct paths a file's sites hold, padding removed ("$ORIGIN/nvml.so", "/opt/o/bin/nvml.so"). */
    static List<String> writtenPaths(Manifest.FileEntry entry) {
        java.util.Set<String> out = new java.util.LinkedHashSet<>();
        if (entry.sites() != null) {
            for (Manifest.SiteEntry s : entry.sites()) {
                out.add(s.replacement().replaceFirst("^/+(?=\\$ORIGIN)", "").replaceFirst("^/+", "/"));
            }
        }
        return new ArrayList<>(out);
    }

    private record Work(Path file, Path source, String sha256, Plan plan, ShimCheck.Result shim,
                        BasicFileAttributes before, String originalSha256, Identity identity,
                        Map<Path, ShimSource> libraryFiles) {}

    private InPlaceApply() {}

    /** Patches in place; the outcome holds each file's report, also when the run is refused. */
    public static ApplyOutcome run(InstallLayout layout, Options options) throws IOException {
        List<FileReport> reports = new ArrayList<>();
        if (AlreadyApplied.applies(options) && Manifest.exists(layout.manifest()) && !layout.files().isEmpty()) {
            // Before the ELF checks: files whose hashes are the ones this tool wrote need none.
            InstallSafety.checkInPlace(layout, options.libraries(), options.allowOutside());
            requireWritable(layout.manifest().getParent());
            try (TargetLock lock = TargetLock.acquire(layout.lock())) {
                ApplyOutcome done = AlreadyApplied.prove(layout, options, recorded(layout));
                if (done != null) return done;
            }
        }
        preflight(layout);
        InstallSafety.checkInPlace(layout, options.libraries(), options.allowOutside());
        // A dry run only reads: no lock file is created and no leftover is cleaned up.
        if (options.dryRun()) return patch(layout, options, reports, recorded(layout));
        requireWritable(layout.manifest().getParent());
        try (TargetLock lock = TargetLock.acquire(layout.lock())) {
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
        Manifest existing = recorded == null ? null : recorded.manifest();
        String nvmlPath = options.libraries().get(0).defaultPath();

        List<String> messages = new ArrayList<>();
        List<Work> work = new ArrayList<>();
        List<Manifest.FileEntry> unchanged = new ArrayList<>();
        // The shim each patched file needs, by where it goes; a patched file already in place needs its own too.
        Map<Path, ShimNeed> shimNeeds = new LinkedHashMap<>();
        int alreadyPatched = 0;
        List<String> withoutNvml = new ArrayList<>();
        List<String> libMessages = new ArrayList<>();
        if (options.expectSha256() != null && layout.directory()) {
            throw new PatchException(PatchException.Kind.USAGE, "--expect-sha256 applies to a single file, not a directory");
        }
        try (InstallResolutions resolutions = InstallResolutions.of(layout.files())) {
        for (Path file : layout.files()) {
            BasicFileAttributes before = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            String sha = Sha256.of(file).hex();
            if (options.expectSha256() != null && !options.expectSha256().equalsIgnoreCase(sha)) {
                return ApplyOutcome.refused(String.format("%s: SHA-256 is %s, expected %s; nothing changed", file, sha,
                        options.expectSha256().toLowerCase()), reports);
            }
            ManifestPaths.File entry = recorded == null ? null : recorded.file(file);
            Path source = file;
            String originalSha = sha;
            if (entry != null && sha.equals(entry.entry().patchedSha256())) {
                String change = retargeting(existing, options.libraries());
                if (change == null || !options.force()) {
                    if (change != null) {
                        return ApplyOutcome.refused(String.format(
                                "%s is already patched (by %s, to %s); %s: re-target it with --force",
                                file, existing.tool(), String.join(", ", writtenPaths(entry.entry())), change), reports);
                    }
                    Manifest.FileEntry e = entry.entry();
                    unchanged.add(new Manifest.FileEntry(entry.relative(), e.originalSha256(), e.patchedSha256(),
                            entry.relative() + InstallLayout.BACKUP_SUFFIX, e.sites()));
                    alreadyPatched++;
                    try (ElfFile elf = ElfFile.open(file)) {
                        Plan plan = Planner.plan(elf, new PlanOptions(options.libraries(), file.getParent().toString()));
                        reports.add(new FileReport(file.toString(), sha, plan, null, null, Status.ALREADY_PATCHED)
                                .withIdentity(Identities.of(elf, file, plan.scan(), sha, options.libraries())));
                        messages.add(file + ": already patched by " + existing.tool() + " to "
                                + String.join(", ", writtenPaths(e)) + "; nothing to do");
                        // Its shims (beside it, and every file its sites resolve to) are needed again if ours.
                        java.util.Set<Path> shimsAt = new java.util.LinkedHashSet<>();
                        shimsAt.add(ShimInstall.installTarget(file, nvmlPath));
                        for (Manifest.SiteEntry site : e.sites()) {
                            if (site.resolvesTo() == null) continue;
                            for (String t : site.resolvesTo()) shimsAt.add(layout.base().resolve(t).toAbsolutePath().normalize());
                        }
                        for (Path shimAt : shimsAt) {
                            if (recorded.shim(shimAt) != null) {
                                need(shimNeeds, shimAt, ShimSource.choose(options.shim(), elf), file, elf);
                            }
                        }
                    } catch (ElfFormatException ex) {
                        throw new PatchException(PatchException.Kind.INVALID_INPUT, file + ": " + ex.getMessage(), ex);
                    }
                    continue;
                }
                // --force with another path: re-plan from the kept original.
                source = InstallLayout.backupOf(file);
                String backupSha = Sha256.of(source).hex();
                if (!backupSha.equals(entry.entry().originalSha256())) {
                    return ApplyOutcome.refused(source + ": the backup does not match the manifest; cannot re-target "
                            + file, reports);
                }
                originalSha = backupSha;
            }
            try (ElfFile elf = ElfFile.open(source)) {
                Decision d = FileStep.decide(elf, new FileStep.Options(
                        new PlanOptions(options.libraries(), file.getParent().toString(), resolutions.forFile(file)),
                        e -> ShimSource.choose(options.shim(), e), false));
                String shaNow = sha;
                Identity id = Identities.of(elf, source.equals(file) ? file : null, d.plan().scan(), () -> shaNow,
                        options.libraries());
                if (d instanceof Decision.Refused r) {
                    reports.add(r.report(file.toString(), sha, false).withIdentity(id));
                    return ApplyOutcome.refused(file + ": " + r.reason() + "; nothing changed", reports);
                }
                if (d instanceof Decision.AlreadyPatched || (!(d instanceof Decision.Planned) && id.patched().patched())) {
                    alreadyPatched++;
                    reports.add(d.report(file.toString(), sha, Status.ALREADY_PATCHED).withIdentity(id));
                    messages.add(file + ": already patched (per " + id.patched().by() + ", to "
                            + String.join(", ", id.patched().paths()) + "); nothing to do");
                } else if (d instanceof Decision.Nothing && id.withoutNvml()) {
                    withoutNvml.add(file + ": " + id.withoutNvmlLine());
                }
                if (!(d instanceof Decision.Planned p)) continue;
                Plan plan = p.plan();
                Map<Path, ShimSource> libs = Libraries.check(elf, file, plan, options.libraries(), file, libMessages);
                Path backup = InstallLayout.backupOf(file);
                if (entry == null && Files.exists(backup, LinkOption.NOFOLLOW_LINKS)) {
                    // Never overwrite (nor later rename away) a file this tool did not write.
                    throw new PatchException(PatchException.Kind.REFUSED, backup + " exists and was not written by "
                            + "ollama-patch (no manifest records it); move it elsewhere, then run apply again; nothing changed");
                }
                ShimCheck.Result check = p.shimCheck();
                if (p.shim() != null) {
                    // Every file a site resolves to (issue 14): beside the object whose call the loader sees.
                    for (Path shimAt : ShimTargets.of(plan, file, LibraryTarget.NVML)) {
                        // A resolution may name another directory than the file's: the same checks as for it.
                        InstallSafety.checkOutput(file, file, shimAt, options.allowOutside());
                        need(shimNeeds, shimAt, p.shim(), file, elf);
                    }
                }
                // --lib-file replacements: installed and recorded like the shim (restore removes them).
                for (Map.Entry<Path, ShimSource> lib : libs.entrySet()) {
                    if (!shimNeeds.containsKey(lib.getKey())) need(shimNeeds, lib.getKey(), lib.getValue(), file, elf);
                }
                work.add(new Work(file, source, sha, plan, check, before, originalSha, id, libs));
            } catch (ElfFormatException e) {
                throw new PatchException(PatchException.Kind.INVALID_INPUT, source + ": " + e.getMessage(), e);
            }
        }
        }
        List<ShimPlan> shims = planShims(layout, recorded, shimNeeds);
        boolean shimWork = shims.stream().anyMatch(ShimPlan::install);
        if (work.isEmpty() && !shimWork) {
            if (alreadyPatched > 0) return ApplyOutcome.done(messages, reports);
            messages.addAll(withoutNvml);
            if (withoutNvml.isEmpty()) {
                messages.add(layout.target() + ": nothing to patch: no file names " + LibraryTarget.NVML.name());
            }
            return ApplyOutcome.nothingToPatch(messages, reports);
        }
        messages.addAll(libMessages);
        // Permission is checked before anything is written, so that a dry run says what the apply would meet.
        java.util.Set<Path> dirs = new java.util.LinkedHashSet<>();
        for (Work w : work) dirs.add(w.file.getParent());
        for (ShimPlan s : shims) if (s.install) dirs.add(s.path.getParent());
        dirs.add(layout.manifest().getParent());
        for (Path d : dirs) requireWritable(d);
        if (options.dryRun()) {
            for (Work w : work) {
                reports.add(new FileReport(w.file.toString(), w.sha256, w.plan, null, null, Status.PLANNED, w.shim)
                        .withIdentity(w.identity));
            }
            for (ShimPlan s : shims) if (s.install && work.isEmpty()) messages.add("would reinstall the shim " + s.path);
            return ApplyOutcome.done(messages, reports);
        }
        return swap(layout, options, recorded, unchanged, work, shims, reports, messages);
    }

    private static void requireWritable(Path d) {
        if (Files.isDirectory(d) && !Files.isWritable(d)) {
            throw new PatchException(PatchException.Kind.FAILED, d + ": permission denied: apply writes the patched "
                    + "file, its backup, the shim and the manifest here (run it as the owner, or as root); nothing changed");
        }
    }

    /** A shim some file needs at {@code path}; a second file of another machine (or shim) in that directory is refused. */
    private record ShimNeed(ShimSource source, String sha256, Path firstFile, String machine) {}

    private static void need(Map<Path, ShimNeed> needs, Path path, ShimSource source, Path file, ElfFile elf) {
        String sha = Sha256.of(ByteSource.of(source.bytes())).hex();
        String machine = ElfNames.machine(elf.header().machine());
        ShimNeed had = needs.putIfAbsent(path, new ShimNeed(source, sha, file, machine));
        if (had != null && !had.sha256.equals(sha)) {
            throw new PatchException(PatchException.Kind.REFUSED, String.format(
                    "%s (%s) and %s (%s) would both load %s, and one shim cannot serve both; patch them from "
                            + "separate directories (or give one the other machine's file with --shim); nothing changed",
                    had.firstFile, had.machine, file, machine, path));
        }
    }

    /** What to do with each shim: install it, or keep what is there; {@code entry} is what the manifest records. */
    private record ShimPlan(Path path, ShimSource source, Manifest.ShimEntry entry, boolean install, boolean existed) {}

    /**
     * A shim is this tool's when a manifest records it as installed (this one, or another target's in
     * the same place: shims are shared). Ours and missing or changed: installed again. Not ours:
     * never overwritten; an identical one is used and recorded as pre-existing (never removed).
     */
    private static List<ShimPlan> planShims(InstallLayout layout, ManifestPaths.Resolved recorded,
                                            Map<Path, ShimNeed> needs) throws IOException {
        List<ShimPlan> out = new ArrayList<>();
        for (Map.Entry<Path, ShimNeed> e : needs.entrySet()) {
            Path path = e.getKey();
            ShimNeed need = e.getValue();
            Map<Path, Manifest.ShimEntry> others = ShimRefs.others(path, layout.manifest());
            for (Map.Entry<Path, Manifest.ShimEntry> o : others.entrySet()) {
                if (!o.getValue().sha256().equals(need.sha256)) {
                    throw new PatchException(PatchException.Kind.REFUSED, String.format(
                            "%s is the shim of another patched target (manifest %s), and %s (%s) needs a different one; "
                                    + "one directory cannot hold both; patch it from another directory; nothing changed",
                            path, o.getKey(), need.firstFile, need.machine));
                }
            }
            ManifestPaths.Shim own = recorded == null ? null : recorded.shim(path);
            boolean exists = Files.exists(path, LinkOption.NOFOLLOW_LINKS);
            String rel = relativeIfInside(layout.base(), path);
            if (!exists) {
                out.add(new ShimPlan(path, need.source, new Manifest.ShimEntry(rel, need.sha256, false), true, false));
                continue;
            }
            if (!Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS)) {
                throw new PatchException(PatchException.Kind.REFUSED, path
                        + " exists and is not a regular file; move it elsewhere, then run apply again; nothing changed");
            }
            String have = Sha256.of(path).hex();
            boolean ours = (own != null && !own.entry().preexisting()) || !others.isEmpty();
            if (ours) {
                out.add(new ShimPlan(path, need.source, new Manifest.ShimEntry(rel, need.sha256, false),
                        !have.equals(need.sha256), true));
            } else if (have.equals(need.sha256)) {
                out.add(new ShimPlan(path, need.source, new Manifest.ShimEntry(rel, need.sha256, true), false, true));
            } else {
                throw new PatchException(PatchException.Kind.REFUSED, path + " exists and was not installed by "
                        + "ollama-patch; move it elsewhere (or give it with --shim if it is the shim to use), "
                        + "then run apply again; nothing changed");
            }
        }
        return out;
    }

    /** A manifest path: relative to the target's base when inside it (always for $ORIGIN), else absolute. */
    static String relativeIfInside(Path base, Path p) {
        Path n = p.toAbsolutePath().normalize();
        return n.startsWith(base) && !n.equals(base) ? base.relativize(n).toString() : n.toString();
    }

    private static ApplyOutcome swap(InstallLayout layout, Options options, ManifestPaths.Resolved recorded,
                                     List<Manifest.FileEntry> unchanged, List<Work> work, List<ShimPlan> shims,
                                     List<FileReport> reports, List<String> messages) throws IOException {
        String nvmlPath = options.libraries().get(0).defaultPath();
        Manifest existing = recorded == null ? null : recorded.manifest();
        Path base = layout.base();
        // Every patched copy is written and verified before anything else changes.
        List<Manifest.FileEntry> entries = new ArrayList<>(unchanged);
        List<PendingFile> pending = new ArrayList<>();
        for (Work w : work) {
            try (ElfFile elf = ElfFile.open(w.source)) {
                VerifiedCopy.Written written = VerifiedCopy.writeVerifiedTo(elf, w.source, w.plan.edits(),
                        AtomicFiles.createExactTemp(w.file));
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
                String rel = base.relativize(w.file).toString();
                entries.add(new Manifest.FileEntry(rel, w.originalSha256, written.digests().outputHex(),
                        rel + InstallLayout.BACKUP_SUFFIX, siteEntries(base, w.plan)));
            } catch (IOException | RuntimeException e) {
                for (PendingFile p : pending) Files.deleteIfExists(p.written.temp());
                throw e;
            }
        }
        // The manifest first: whatever happens next, it describes both possible states of every file
        // and records every shim and backup this run creates.
        Manifest manifest = new Manifest(options.tool(), Instant.now().truncatedTo(ChronoUnit.SECONDS).toString(),
                nvmlPathWritten(entries, nvmlPath), entries, mergeShims(base, recorded, shims), nvmlPath,
                libraryEntries(options.libraries()));
        List<Swapped> swapped = new ArrayList<>();
        List<Path> newBackups = new ArrayList<>();
        List<Path> installedShims = new ArrayList<>();
        List<String> reinstalled = new ArrayList<>();
        try {
            manifest.write(layout.manifest());
            for (ShimPlan s : shims) {
                if (!s.install) continue;
                if (!s.existed) installedShims.add(s.path);
                ShimInstall.installAtExact(s.source, s.path);
                if (s.existed || work.isEmpty()) reinstalled.add("installed the shim " + s.path + " again");
            }
            for (PendingFile p : pending) {
                Path file = p.work.file;
                Path backup = InstallLayout.backupOf(file);
                boolean fresh = false;
                if (p.work.source.equals(file)) fresh = ensureBackup(file, backup, p.work.originalSha256);
                if (fresh) newBackups.add(backup);
                BasicFileAttributes now = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                if (!Objects.equals(now.fileKey(), p.work.before.fileKey()) || now.size() != p.work.before.size()
                        || !now.lastModifiedTime().equals(p.work.before.lastModifiedTime())) {
                    throw new PatchException(PatchException.Kind.REFUSED, file
                            + " changed while it was being patched; everything was put back");
                }
                AtomicFiles.commit(p.written.temp(), file);
                swapped.add(new Swapped(file, fresh));
            }
        } catch (IOException | RuntimeException e) {
            List<String> unfinished = rollBack(swapped, newBackups, installedShims, pending, existing, layout.manifest());
            if (!unfinished.isEmpty()) {
                throw new PatchException(PatchException.Kind.FAILED, Main_oneLine(e) + "; putting back failed too ("
                        + String.join("; ", unfinished) + "); every original is kept as <file>" + InstallLayout.BACKUP_SUFFIX
                        + " and " + layout.manifest() + " records them: run 'ollama-patch restore " + layout.target()
                        + "' to finish", e);
            }
            throw e;
        }
        for (PendingFile p : pending) {
            reports.add(new FileReport(p.work.file.toString(), p.work.sha256, p.work.plan, p.work.file.toString(),
                    p.written.digests().outputHex(), Status.PATCHED, p.work.shim).withIdentity(p.work.identity));
        }
        messages.addAll(reinstalled);
        if (!pending.isEmpty()) {
            messages.add("patched " + pending.size() + " file" + (pending.size() == 1 ? "" : "s") + "; originals kept as *"
                    + InstallLayout.BACKUP_SUFFIX + "; manifest " + layout.manifest());
        }
        messages.addAll(RunningProcesses.restartAdvice(swapped.stream().map(Swapped::file).toList()));
        return ApplyOutcome.done(messages, reports);
    }

    private static String Main_oneLine(Throwable e) {
        if (e instanceof java.nio.file.FileSystemException f) {
            return f.getFile() + (f.getOtherFile() != null ? " -> " + f.getOtherFile() : "") + ": "
                    + (f.getReason() != null ? f.getReason() : "file system error");
        }
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }

    private record PendingFile(Work work, VerifiedCopy.Written written) {}

    /** {@code fresh}: its backup was made by this run (a link to the original), so putting back is one rename. */
    private record Swapped(Path file, boolean fresh) {}

    /**
     * The backup is a hard link to the original's inode: no copy, and the rename leaves it intact.
     * Returns whether this run created it. A backup already there is this tool's (the manifest
     * records it; any other was refused while planning): kept when it is this original, else
     * replaced atomically by it (the file was upgraded since it was patched).
     */
    private static boolean ensureBackup(Path file, Path backup, String originalSha) throws IOException {
        if (Files.isSymbolicLink(backup)) {
            throw new PatchException(PatchException.Kind.REFUSED, backup + " is a symbolic link; refusing to write through it");
        }
        if (Files.exists(backup, LinkOption.NOFOLLOW_LINKS)) {
            String have = Sha256.of(backup).hex();
            if (have.equals(originalSha)) return false;
            Path temp = AtomicFiles.exactTemp(backup);
            Files.deleteIfExists(temp);
            Files.createLink(temp, file);
            AtomicFiles.commit(temp, backup);
            return false;
        }
        try {
            Files.createLink(backup, file);
        } catch (UnsupportedOperationException | java.nio.file.FileSystemException e) {
            if (e instanceof java.nio.file.FileSystemException f && !(f.getReason() != null
                    && f.getReason().contains("not permitted"))) throw f;
            // No hard links here (some file systems): a verified copy, through the exact temporary name.
            Path temp = AtomicFiles.exactTemp(backup);
            Files.deleteIfExists(temp);
            Files.copy(file, temp, java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
            AtomicFiles.fsync(temp);
            if (!Sha256.of(temp).hex().equals(originalSha)) {
                Files.deleteIfExists(temp);
                throw new PatchException(PatchException.Kind.REFUSED, file + " changed while it was being backed up; nothing changed");
            }
            Files.move(temp, backup, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        }
        AtomicFiles.fsyncDirectory(backup.getParent());
        return true;
    }

    /**
     * Puts back every file this run swapped, then removes what it created. Nothing is removed once a
     * put-back fails: the backups, shims and the manifest (which records them) stay for restore.
     * Returns what could not be put back, one phrase each.
     */
    private static List<String> rollBack(List<Swapped> swapped, List<Path> newBackups, List<Path> installedShims,
                                         List<PendingFile> pending, Manifest previous, Path manifestPath) {
        List<String> failed = new ArrayList<>();
        List<Path> consumed = new ArrayList<>();
        for (int i = swapped.size() - 1; i >= 0; i--) {
            Path file = swapped.get(i).file();
            Path backup = InstallLayout.backupOf(file);
            try {
                if (swapped.get(i).fresh()) {
                    // The backup made by this run is the original's inode: renamed back, it is the file again.
                    Files.move(backup, file, StandardCopyOption.ATOMIC_MOVE);
                    AtomicFiles.fsyncDirectory(file.getParent());
                    consumed.add(backup);
                } else {
                    Path temp = AtomicFiles.exactTemp(file);
                    Files.deleteIfExists(temp);
                    Files.createLink(temp, backup);
                    AtomicFiles.commit(temp, file);
                }
            } catch (IOException | RuntimeException e) {
                failed.add(file + ": " + Main_oneLine(e));
            }
        }
        for (PendingFile p : pending) {
            try { Files.deleteIfExists(p.written.temp()); } catch (IOException ignored) { /* removed by the next run */ }
        }
        if (!failed.isEmpty()) return failed;
        boolean clean = true;
        for (Path b : newBackups) {
            if (consumed.contains(b)) continue;
            // Made for a file that was never swapped: the file itself is still the original.
            try { Files.deleteIfExists(b); } catch (IOException e) { clean = false; }
        }
        for (Path s : installedShims) {
            try { Files.deleteIfExists(s); } catch (IOException e) { clean = false; }
        }
        if (!clean) return failed; // the manifest stays: it records what is left, and restore removes it
        try {
            if (previous != null) previous.write(manifestPath); else Files.deleteIfExists(manifestPath);
            AtomicFiles.fsyncDirectory(manifestPath.getParent());
        } catch (IOException ignored) {
            // The new manifest still describes both states of every file; verify says what holds.
        }
        return failed;
    }

    private static List<Manifest.ShimEntry> mergeShims(Path base, ManifestPaths.Resolved recorded, List<ShimPlan> planned) {
        Map<String, Manifest.ShimEntry> all = new LinkedHashMap<>();
        if (recorded != null) {
            for (ManifestPaths.Shim s : recorded.shims()) {
                String p = relativeIfInside(base, s.path());
                all.put(p, new Manifest.ShimEntry(p, s.entry().sha256(), s.entry().preexisting()));
            }
        }
        for (ShimPlan s : planned) {
            Manifest.ShimEntry old = all.get(s.entry.path());
            boolean preexisting = old != null ? old.preexisting() && s.entry.preexisting() : s.entry.preexisting();
            all.put(s.entry.path(), new Manifest.ShimEntry(s.entry.path(), s.entry.sha256(), preexisting));
        }
        return new ArrayList<>(all.values());
    }

    /**
     * The NVML path every file's NVML sites hold, when it is one: glob sites hold an absolute path,
     * so the manifest never claims {@code $ORIGIN} for them. Null when files differ.
     */
    static String nvmlPathWritten(List<Manifest.FileEntry> entries, String requested) {
        java.util.Set<String> paths = new java.util.LinkedHashSet<>();
        for (Manifest.FileEntry e : entries) {
            if (e.sites() == null) continue;
            for (Manifest.SiteEntry s : e.sites()) {
                if (!s.original().contains(LibraryTarget.NVML.stem())) continue;
                paths.add(s.replacement().replaceFirst("^/+(?=\\$ORIGIN)", "").replaceFirst("^/+", "/"));
            }
        }
        if (paths.isEmpty()) return requested;
        return paths.size() == 1 ? paths.iterator().next() : null;
    }

    static List<Manifest.LibraryEntry> libraryEntries(List<LibraryTarget> libraries) {
        List<Manifest.LibraryEntry> out = new ArrayList<>();
        for (LibraryTarget l : libraries.subList(1, libraries.size())) {
            out.add(new Manifest.LibraryEntry(l.name(), l.defaultPath(), l.file() == null ? null : l.file().toString()));
        }
        return out.isEmpty() ? null : out;
    }

    /**
     * The sites written, with how each resolves and the shims it resolves to: relative to the
     * target's base like every other path the manifest holds (absolute only outside it).
     */
    static List<Manifest.SiteEntry> siteEntries(Path base, Plan plan) {
        return plan.retargeted().stream().map(p -> new Manifest.SiteEntry(p.site().offset(), p.site().length(),
                p.site().kind().label(), p.site().original(), p.replacementText(),
                p.resolution() == null ? null : p.resolution().how().label(),
                p.shims().isEmpty() ? null : p.shims().stream().map(t -> relativeIfInside(base, t)).toList())).toList();
    }
}
