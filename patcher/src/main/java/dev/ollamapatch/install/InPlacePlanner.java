package dev.ollamapatch.install;

import dev.ollamapatch.decide.Decision;
import dev.ollamapatch.decide.FilePasses;
import dev.ollamapatch.decide.FileStep;
import dev.ollamapatch.decide.ShimSource;
import dev.ollamapatch.elf.ByteSource;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfFormatException;
import dev.ollamapatch.elf.ElfNames;
import dev.ollamapatch.io.Sha256;
import dev.ollamapatch.io.VerifiedCopy;
import dev.ollamapatch.ollama.Identity;
import dev.ollamapatch.plan.Plan;
import dev.ollamapatch.plan.PlanOptions;
import dev.ollamapatch.plan.Planner;
import dev.ollamapatch.plan.ShimCheck;
import dev.ollamapatch.report.ApplyOutcome;
import dev.ollamapatch.report.FileReport;
import dev.ollamapatch.report.PatchException;
import dev.ollamapatch.report.Refusal;
import dev.ollamapatch.report.Status;
import dev.ollamapatch.resolve.InstallResolutions;
import dev.ollamapatch.resolve.ShimTargets;
import dev.ollamapatch.site.LibraryTarget;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Plans an in-place apply without writing anything: each file's decision ({@link FileStep}), whether
 * it is already patched as asked or must be re-targeted from its backup, which shim goes into which
 * directory (every directory a site resolves to) and whether it is ours to install, and what the
 * manifest will record. The run either ends here (refused, nothing to patch, already patched) or
 * gets an {@link InPlacePlan} for {@link InPlaceTransaction}.
 */
final class InPlacePlanner {
    private InPlacePlanner() {}

    /** How planning ended: the run's outcome already, or a plan to carry out. */
    sealed interface Result permits Ends, Ready {}

    /** The run ends without writing: refused, nothing to patch, or every file already patched as asked. */
    record Ends(ApplyOutcome outcome) implements Result {}

    /** A plan, with the reports of the files it leaves alone and the lines to tell the user so far. */
    record Ready(InPlacePlan plan, List<FileReport> reports, List<String> messages) implements Result {}

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

