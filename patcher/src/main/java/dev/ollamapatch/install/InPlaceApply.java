package dev.ollamapatch.install;

import dev.ollamapatch.decide.Decision;
import dev.ollamapatch.decide.FileStep;
import dev.ollamapatch.decide.ShimSource;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfFormatException;
import dev.ollamapatch.io.Sha256;
import dev.ollamapatch.plan.PlanOptions;
import dev.ollamapatch.report.ApplyOutcome;
import dev.ollamapatch.report.FileReport;
import dev.ollamapatch.report.PatchException;
import dev.ollamapatch.report.Status;
import dev.ollamapatch.site.LibraryTarget;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * {@code apply TARGET} without {@code -o}: patch a binary or a whole install where it stands, as one
 * transaction. This class plans it: lock; open every file once; decide each one ({@code FileStep}),
 * nothing written. {@link InPlaceTransaction} then carries it out.
 */
public final class InPlaceApply {

    public record Options(List<LibraryTarget> libraries, Path shim, boolean dryRun, boolean force,
                          String expectSha256, String tool, boolean allowOutside) {
        public Options(List<LibraryTarget> libraries, Path shim, boolean dryRun, boolean force, String expectSha256,
                       String tool) {
            this(libraries, shim, dryRun, force, expectSha256, tool, false);
        }
    }



    private InPlaceApply() {}

    /** Patches in place; the outcome holds each file's report, also when the run is refused. */
    public static ApplyOutcome run(InstallLayout layout, Options options) throws IOException {
        List<FileReport> reports = new ArrayList<>();
        // Each file is opened once, here, and read through that one mapping until the end: hashed,
        // decided, copied. Files opened to re-target from a backup join the list.
        List<ElfFile> opened = new ArrayList<>();
        try {
            Map<Path, ElfFile> files = preflight(layout, opened);
            InstallSafety.checkInPlace(layout, options.libraries(), options.allowOutside());
            // A dry run only reads: no lock file is created and no leftover is cleaned up.
            if (options.dryRun()) return patch(layout, options, files, opened, reports);
            try (TargetLock lock = TargetLock.acquire(layout.lock())) {
                removeStaleTemporaries(layout.files());
                return patch(layout, options, files, opened, reports);
            }
        } finally {
            for (ElfFile elf : opened) elf.close();
        }
    }

    /**
     * Read-only checks before anything is created (not even the lock file): there are files, and
     * each one is an ELF file whose tables the site finder reads are well formed. A malformed input
     * is refused here with exit 4 and leaves the directory exactly as it was.
     */
    private static Map<Path, ElfFile> preflight(InstallLayout layout, List<ElfFile> opened) throws IOException {
        if (layout.files().isEmpty()) {
            throw new PatchException(PatchException.Kind.NOTHING_TO_PATCH, layout.target() + ": no ELF files found");
        }
        Map<Path, ElfFile> files = new LinkedHashMap<>();
        for (Path file : layout.files()) {
            if (!Files.isRegularFile(file)) {
                throw new PatchException(PatchException.Kind.INVALID_INPUT, file + ": not a regular file");
            }
            try {
                ElfFile elf = ElfFile.open(file);
                opened.add(elf);
                files.put(file, elf);
                elf.dynamic();
                elf.dynamicSymbols();
                elf.versionNeeds();
                elf.relativeRelocations();
                elf.notes();
            } catch (ElfFormatException e) {
                throw new PatchException(PatchException.Kind.INVALID_INPUT, file + ": " + e.getMessage(), e);
            }
        }
        return files;
    }

    private static ApplyOutcome patch(InstallLayout layout, Options options, Map<Path, ElfFile> files,
                                      List<ElfFile> opened, List<FileReport> reports) throws IOException {
        Manifest existing = Manifest.exists(layout.manifest()) ? Manifest.read(layout.manifest()) : null;
        Map<String, Manifest.FileEntry> recorded = new LinkedHashMap<>();
        if (existing != null) existing.files().forEach(f -> recorded.put(f.path(), f));
        String nvmlPath = options.libraries().get(0).defaultPath();

        List<String> messages = new ArrayList<>();
        List<InPlaceTransaction.Work> work = new ArrayList<>();
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
            ElfFile elf = files.get(file);
            Sha256 hash = Sha256.of(elf.bytes());
            String sha = hash.hex();
            if (options.expectSha256() != null && !hash.matches(options.expectSha256())) {
                return ApplyOutcome.refused(String.format("%s: SHA-256 is %s, expected %s; nothing changed", file, sha,
                        options.expectSha256().toLowerCase()), reports);
            }
            Manifest.FileEntry entry = recorded.get(file.toString());
            Path source = file;
            Sha256 originalSha = hash;
            if (entry != null && hash.matches(entry.patchedSha256())) {
                if (Objects.equals(existing.shimPath(), nvmlPath) || !options.force()) {
                    if (!Objects.equals(existing.shimPath(), nvmlPath)) {
                        return ApplyOutcome.refused(String.format(
                                "%s is already patched to load %s; re-target it to %s with --force", file,
                                existing.shimPath(), nvmlPath), reports);
                    }
                    unchanged.add(entry);
                    alreadyPatched++;
                    messages.add(file + ": already patched for " + existing.shimPath() + "; nothing to do");
                    continue;
                }
                // --force with another path: re-plan from the kept original.
                source = InstallLayout.backupOf(file);
                try {
                    elf = ElfFile.open(source);
                } catch (ElfFormatException e) {
                    throw new PatchException(PatchException.Kind.INVALID_INPUT, source + ": " + e.getMessage(), e);
                }
                opened.add(elf);
                Sha256 backupSha = Sha256.of(elf.bytes());
                if (!backupSha.matches(entry.originalSha256())) {
                    return ApplyOutcome.refused(source + ": the backup does not match the manifest; cannot re-target "
                            + file, reports);
                }
                originalSha = backupSha;
            }
            try {
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
                    work.add(new InPlaceTransaction.Work(file, source, elf, hash, p.plan(), p.shimCheck(), p.shim(), before, originalSha));
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
            for (InPlaceTransaction.Work w : work) {
                reports.add(new FileReport(w.file().toString(), w.sha256().hex(), w.plan(), null, null, Status.PLANNED,
                        w.shim()));
            }
            return ApplyOutcome.done(messages, reports);
        }
        return InPlaceTransaction.commit(layout, options, existing, unchanged, work, reports, messages);
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
