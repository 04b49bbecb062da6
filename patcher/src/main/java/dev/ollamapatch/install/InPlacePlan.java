package dev.ollamapatch.install;

import dev.ollamapatch.decide.ShimSource;
import dev.ollamapatch.ollama.Identity;
import dev.ollamapatch.plan.Plan;
import dev.ollamapatch.plan.ShimCheck;

import java.io.IOException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;

/**
 * What an in-place apply will change, decided before anything is written ({@link InPlacePlanner}):
 * the files to swap, the shims to install or keep, and everything the manifest will say except the
 * patched files' hashes, which exist only once the copies are written. {@link InPlaceTransaction}
 * carries it out.
 *
 * @param manifestPath where the manifest goes
 * @param previous     the manifest there before this run (written back by a clean rollback), or null
 * @param unchanged    manifest entries of files already patched as asked (kept as they are)
 * @param files        the files to patch, in order
 * @param shims        every shim some file needs, in order: installed or kept
 * @param manifest     the manifest's other content
 */
public record InPlacePlan(Path manifestPath, Manifest previous, List<Manifest.FileEntry> unchanged,
                          List<FileChange> files, List<ShimChange> shims, ManifestContent manifest, List<Path> clean,
                          java.util.Map<Path, Manifest.StatRecord> statusWhenPlanned) {

    /**
     * {@code clean}: the target's ELF files that name nothing to patch; {@code statusWhenPlanned}: the
     * status of those and of the files already patched, taken before they were read for the plan. Once
     * everything is in place, each file whose status is still that one is recorded with it ({@link FileStatus}).
     */
    public InPlacePlan(Path manifestPath, Manifest previous, List<Manifest.FileEntry> unchanged,
                       List<FileChange> files, List<ShimChange> shims, ManifestContent manifest) {
        this(manifestPath, previous, unchanged, files, shims, manifest, List.of(), java.util.Map.of());
    }

    public InPlacePlan {
        unchanged = List.copyOf(unchanged);
        files = List.copyOf(files);
        shims = List.copyOf(shims);
    }

    /** Writes a complete, verified patched copy into {@code temp} (created empty beside the file) and says what it read and wrote. */
    @FunctionalInterface
    public interface CopyWriter {
        Copied write(Path temp) throws IOException;
    }

    /** The SHA-256 (hex) of what a {@link CopyWriter} read and of the copy as stored. */
    public record Copied(String inputSha256, String outputSha256) {}

    /**
     * One file to patch. {@code source} is the file itself, or its kept original ({@code .orig}) when an
     * already patched file is re-targeted; {@code sourceSha256} what the source hashed to when planned
     * (a copy that reads anything else is refused); {@code originalSha256} the original's hash the
     * manifest records; {@code before} the file's attributes when planned (a file replaced or touched
     * since is refused before its swap). {@code plan}, {@code shimCheck} and {@code identity} are what
     * its report says.
     */
    public record FileChange(Path file, Path source, String sourceSha256, String originalSha256,
                             BasicFileAttributes before, String relative, List<Manifest.SiteEntry> sites,
                             CopyWriter writer, String sha256, Plan plan, ShimCheck.Result shimCheck,
                             Identity identity) {
        /** Re-targeting: the copy is made from the kept original, whose backup exists already. */
        public boolean fromBackup() {
            return !source.equals(file);
        }
    }

    /**
     * A shim some file needs at {@code path}: {@code install} it (missing, or ours and changed), or keep
     * what is there; {@code existed}: a file was there before this run (a rollback never removes it);
     * {@code entry}: what the manifest records.
     */
    public record ShimChange(Path path, ShimSource source, Manifest.ShimEntry entry, boolean install, boolean existed) {}

    /** The manifest's content apart from its files: the tool, the NVML path asked for, the shims, the {@code --lib} targets. */
    public record ManifestContent(String tool, String requested, List<Manifest.ShimEntry> shims,
                                  List<Manifest.LibraryEntry> libraries) {}

    /** Whether the run would write nothing: no file to patch and no shim to (re)install. */
    public boolean empty() {
        return files.isEmpty() && shims.stream().noneMatch(ShimChange::install);
    }

    /**
     * The manifest this run writes before its first swap, given each patched copy's hash (in the order
     * of {@link #files}) and the time: it describes both possible states of every file and records
     * every shim and backup the run creates.
     */
    public Manifest manifestFor(List<String> patchedSha256, String time) {
        if (patchedSha256.size() != files.size()) {
            throw new IllegalArgumentException(patchedSha256.size() + " hashes for " + files.size() + " files");
        }
        List<Manifest.FileEntry> entries = new ArrayList<>(unchanged);
        for (int i = 0; i < files.size(); i++) {
            FileChange f = files.get(i);
            entries.add(new Manifest.FileEntry(f.relative(), f.originalSha256(), patchedSha256.get(i),
                    f.relative() + InstallLayout.BACKUP_SUFFIX, f.sites()));
        }
        return new Manifest(manifest.tool(), time, InPlacePlanner.nvmlPathWritten(entries, manifest.requested()),
                entries, manifest.shims(), manifest.requested(), manifest.libraries());
    }
}