    /** Plans the run; {@code recorded}: the manifest already there, its paths checked, or null. */
    static Result plan(InstallLayout layout, InPlaceApply.Options options, ManifestPaths.Resolved recorded)
            throws IOException {
        List<FileReport> reports = new ArrayList<>();
        Manifest existing = recorded == null ? null : recorded.manifest();
        String nvmlPath = options.libraries().get(0).defaultPath();

        List<String> messages = new ArrayList<>();
        List<InPlacePlan.FileChange> work = new ArrayList<>();
        List<Path> clean = new ArrayList<>(); // files that name nothing to patch
        Map<Path, Manifest.StatRecord> statusWhenPlanned = new LinkedHashMap<>();
        List<Manifest.FileEntry> unchanged = new ArrayList<>();
        // The shim each patched file needs, by where it goes; a patched file already in place needs its own too.
        Map<Path, ShimNeed> shimNeeds = new LinkedHashMap<>();
        int alreadyPatched = 0;
        List<String> withoutNvml = new ArrayList<>();
        List<String> libMessages = new ArrayList<>();
        if (options.expectSha256() != null && layout.directory()) {
            throw new PatchException(PatchException.Kind.USAGE, "--expect-sha256 applies to a single file, not a directory");
        }
        // Each file is read once, ahead on two threads (FilePasses): which names it holds at all, and its
        // SHA-256 where the hash is needed before deciding (asked for, or a file the manifest records). A
        // file that names something is hashed before it is decided, as always; one that names nothing is
        // decided without another read and hashed only if a report needs its hash.
        java.util.function.Predicate<Path> hashFirst = f -> options.expectSha256() != null
                || (recorded != null && recorded.file(f) != null);
        try (FilePasses passes = FilePasses.start(layout.files(), FilePasses.needles(options.libraries()),
                FilePasses.located(options.libraries()), hashFirst);
             InstallResolutions resolutions = InstallResolutions.of(layout.files())) {
        // A file that names a library will need its dlopen calls: found on a reading thread meanwhile.
        passes.whenLocated(resolutions::warm);
        for (Path file : layout.files()) {
            BasicFileAttributes before = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            Manifest.StatRecord status = FileStatus.of(file); // before the file is read (its pass is checked after)
            FilePasses.Pass pass = passes.take(file);
            FileHash shaOf = new FileHash(file, pass == null ? null : pass.sha256());
            boolean namesNothing = pass != null && pass.census().noneFound() && shaOf.known() == null;
            if (!namesNothing) shaOf.now();
            String sha = shaOf.known(); // null only for a file that names nothing (no manifest entry, no --expect-sha256)
            if (options.expectSha256() != null && !options.expectSha256().equalsIgnoreCase(sha)) {
                return new Ends(ApplyOutcome.refused(String.format("%s: SHA-256 is %s, expected %s; nothing changed",
                        file, sha, options.expectSha256().toLowerCase()), reports));
            }
            ManifestPaths.File entry = recorded == null ? null : recorded.file(file);
            Path source = file;
            String originalSha = null; // the source's hash when it is the backup (re-targeting)
            if (entry != null && sha.equals(entry.entry().patchedSha256())) {
                String change = retargeting(existing, options.libraries());
                if (change == null || !options.force()) {
                    if (change != null) {
                        return new Ends(ApplyOutcome.refused(String.format(
                                "%s is already patched (by %s, to %s); %s: re-target it with --force",
                                file, existing.tool(), String.join(", ", writtenPaths(entry.entry())), change), reports));
                    }
                    Manifest.FileEntry e = entry.entry();
                    unchanged.add(new Manifest.FileEntry(entry.relative(), e.originalSha256(), e.patchedSha256(),
                            entry.relative() + InstallLayout.BACKUP_SUFFIX, e.sites()));
                    alreadyPatched++;
                    if (status != null) statusWhenPlanned.put(file, status);
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
                                Refusal r = need(shimNeeds, shimAt, ShimSource.choose(options.shim(), elf), file, elf);
                                if (r != null) return new Ends(r.outcome());
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
                    return new Ends(ApplyOutcome.refused(source + ": the backup does not match the manifest; "
                            + "cannot re-target " + file, reports));
                }
                originalSha = backupSha;
            }
            try (ElfFile elf = ElfFile.open(source)) {
                if (source.equals(file) && pass != null && passes.take(file, elf) == null) {
                    shaOf.now(); // changed since its pass: hashed before it is decided, as always
                }
                Decision d = FileStep.decide(elf, new FileStep.Options(
                        new PlanOptions(options.libraries(), file.getParent().toString(), resolutions.forFile(file)),
                        e -> ShimSource.choose(options.shim(), e), false));
                Identity id = Identities.of(elf, source.equals(file) ? file : null, d.plan().scan(), shaOf,
                        options.libraries());
                if (d instanceof Decision.Refused r) {
                    reports.add(r.report(file.toString(), shaOf.get(), false).withIdentity(id));
                    return new Ends(ApplyOutcome.refused(file + ": " + r.reason() + "; nothing changed", reports));
                }
                if (d instanceof Decision.AlreadyPatched || (!(d instanceof Decision.Planned) && id.patched().patched())) {
                    alreadyPatched++;
                    reports.add(d.report(file.toString(), shaOf.get(), Status.ALREADY_PATCHED).withIdentity(id));
                    messages.add(file + ": already patched (per " + id.patched().by() + ", to "
                            + String.join(", ", id.patched().paths()) + "); nothing to do");
                } else if (d instanceof Decision.Nothing && id.withoutNvml()) {
                    withoutNvml.add(file + ": " + id.withoutNvmlLine());
                }
                if (d instanceof Decision.Nothing && !id.patched().patched() && source.equals(file) && status != null) {
                    clean.add(file);
                    statusWhenPlanned.put(file, status);
                }
                if (!(d instanceof Decision.Planned p)) continue;
                Plan plan = p.plan();
                Map<Path, ShimSource> libs = Libraries.check(elf, file, plan, options.libraries(), file, libMessages);
                Path backup = InstallLayout.backupOf(file);
                if (entry == null && Files.exists(backup, LinkOption.NOFOLLOW_LINKS)) {
                    // Never overwrite (nor later rename away) a file this tool did not write.
                    return new Ends(Refusal.refused(backup + " exists and was not written by "
                            + "ollama-patch (no manifest records it); move it elsewhere, then run apply again; nothing changed")
                            .outcome());
                }
                ShimCheck.Result check = p.shimCheck();
                if (p.shim() != null) {
                    // Every file a site resolves to (issue 14): beside the object whose call the loader sees.
                    for (Path shimAt : ShimTargets.of(plan, file, LibraryTarget.NVML)) {
                        // A resolution may name another directory than the file's: the same checks as for it.
                        Optional<Refusal> unsafe = InstallSafety.checkOutput(file, file, shimAt, options.allowOutside());
                        if (unsafe.isPresent()) return new Ends(unsafe.get().outcome());
                        Refusal r = need(shimNeeds, shimAt, p.shim(), file, elf);
                        if (r != null) return new Ends(r.outcome());
                    }
                }
                // --lib-file replacements: installed and recorded like the shim (restore removes them).
                for (Map.Entry<Path, ShimSource> lib : libs.entrySet()) {
                    if (shimNeeds.containsKey(lib.getKey())) continue;
                    Refusal r = need(shimNeeds, lib.getKey(), lib.getValue(), file, elf);
                    if (r != null) return new Ends(r.outcome());
                }
                Path from = source;
                String rel = layout.base().relativize(file).toString();
                String shaNow = shaOf.get();
                String orig = originalSha != null ? originalSha : shaNow;
                work.add(new InPlacePlan.FileChange(file, source, source.equals(file) ? shaNow : orig, orig,
                        before, rel, siteEntries(layout.base(), plan), temp -> copy(from, plan, temp), shaNow, plan, check, id));
            } catch (ElfFormatException e) {
                throw new PatchException(PatchException.Kind.INVALID_INPUT, source + ": " + e.getMessage(), e);
            }
        }
        }
        List<InPlacePlan.ShimChange> shims = new ArrayList<>();
        Refusal shimRefused = planShims(layout, recorded, shimNeeds, shims);
        if (shimRefused != null) return new Ends(shimRefused.outcome());
        boolean shimWork = shims.stream().anyMatch(InPlacePlan.ShimChange::install);
        if (work.isEmpty() && !shimWork) {
            if (alreadyPatched > 0) return new Ends(ApplyOutcome.done(messages, reports));
            messages.addAll(withoutNvml);
            if (withoutNvml.isEmpty()) {
                messages.add(layout.target() + ": nothing to patch: no file names " + LibraryTarget.NVML.name());
            }
            return new Ends(ApplyOutcome.nothingToPatch(messages, reports));
        }
        messages.addAll(libMessages);
        InPlacePlan.ManifestContent content = new InPlacePlan.ManifestContent(options.tool(), nvmlPath,
                mergeShims(layout.base(), recorded, shims), libraryEntries(options.libraries()));
        return new Ready(new InPlacePlan(layout.manifest(), existing, unchanged, work, shims, content, clean, statusWhenPlanned), reports, messages);
    }

