package dev.ollamapatch.install;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

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
        @JsonProperty("shims") List<ShimEntry> shims) {

    /** One patched file: where, its hashes, its backup, and the sites written. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record FileEntry(
            @JsonProperty("path") String path,
            @JsonProperty("original_sha256") String originalSha256,
            @JsonProperty("patched_sha256") String patchedSha256,
            @JsonProperty("backup") String backup,
            @JsonProperty("sites") List<SiteEntry> sites) {}

    public record SiteEntry(
            @JsonProperty("offset") long offset,
            @JsonProperty("length") int length,
            @JsonProperty("kind") String kind,
            @JsonProperty("original") String original,
            @JsonProperty("replacement") String replacement) {}

    /** A shim this tool installed ({@code preexisting}: it was there, identical, before). */
    public record ShimEntry(
            @JsonProperty("path") String path,
            @JsonProperty("sha256") String sha256,
            @JsonProperty("preexisting") boolean preexisting) {}

    static final ObjectMapper MAPPER = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    public static Manifest read(Path file) throws IOException {
        if (Files.isSymbolicLink(file)) {
            throw new IOException(file + " is a symbolic link; a manifest is never read or written through one");
        }
        try {
            return MAPPER.readValue(Files.readAllBytes(file), Manifest.class);
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new IOException(file + ": not a valid ollama-patch manifest: " + e.getOriginalMessage(), e);
        }
    }

    public void write(Path file) throws IOException {
        if (Files.isSymbolicLink(file)) {
            throw new IOException(file + " is a symbolic link; a manifest is never written through one");
        }
        byte[] bytes = MAPPER.writeValueAsBytes(this);
        dev.ollamapatch.io.AtomicFiles.install(new ByteArrayInputStream(bytes), file, "rw-r--r--");
    }

    public static boolean exists(Path file) {
        return Files.exists(file, LinkOption.NOFOLLOW_LINKS);
    }
}
