package dev.ollamapatch.install;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.ollamapatch.io.AtomicFiles;
import dev.ollamapatch.report.Json;
import dev.ollamapatch.report.PatchException;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;

/**
 * What an in-place apply did, so that verify can check it and restore can undo it. Written before
 * any file is swapped (it records both hashes), so a crash at any moment leaves a manifest that
 * describes the state on disk: each file is either its original or its patched version.
 *
 * <p>Paths are relative to the directory the manifest belongs to (the target directory, or the
 * directory of a single-file target), so a moved or copied tree verifies and restores itself. What
 * a path may name is decided by {@link ManifestPaths}, never by the manifest.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Manifest(
        @JsonProperty("format") Integer format,
        @JsonProperty("tool") String tool,
        @JsonProperty("created") String created,
        @JsonProperty("shim_path") String shimPath,
        @JsonProperty("files") List<FileEntry> files,
        @JsonProperty("shims") List<ShimEntry> shims,
        @JsonProperty("requested_shim_path") String requestedShimPath,
        @JsonProperty("libraries") List<LibraryEntry> libraries,
        @JsonProperty("clean_files") List<CleanEntry> cleanFiles) {

    /**
     * {@code shim_path}: the path the NVML sites hold when they all hold one (a glob site holds the
     * absolute path, never {@code $ORIGIN}); absent when they differ (each file's sites say).
     * {@code requested_shim_path}: the path asked for ({@code --shim-path}, default {@code $ORIGIN/nvml.so}).
     */
    public Manifest(String tool, String created, String shimPath, List<FileEntry> files, List<ShimEntry> shims) {
        this(tool, created, shimPath, files, shims, shimPath, null);
    }

    public Manifest(String tool, String created, String shimPath, List<FileEntry> files, List<ShimEntry> shims,
                    String requestedShimPath, List<LibraryEntry> libraries) {
        this(FORMAT, tool, created, shimPath, files, shims, requestedShimPath, libraries, null);
    }

    public Manifest(Integer format, String tool, String created, String shimPath, List<FileEntry> files,
                    List<ShimEntry> shims, String requestedShimPath, List<LibraryEntry> libraries) {
        this(format, tool, created, shimPath, files, shims, requestedShimPath, libraries, null);
    }

    /** This manifest with the files' status records and the clean files given (written once the files are in place). */
    public Manifest withStatus(List<FileEntry> files, List<CleanEntry> cleanFiles) {
        return new Manifest(format, tool, created, shimPath, files, shims, requestedShimPath, libraries,
                cleanFiles == null || cleanFiles.isEmpty() ? null : cleanFiles);
    }

    /**
     * A file's status as {@code stat(2)} gives it when the apply finished (device, inode, size, and the
     * modification and change times in nanoseconds), as git's index records it: while all five are the
     * same, the file has not been written since, so an already patched apply need not hash it. The
     * change time cannot be set by a user (writing the file or its metadata sets it to the current
     * time), so a file rewritten and given its old modification time back still differs. Absent in
     * manifests of earlier versions, and for a file whose status was taken in the same clock tick as the
     * manifest was written (it could still change unseen): such files are hashed, as before.
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record StatRecord(
            @JsonProperty("dev") long dev,
            @JsonProperty("ino") long ino,
            @JsonProperty("size") long size,
            @JsonProperty("mtime_ns") long mtimeNs,
            @JsonProperty("ctime_ns") long ctimeNs) {}

    /**
     * An ELF file of the target that names nothing to patch (an Ollama {@code lib/ollama} holds many),
     * with its status when the apply finished: while the status is the same, an already patched apply
     * knows it would find nothing in it again without reading it.
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record CleanEntry(
            @JsonProperty("path") String path,
            @JsonProperty("stat") StatRecord stat) {}

    /** The path asked for when it was patched (manifests before requested_shim_path: shim_path). */
    public String requested() {
        return requestedShimPath != null ? requestedShimPath : shimPath;
    }

    /**
     * A library retargeted besides NVML ({@code --lib NAME[=PATH]}), with the replacement installed
     * for it ({@code --lib-file}; null when the user provides it).
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record LibraryEntry(
            @JsonProperty("name") String name,
            @JsonProperty("path") String path,
            @JsonProperty("file") String file) {}

    /** Format 2: paths relative to the manifest's directory. Format 1 (no field) held absolute paths. */
    public static final int FORMAT = 2;

    /** One patched file: where (relative), its hashes, its backup ({@code path + ".orig"}), and the sites written. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record FileEntry(
            @JsonProperty("path") String path,
            @JsonProperty("original_sha256") String originalSha256,
            @JsonProperty("patched_sha256") String patchedSha256,
            @JsonProperty("backup") String backup,
            @JsonProperty("sites") List<SiteEntry> sites,
            @JsonProperty("stat") StatRecord stat) {
        public FileEntry(String path, String originalSha256, String patchedSha256, String backup, List<SiteEntry> sites) {
            this(path, originalSha256, patchedSha256, backup, sites, null);
        }

        /** This entry with the status record given (null: none). */
        public FileEntry withStat(StatRecord s) {
            return new FileEntry(path, originalSha256, patchedSha256, backup, sites, s);
        }
    }

    /**
     * One written site; {@code resolution} and {@code resolvesTo} say how the loader finds the shim for it
     * and every file it opens (absent in manifests of earlier versions).
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record SiteEntry(
            @JsonProperty("offset") long offset,
            @JsonProperty("length") int length,
            @JsonProperty("kind") String kind,
            @JsonProperty("original") String original,
            @JsonProperty("replacement") String replacement,
            @JsonProperty("resolution") String resolution,
            @JsonProperty("resolves_to") List<String> resolvesTo) {
        public SiteEntry(long offset, int length, String kind, String original, String replacement) {
            this(offset, length, kind, original, replacement, null, null);
        }
    }

    /**
     * A shim this tool installed ({@code preexisting}: an identical file was there before and no
     * manifest claimed it, so it is never removed). A relative path lies inside the target; an
     * absolute one is a {@code --shim-path} outside it, which restore leaves in place.
     */
    public record ShimEntry(
            @JsonProperty("path") String path,
            @JsonProperty("sha256") String sha256,
            @JsonProperty("preexisting") boolean preexisting,
            /** Directories apply created for this shim (relative, outermost first): removed again when empty. */
            @JsonProperty("directories") @JsonInclude(JsonInclude.Include.NON_EMPTY) List<String> directories) {
        public ShimEntry {
            directories = directories == null ? List.of() : java.util.Collections.unmodifiableList(new java.util.ArrayList<>(directories));
        }

        public ShimEntry(String path, String sha256, boolean preexisting) {
            this(path, sha256, preexisting, List.of());
        }

        public List<String> directoriesOrEmpty() {
            return directories == null ? List.of() : directories;
        }
    }


    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    /** A manifest is a few kilobytes; anything far larger is not one (and is not read into memory). */
    private static final long MAX_SIZE = 16L << 20;

    /** Reads and checks the structure; a manifest that is not one is refused with exit 4, naming the field. */
    public static Manifest read(Path file) throws IOException {
        if (Files.isSymbolicLink(file)) {
            throw new PatchException(PatchException.Kind.REFUSED,
                    file + " is a symbolic link; a manifest is never read or written through one");
        }
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS) || Files.size(file) > MAX_SIZE) {
            throw invalid(file, "not a regular file of at most 16 MiB");
        }
        Manifest m;
        byte[] bytes;
        try (InputStream in = Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS)) {
            bytes = in.readNBytes((int) MAX_SIZE + 1);
        }
        // The streaming reader takes every manifest this tool writes; anything else goes to the mapper.
        m = ManifestStream.read(bytes);
        if (m == null) {
            try {
                m = Json.MAPPER.readValue(bytes, Manifest.class);
            } catch (com.fasterxml.jackson.core.JacksonException e) {
                throw invalid(file, e.getOriginalMessage());
            }
        }
        if (m == null) throw invalid(file, "empty");
        m.check(file);
        return m;
    }

    private void check(Path file) {
        if (format != null && format != FORMAT) throw invalid(file, "format " + format + " is not one this version reads");
        if (files == null) throw invalid(file, "no \"files\" list");
        if (shimPath == null && requestedShimPath == null) throw invalid(file, "no \"shim_path\"");
        for (int i = 0; i < files.size(); i++) {
            FileEntry f = files.get(i);
            String at = "files[" + i + "]";
            if (f == null) throw invalid(file, at + " is null");
            if (f.path() == null || f.path().isEmpty()) throw invalid(file, at + ".path is missing");
            if (f.originalSha256() == null || !SHA256.matcher(f.originalSha256()).matches()) {
                throw invalid(file, at + ".original_sha256 is not a SHA-256");
            }
            if (f.patchedSha256() == null || !SHA256.matcher(f.patchedSha256()).matches()) {
                throw invalid(file, at + ".patched_sha256 is not a SHA-256");
            }
            if (f.sites() == null) throw invalid(file, at + ".sites is missing");
            for (int j = 0; j < f.sites().size(); j++) {
                SiteEntry s = f.sites().get(j);
                String st = at + ".sites[" + j + "]";
                if (s == null || s.replacement() == null) throw invalid(file, st + " has no replacement");
                if (s.offset() < 0 || s.length() <= 0 || s.offset() > Long.MAX_VALUE - s.length()) {
                    throw invalid(file, st + " has offset " + s.offset() + " and length " + s.length());
                }
            }
        }
        if (shims != null) {
            for (int i = 0; i < shims.size(); i++) {
                ShimEntry s = shims.get(i);
                if (s == null || s.path() == null || s.path().isEmpty()) throw invalid(file, "shims[" + i + "].path is missing");
                if (s.sha256() == null || !SHA256.matcher(s.sha256()).matches()) {
                    throw invalid(file, "shims[" + i + "].sha256 is not a SHA-256");
                }
            }
        }
    }

    /** The manifest as written ({@code write} puts these bytes in a file; an image's new layer holds them). */
    public byte[] toJson() throws IOException {
        return ManifestWriter.toJson(this);
    }

    private static PatchException invalid(Path file, String why) {
        return new PatchException(PatchException.Kind.INVALID_INPUT,
                file + ": not a valid ollama-patch manifest: " + why + "; nothing changed");
    }

    public List<ShimEntry> shimsOrEmpty() {
        return shims == null ? List.of() : shims;
    }

    /** Written atomically through the exact temporary name; the caller holds the target's lock. */
    public void write(Path file) throws IOException {
        if (Files.isSymbolicLink(file)) {
            throw new PatchException(PatchException.Kind.REFUSED,
                    file + " is a symbolic link; a manifest is never written through one");
        }
        byte[] bytes = toJson();
        AtomicFiles.installExact(new ByteArrayInputStream(bytes), file, "rw-r--r--");
    }

    public static boolean exists(Path file) {
        return Files.exists(file, LinkOption.NOFOLLOW_LINKS);
    }
}