    /**
     * A file's SHA-256 as the plan needs it: the one its read-ahead pass took, else computed the first time
     * it is asked for (a file that names nothing is hashed only if a report needs its hash).
     */
    private static final class FileHash implements java.util.function.Supplier<String> {
        private final Path file;
        private String hex;

        FileHash(Path file, String fromPass) {
            this.file = file;
            this.hex = fromPass;
        }

        /** The hash if it is known yet; else null. */
        String known() {
            return hex;
        }

        /** The hash, computed now if not yet known (failing as any read of the file does). */
        String now() throws IOException {
            if (hex == null) hex = Sha256.of(file).hex();
            return hex;
        }

        @Override
        public String get() {
            try {
                return now();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
    }

    /** The patched copy of {@code source}: written by {@link VerifiedCopy}, which reads the source once and checks the result. */
    private static InPlacePlan.Copied copy(Path source, Plan plan, Path temp) throws IOException {
        try (ElfFile elf = ElfFile.open(source)) {
            VerifiedCopy.Written written = VerifiedCopy.writeVerifiedTo(elf, source, plan.edits(), temp);
            return new InPlacePlan.Copied(written.digests().inputHex(), written.digests().outputHex());
        }
    }

    /** A shim some file needs at {@code path}; a second file of another machine (or shim) in that directory is refused. */
    private record ShimNeed(ShimSource source, String sha256, Path firstFile, String machine) {}

    /** Records the need; a refusal when another file needs another shim at the same path, else null. */
    private static Refusal need(Map<Path, ShimNeed> needs, Path path, ShimSource source, Path file, ElfFile elf) {
        String sha = Sha256.of(ByteSource.of(source.bytes())).hex();
        String machine = ElfNames.machine(elf.header().machine());
        ShimNeed had = needs.putIfAbsent(path, new ShimNeed(source, sha, file, machine));
        if (had != null && !had.sha256.equals(sha)) {
            return Refusal.refused(String.format(
                    "%s (%s) and %s (%s) would both load %s, and one shim cannot serve both; patch them from "
                            + "separate directories (or give one the other machine's file with --shim); nothing changed",
                    had.firstFile, had.machine, file, machine, path));
        }
        return null;
    }


    /**
     * Adds to {@code out} what to do with each shim; returns a refusal (and {@code out} is to be
     * dropped) when a shim cannot go where it must. A shim is this tool's when a manifest records it as installed (this one, or another target's in
     * the same place: shims are shared). Ours and missing or changed: installed again. Not ours:
     * never overwritten; an identical one is used and recorded as pre-existing (never removed).
     */
    private static Refusal planShims(InstallLayout layout, ManifestPaths.Resolved recorded,
                                     Map<Path, ShimNeed> needs, List<InPlacePlan.ShimChange> out) throws IOException {
        for (Map.Entry<Path, ShimNeed> e : needs.entrySet()) {
            Path path = e.getKey();
            ShimNeed need = e.getValue();
            Refusal linked = ShimDirectories.linkOnTheWay(layout.base(), path);
            if (linked != null) return linked;
            Map<Path, Manifest.ShimEntry> others = ShimRefs.others(path, layout.manifest());
            for (Map.Entry<Path, Manifest.ShimEntry> o : others.entrySet()) {
                if (!o.getValue().sha256().equals(need.sha256)) {
                    return Refusal.refused(String.format(
                            "%s is the shim of another patched target (manifest %s), and %s (%s) needs a different one; "
                                    + "one directory cannot hold both; patch it from another directory; nothing changed",
                            path, o.getKey(), need.firstFile, need.machine));
                }
            }
            ManifestPaths.Shim own = recorded == null ? null : recorded.shim(path);
            boolean exists = Files.exists(path, LinkOption.NOFOLLOW_LINKS);
            String rel = relativeIfInside(layout.base(), path);
            if (!exists) {
                out.add(new InPlacePlan.ShimChange(path, need.source, new Manifest.ShimEntry(rel, need.sha256, false,
                        ShimDirectories.missing(layout.base(), path)), true, false));
                continue;
            }
            if (!Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS)) {
                return Refusal.refused(path
                        + " exists and is not a regular file; move it elsewhere, then run apply again; nothing changed");
            }
            String have = Sha256.of(path).hex();
            boolean ours = (own != null && !own.entry().preexisting()) || !others.isEmpty();
            if (ours) {
                out.add(new InPlacePlan.ShimChange(path, need.source, new Manifest.ShimEntry(rel, need.sha256, false),
                        !have.equals(need.sha256), true));
            } else if (have.equals(need.sha256)) {
                out.add(new InPlacePlan.ShimChange(path, need.source, new Manifest.ShimEntry(rel, need.sha256, true), false, true));
            } else {
                return Refusal.refused(path + " exists and was not installed by "
                        + "ollama-patch; move it elsewhere (or give it with --shim if it is the shim to use), "
                        + "then run apply again; nothing changed");
            }
        }
        return null;
    }

