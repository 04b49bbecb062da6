package dev.ollamapatch.install;

import dev.ollamapatch.decide.ShimSource;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.io.AtomicFiles;
import dev.ollamapatch.io.Sha256;
import dev.ollamapatch.io.VerifiedCopy;
import dev.ollamapatch.plan.Plan;
import dev.ollamapatch.plan.ShimCheck;
import dev.ollamapatch.report.ApplyOutcome;
import dev.ollamapatch.report.FileReport;
import dev.ollamapatch.report.PatchException;
import dev.ollamapatch.report.Status;

import java.io.IOException;
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
 * The in-place transaction, once {@link InPlaceApply} has planned it: write the manifest (it names
 * both hashes of every file); install shims; for each file write a verified patched copy beside it,
 * hard-link the original as {@code .orig}, and rename the copy over it. Any failure puts back every
 * file already swapped and removes what this run installed.
 */
final class InPlaceTransaction {
    /**
     * A file to patch: the file, where its bytes come from (itself, or its kept original when
     * re-targeting), that source opened once, its hash, its plan, the shim chosen for it and its check
     * (null when NVML is not retargeted), and its attributes when planned.
     */
    record Work(Path file, Path source, ElfFile elf, Sha256 sha256, Plan plan, ShimCheck.Result shim,
                ShimSource shimSource, BasicFileAttributes before, Sha256 originalSha256) {}

    private InPlaceTransaction() {}

    static ApplyOutcome commit(InstallLayout layout, InPlaceApply.Options options, Manifest existing, List<Manifest.FileEntry> unchanged,
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
            Sha256 sha = Sha256.of(e.getValue().bytes());
            boolean pre = false;
            if (Files.exists(e.getKey(), LinkOption.NOFOLLOW_LINKS)) {
                Sha256 have = Sha256.of(e.getKey());
                boolean ours = existing != null && existing.shims() != null
                        && existing.shims().stream().anyMatch(s -> s.path().equals(e.getKey().toString()));
                pre = have.equals(sha) && !ours;
                if (!have.equals(sha) && !ours && !options.force()) {
                    throw new PatchException(PatchException.Kind.REFUSED, e.getKey()
                            + " exists and is not the shim to install; move it away or use --force; nothing changed");
                }
            }
            shimEntries.add(new Manifest.ShimEntry(e.getKey().toString(), sha.hex(), pre));
        }
        // The manifest first: whatever happens next, it describes both possible states of every file.
        List<Manifest.FileEntry> entries = new ArrayList<>(unchanged);
        List<PendingFile> pending = new ArrayList<>();
        for (Work w : work) {
            try {
                VerifiedCopy.Written written = VerifiedCopy.writeVerified(w.elf, w.source, w.plan.edits(), w.file);
                // The copy hashes what it read: a different digest means the source (the file, or its
                // kept original when re-targeting) changed after it was planned.
                Sha256 planned = w.source.equals(w.file) ? w.sha256 : w.originalSha256;
                if (!planned.matches(written.digests().inputHex())) {
                    Files.deleteIfExists(written.temp());
                    throw new PatchException(PatchException.Kind.REFUSED, w.source + ": changed while it was being "
                            + "patched (SHA-256 " + planned + " when planned, " + written.digests().inputHex()
                            + " when copied); nothing changed");
                }
                pending.add(new PendingFile(w, written));
                entries.add(new Manifest.FileEntry(w.file.toString(), w.originalSha256.hex(), written.digests().outputHex(),
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
            reports.add(new FileReport(p.work.file.toString(), p.work.sha256.hex(), p.work.plan, p.work.file.toString(),
                    p.written.digests().outputHex(), Status.PATCHED, p.work.shim));
        }
        messages.add("patched " + pending.size() + " file" + (pending.size() == 1 ? "" : "s") + "; originals kept as *"
                + InstallLayout.BACKUP_SUFFIX + "; manifest " + layout.manifest());
        messages.addAll(RunningProcesses.restartAdvice(swapped));
        return ApplyOutcome.done(messages, reports);
    }

    private record PendingFile(Work work, VerifiedCopy.Written written) {}

    /** The backup is a hard link to the original's inode: no copy, and the rename leaves it intact. */
    private static void ensureBackup(Path file, Path backup, Sha256 originalSha, List<Path> created) throws IOException {
        if (Files.isSymbolicLink(backup)) {
            throw new PatchException(PatchException.Kind.REFUSED, backup + " is a symbolic link; refusing to write through it");
        }
        if (Files.exists(backup, LinkOption.NOFOLLOW_LINKS)) {
            if (Sha256.of(backup).equals(originalSha)) return;
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
}
