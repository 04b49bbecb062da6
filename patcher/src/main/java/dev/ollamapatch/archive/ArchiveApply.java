package dev.ollamapatch.archive;

import dev.ollamapatch.report.ApplyOutcome;
import dev.ollamapatch.io.AtomicFiles;
import dev.ollamapatch.report.FileReport;
import dev.ollamapatch.site.LibraryTarget;
import dev.ollamapatch.report.PatchException;
import dev.ollamapatch.report.Refusal;
import dev.ollamapatch.install.TargetLock;
import dev.ollamapatch.report.Status;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * {@code apply ARCHIVE -o OUT}: checks the input's checksum, reads the archive's ELF entries as one
 * install and decides each of them, the shim entries and the existing entries where a shim goes
 * ({@link ArchiveInstall}, pass 1, nothing written), writes the patched archive in one more streaming
 * pass into a temporary file beside OUT ({@link ArchivePatcher}, pass 2), verifies it, fsyncs it and
 * renames it into place. Any failure deletes the temporary file: OUT is either untouched or complete.
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
        Optional<Refusal> mismatch = o.checksums() != null ? Checksums.verify(o.checksums(), o.archive()) : Optional.empty();
        if (mismatch.isEmpty() && o.expectSha256() != null) mismatch = Checksums.expect(o.expectSha256(), o.archive());
        if (mismatch.isPresent()) return mismatch.get().outcome();
        Path destination = o.output().toAbsolutePath();
        if (o.dryRun()) {
            ArchivePatcher.Options po = options(o, false, Status.PLANNED, Path.of(System.getProperty("java.io.tmpdir")));
            ArchiveInstall install = firstPass(o.archive(), format, po, progress);
            if (install.refusal().isPresent()) return install.refusal().get().outcome();
            ArchivePatcher.Result r = secondPass(o.archive(), format, null, po, install, progress);
            return ended(o, r).orElse(ApplyOutcome.done(List.of(), r.reports()));
        }
        if (!Files.isDirectory(destination.getParent())) {
            throw new PatchException(PatchException.Kind.USAGE, "-o " + o.output() + ": the directory "
                    + destination.getParent() + " does not exist; nothing written");
        }
        TargetLock.Attempt attempt = TargetLock.tryAcquire(outputLock(destination));
        if (attempt.refusal() != null) return attempt.refusal().outcome();
        try (TargetLock lock = attempt.lock()) {
            // A killed run's output and spool, by their exact names (never a pattern), go first.
            for (Path left : List.of(AtomicFiles.exactTemp(destination), AtomicFiles.exactTemp(Path.of(destination + ".entry")))) {
                if (Files.isRegularFile(left, java.nio.file.LinkOption.NOFOLLOW_LINKS) || Files.isSymbolicLink(left)) {
                    Files.delete(left);
                }
            }
            // Older versions' output temporaries and spools (random names), when proven the tool's own.
            dev.ollamapatch.install.OldLeftovers.removeProven(
                    dev.ollamapatch.install.OldLeftovers.besideOutput(destination, List.of()));
            return write(o, format, destination, progress);
        }
    }

    /** One run at a time writes OUT: {@code .<OUT>.ollama-patch.lock} beside it, removed at the end. */
    public static Path outputLock(Path destination) {
        Path abs = destination.toAbsolutePath();
        return abs.resolveSibling("." + abs.getFileName() + ".ollama-patch.lock");
    }

    private static ApplyOutcome write(Options o, ArchiveFormat format, Path destination, Progress progress)
            throws IOException {
        ArchivePatcher.Options po = options(o, true, Status.PATCHED, destination.getParent());
        ArchiveInstall install = firstPass(o.archive(), format, po, progress);
        if (install.refusal().isPresent()) return install.refusal().get().outcome();
        Path temp = AtomicFiles.createExactTemp(destination);
        try {
            ArchivePatcher.Result r;
            try (TarWriter w = TarWriter.create(temp, format)) {
                r = secondPass(o.archive(), format, w, po, install, progress);
                if (ended(o, r).isEmpty()) w.finish();
            }
            ApplyOutcome ended = ended(o, r).orElse(null);
            if (ended != null) return ended;
            ArchiveVerifier.verify(o.archive(), temp, format, r.entries());
            AtomicFiles.commit(temp, destination);
            return ApplyOutcome.done(List.of(String.format(
                    "wrote %s: %d entr%s patched, %d shim%s added, verified", destination, r.patched(),
                    r.patched() == 1 ? "y" : "ies", r.shims(), r.shims() == 1 ? "" : "s")), r.reports());
        } finally {
            Files.deleteIfExists(temp);
        }
    }

    /** {@code scan ARCHIVE}: the report of every ELF entry, nothing written. */
    public static List<FileReport> scan(Path archive, List<LibraryTarget> libs, String prefix) throws IOException {
        ArchiveFormat format = ArchiveFormat.of(archive).orElseThrow();
        ArchivePatcher.Options po = new ArchivePatcher.Options(libs, null, checkPrefix(prefix), false,
                Path.of(System.getProperty("java.io.tmpdir")), null, Status.FOUND, true);
        ArchiveInstall install = firstPass(archive, format, po, Progress.NONE);
        return secondPass(archive, format, null, po, install, Progress.NONE).reports();
    }

    /** {@code writing}: OUT is written (spools go beside it, reports name it). */
    private static ArchivePatcher.Options options(Options o, boolean writing, Status status, Path spoolDir) {
        return new ArchivePatcher.Options(o.libs(), o.userShim(), checkPrefix(o.prefix()), o.force(), spoolDir,
                writing ? o.output().toAbsolutePath().toString() : null, status, false);
    }

    /**
     * Pass 1: every ELF entry decided with the whole archive as one install, and the entries where a shim
     * goes found (a refusal without --force), before anything is written.
     */
    private static ArchiveInstall firstPass(Path archive, ArchiveFormat format, ArchivePatcher.Options po,
                                            Progress progress) throws IOException {
        try {
            return ArchiveInstall.read(archive, format, po, progress);
        } catch (ArchiveReadException e) {
            throw readFailure(archive, po, e);
        } catch (IOException e) {
            throw ioFailure(archive, po, false, e);
        } finally {
            progress.finish();
        }
    }

    /** Pass 2, the one pass that writes into {@code w} (null: nothing written), by pass 1's decisions. */
    private static ArchivePatcher.Result secondPass(Path archive, ArchiveFormat format, TarWriter w,
                                                    ArchivePatcher.Options po, ArchiveInstall install,
                                                    Progress progress) throws IOException {
        try {
            return ArchivePatcher.run(archive, format, w, po, install, progress);
        } catch (ArchiveReadException e) {
            throw readFailure(archive, po, e);
        } catch (IOException e) {
            throw ioFailure(archive, po, w != null, e);
        } finally {
            progress.finish();
        }
    }

    /** A read failure is exit 4, naming the archive. */
    private static PatchException readFailure(Path archive, ArchivePatcher.Options po, ArchiveReadException e) {
        return new PatchException(PatchException.Kind.INVALID_INPUT, archive + ": " + e.getMessage()
                + (po.output() == null ? "" : "; nothing written"), e);
    }

    /** Any other I/O failure is exit 1, naming the archive and, while writing, the output. */
    private static PatchException ioFailure(Path archive, ArchivePatcher.Options po, boolean writing, IOException e) {
        return new PatchException(PatchException.Kind.FAILED, archive + ": " + (writing ? "writing "
                + po.output() + ": " : "") + (e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName())
                + (po.output() == null ? "" : "; nothing written"), e);
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