    /** A manifest path: relative to the target's base when inside it (always for $ORIGIN), else absolute. */
    static String relativeIfInside(Path base, Path p) {
        Path n = p.toAbsolutePath().normalize();
        return n.startsWith(base) && !n.equals(base) ? base.relativize(n).toString() : n.toString();
    }

    private static List<Manifest.ShimEntry> mergeShims(Path base, ManifestPaths.Resolved recorded, List<InPlacePlan.ShimChange> planned) {
        Map<String, Manifest.ShimEntry> all = new LinkedHashMap<>();
        if (recorded != null) {
            for (ManifestPaths.Shim s : recorded.shims()) {
                String p = relativeIfInside(base, s.path());
                all.put(p, new Manifest.ShimEntry(p, s.entry().sha256(), s.entry().preexisting(),
                        s.entry().directoriesOrEmpty()));
            }
        }
        for (InPlacePlan.ShimChange s : planned) {
            Manifest.ShimEntry old = all.get(s.entry().path());
            boolean preexisting = old != null ? old.preexisting() && s.entry().preexisting() : s.entry().preexisting();
            List<String> dirs = new ArrayList<>(old != null ? old.directoriesOrEmpty() : List.of());
            for (String d : s.entry().directoriesOrEmpty()) if (!dirs.contains(d)) dirs.add(d);
            all.put(s.entry().path(), new Manifest.ShimEntry(s.entry().path(), s.entry().sha256(), preexisting, dirs));
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
