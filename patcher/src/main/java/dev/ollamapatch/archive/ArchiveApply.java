package dev.ollamapatch.archive;

import dev.ollamapatch.report.ApplyOutcome;
import dev.ollamapatch.io.AtomicFiles;
import dev.ollamapatch.report.FileReport;
import dev.ollamapatch.site.LibraryTarget;
import dev.ollamapatch.report.PatchException;
import dev.ollamapatch.report.Status;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * {@code apply ARCHIVE -o OUT}: checks the input's checksum, reads the archive's ELF entries as one
 * install and decides each of them (where the loader looks for each site: {@link ArchiveInstall}),
 * writes the patched archive in a second streaming pass into a temporary file beside OUT, verifies it in a second pass, fsyncs it and renames it into
 * place. Any failure deletes the temporary file: OUT is either untouched or complete.
 */
public final class ArchiveApply {
    /**
     * @param checksums   a sha256sum-format file the archive must match, or null
     * @param expectSha256 the archive's SHA-256, or null
     */
    public record Options(Path archive, Path output, List<LibraryTarget> libs, Path userShim, String prefix,
                          boolean dryRun, boolean force, Path checksums, String expectSha256) {}

    private ArchiveApply() {}

    public static ApplyOutcome run(Options o, Progress progress) throws IOException {
        ArchiveFormat format = checkArguments(o);
        if (o.checksums() != null) Checksums.verify(o.checksums(), o.archive());
        if (o.expectSha256() != null) Checksums.expect(o.expectSha256(), o.archive());
        Path destination = o.output().toAbsolutePath();
        Set<String> replace = new HashSet<>();
        if (o.dryRun()) {
            ArchivePatcher.Result r;
            do {
                r = pass(o, format, null, progress, replace, Status.PLANNED,
                        Path.of(System.getProperty("java.io.tmpdir")));
            } while (r.replace() != null && replace.add(r.replace()));
            return ended(o, r).orElse(ApplyOutcome.done(List.of(), r.reports()));
        }
        if (!Files.isDirectory(destination.getParent())) {
            throw new PatchException(PatchException.Kind.USAGE, "-o " + o.output() + ": the directory "
                    + destination.getParent() + " does not exist; nothing written");
        }
        try (dev.ollamapatch.install.TargetLock lock = dev.ollamapatch.install.TargetLock.acquire(outputLock(destination))) {
            // A killed run's output and spool, by their exact names (never a pattern), go first.
            for (Path left : List.of(AtomicFiles.exactTemp(destination), AtomicFiles.exactTemp(Path.of(destination + ".entry")))) {
                if (Files.isRegularFile(left, java.nio.file.LinkOption.NOFOLLOW_LINKS) || Files.isSymbolicLink(left)) {
                    Files.delete(left);
                }
            }
            return write(o, format, destination, progress, replace);
        }
    }

    /** One run at a time writes OUT: {@code .<OUT>.ollama-patch.lock} beside it, removed at the end. */
    public static Path outputLock(Path destination) {
        Path abs = destination.toAbsolutePath();
        return abs.resolveSibling("." + abs.getFileName() + ".ollama-patch.lock");
    }

    private static ApplyOutcome write(Options o, ArchiveFormat format, Path destination, Progress progress,
                                      Set<String> replace) throws IOException {
        Path temp = AtomicFiles.createExactTemp(destination);
        try {
            while (true) {
                ArchivePatcher.Result r;
                try (TarWriter w = TarWriter.create(temp, format)) {
                    r = pass(o, format, w, progress, replace, Status.PATCHED, destination.getParent());
                    if (r.replace() != null) {
                        // --force: start over, dropping the earlier entry where the shim goes.
                        replace.add(r.replace());
                        continue;
                    }
                    ApplyOutcome ended = ended(o, r).orElse(null);
                    if (ended != null) return ended;
                    w.finish();
                }
                ArchiveVerifier.verify(o.archive(), temp, format, r.entries());
                AtomicFiles.commit(temp, destination);
                return ApplyOutcome.done(List.of(String.format(
                        "wrote %s: %d entr%s patched, %d shim%s added, verified", destination, r.patched(),
                        r.patched() == 1 ? "y" : "ies", r.shims(), r.shims() == 1 ? "" : "s")), r.reports());
            }
        } finally {
            Files.deleteIfExists(temp);
        }
    }

