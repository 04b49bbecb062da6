package dev.ollamapatch.install;

import dev.ollamapatch.report.Json;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;

/**
 * What an in-place apply did, so that verify can check it and restore can undo it. Written before
 * any file is swapped (it records both hashes), so a crash at any moment leaves a manifest that
 * describes the state on disk: each file is either its original or its patched version.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Manifest(
        @JsonProperty("tool") String tool,
        @JsonProperty("created") String created,
        @JsonProperty("shim_path") String shimPath,
        @JsonProperty("files") List<FileEntry> files,
        @JsonProperty("shims") List<ShimEntry> shims,
        @JsonProperty("requested_shim_path") String requestedShimPath,
        @JsonProperty("libraries") List<LibraryEntry> libraries) {

    /**
     * {@code shim_path}: the path the NVML sites hold when they all hold one (a glob site holds the
     * absolute path, never {@code $ORIGIN}); absent when they differ (each file's sites say).
     * {@code requested_shim_path}: the path asked for ({@code --shim-path}, default {@code $ORIGIN/nvml.so}).
     */
    public Manifest(String tool, String created, String shimPath, List<FileEntry> files, List<ShimEntry> shims) {
        this(tool, created, shimPath, files, shims, shimPath, null);
    }

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

    /** One patched file: where, its hashes, its backup, and the sites written. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record FileEntry(
            @JsonProperty("path") String path,
            @JsonProperty("original_sha256") String originalSha256,
            @JsonProperty("patched_sha256") String patchedSha256,
            @JsonProperty("backup") String backup,
            @JsonProperty("sites") List<SiteEntry> sites) {}

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

    /** A shim this tool installed ({@code preexisting}: it was there, identical, before). */
    public record ShimEntry(
            @JsonProperty("path") String path,
            @JsonProperty("sha256") String sha256,
            @JsonProperty("preexisting") boolean preexisting) {}

    public static Manifest read(Path file) throws IOException {
        if (Files.isSymbolicLink(file)) {
            throw new IOException(file + " is a symbolic link; a manifest is never read or written through one");
        }
        try {
            return Json.MAPPER.readValue(Files.readAllBytes(file), Manifest.class);
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new IOException(file + ": not a valid ollama-patch manifest: " + e.getOriginalMessage(), e);
        }
    }

    /** The manifest as written ({@code write} puts these bytes in a file; an image's new layer holds them). */
    public byte[] toJson() throws IOException {
        return Json.MAPPER.writeValueAsBytes(this);
    }

    public void write(Path file) throws IOException {
        if (Files.isSymbolicLink(file)) {
            throw new IOException(file + " is a symbolic link; a manifest is never written through one");
        }
        byte[] bytes = Json.MAPPER.writeValueAsBytes(this);
        dev.ollamapatch.io.AtomicFiles.install(new ByteArrayInputStream(bytes), file, "rw-r--r--");
    }

    public static boolean exists(Path file) {
        return Files.exists(file, LinkOption.NOFOLLOW_LINKS);
    }
}