    /** {@code scan ARCHIVE}: the report of every ELF entry, nothing written. */
    public static List<FileReport> scan(Path archive, List<LibraryTarget> libs, String prefix) throws IOException {
        ArchiveFormat format = ArchiveFormat.of(archive).orElseThrow();
        ArchivePatcher.Options po = new ArchivePatcher.Options(libs, null, checkPrefix(prefix), false,
                Path.of(System.getProperty("java.io.tmpdir")), null, Status.FOUND, true);
        return run(archive, format, null, po, Progress.NONE, Set.of()).reports();
    }

    private static ArchivePatcher.Result pass(Options o, ArchiveFormat format, TarWriter w, Progress progress,
                                              Set<String> replace, Status status,
                                              Path spoolDir) throws IOException {
        ArchivePatcher.Options po = new ArchivePatcher.Options(o.libs(), o.userShim(), checkPrefix(o.prefix()),
                o.force(), spoolDir, w == null ? null : o.output().toAbsolutePath().toString(), status, false);
        try {
            return run(o.archive(), format, w, po, progress, replace);
        } finally {
            progress.finish();
        }
    }

    /** Maps read failures to exit 4 and write failures to exit 1, each naming the archive. */
    private static ArchivePatcher.Result run(Path archive, ArchiveFormat format, TarWriter w,
                                             ArchivePatcher.Options po, Progress progress, Set<String> replace)
            throws IOException {
        try {
            // Pass 1 decides every ELF entry with the whole archive as its install; pass 2 writes.
            ArchiveInstall install = ArchiveInstall.read(archive, format, po, progress);
            return ArchivePatcher.run(archive, format, w, po, install, progress, replace);
        } catch (ArchiveReadException e) {
            throw new PatchException(PatchException.Kind.INVALID_INPUT, archive + ": " + e.getMessage()
                    + (w == null ? "" : "; nothing written"), e);
        } catch (IOException e) {
            throw new PatchException(PatchException.Kind.FAILED, archive + ": " + (w == null ? "" : "writing "
                    + po.output() + ": ") + (e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName())
                    + (w == null ? "" : "; nothing written"), e);
        }
    }

    /**
     * A refusal; or, as for a file, nothing to patch when nothing names NVML and done when already
     * patched: in all three cases nothing is written. Empty when the pass has entries to write.
     */
    private static java.util.Optional<ApplyOutcome> ended(Options o, ArchivePatcher.Result r) {
        if (r.refusal() != null) return java.util.Optional.of(ApplyOutcome.refused(r.refusal(), r.reports()));
        if (r.patched() > 0) return java.util.Optional.empty();
        boolean already = r.alreadyPatched() > 0;
        String what = already ? "already patched (its entries name the shim); nothing to do"
                : "nothing to patch: no entry names " + LibraryTarget.NVML.name();
        List<String> line = List.of(o.archive() + ": " + what + "; nothing written");
        return java.util.Optional.of(already ? ApplyOutcome.done(line, r.reports())
                : ApplyOutcome.nothingToPatch(line, r.reports()));
    }

    private static ArchiveFormat checkArguments(Options o) {
        ArchiveFormat format = ArchiveFormat.of(o.archive()).orElseThrow();
        if (o.output() == null) {
            throw new PatchException(PatchException.Kind.USAGE, o.archive()
                    + ": an archive is not patched in place; give the output archive with -o OUT");
        }
        ArchiveFormat outFormat = ArchiveFormat.of(o.output()).orElse(null);
        if (outFormat != format) {
            throw new PatchException(PatchException.Kind.USAGE, "-o " + o.output() + ": the output must be an archive "
                    + "of the input's kind (" + String.join(" or ", format.suffixes()) + ")");
        }
        if (Files.isDirectory(o.archive())) {
            throw new PatchException(PatchException.Kind.USAGE, o.archive() + ": is a directory, not an archive");
        }
        try {
            if (Files.exists(o.output()) && Files.isSameFile(o.archive(), o.output())) {
                throw new PatchException(PatchException.Kind.USAGE, "-o " + o.output() + " is the input archive");
            }
        } catch (IOException e) {
            // cannot tell; the rename at the end still cannot mix the two
        }
        return format;
    }

    private static String checkPrefix(String prefix) {
        if (!prefix.startsWith("/")) {
            throw new PatchException(PatchException.Kind.USAGE, "--prefix " + prefix + ": must be an absolute directory");
        }
        return prefix;
    }

    /** A progress bar on {@code err} when {@code show}; otherwise silent. */
    public static Progress progress(java.io.PrintWriter err, Path archive, boolean show) {
        if (!show) return Progress.NONE;
        try {
            return Progress.bar(err, Files.size(archive));
        } catch (IOException e) {
            return Progress.NONE;
        }
    }
}
