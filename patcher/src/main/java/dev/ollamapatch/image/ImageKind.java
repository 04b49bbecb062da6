package dev.ollamapatch.image;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarFile;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;

/**
 * The container image forms {@code apply} reads and writes, told apart by content: an OCI image
 * layout (a directory, or a tar of one) has an {@code oci-layout} file and an {@code index.json};
 * a {@code docker save} tarball has a {@code manifest.json} (Docker 25 and later write both: such a
 * tarball is read as an OCI layout and both indexes are rewritten).
 */
public enum ImageKind {
    OCI_DIRECTORY("OCI image layout directory"),
    OCI_TAR("OCI image layout tarball"),
    DOCKER_ARCHIVE("docker save tarball");

    static final String OCI_LAYOUT = "oci-layout";
    static final String INDEX = "index.json";
    static final String DOCKER_MANIFEST = "manifest.json";
    /** POSIX ustar magic at offset 257 of a tar header block (POSIX.1-2008, pax format "ustar"). */
    private static final int USTAR_MAGIC_OFFSET = 257;

    private final String description;

    ImageKind(String description) {
        this.description = description;
    }

    public String description() { return description; }

    /** The kind of image {@code path} holds; empty when it is not one (an ELF file, a release archive). */
    public static Optional<ImageKind> of(Path path) {
        if (Files.isDirectory(path)) {
            return Files.isRegularFile(path.resolve(OCI_LAYOUT), LinkOption.NOFOLLOW_LINKS)
                    && Files.isRegularFile(path.resolve(INDEX), LinkOption.NOFOLLOW_LINKS)
                    ? Optional.of(OCI_DIRECTORY) : Optional.empty();
        }
        if (!Files.isRegularFile(path) || !isPlainTar(path)) return Optional.empty();
        Set<String> top = new HashSet<>();
        try (TarFile tar = new TarFile(path)) {
            for (TarArchiveEntry e : tar.getEntries()) {
                String n = Names.key(e.getName());
                if (!n.contains("/")) top.add(n);
            }
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
        if (top.contains(OCI_LAYOUT) && top.contains(INDEX)) return Optional.of(OCI_TAR);
        if (top.contains(DOCKER_MANIFEST)) return Optional.of(DOCKER_ARCHIVE);
        return Optional.empty();
    }

    public static boolean isImage(Path path) {
        return of(path).isPresent();
    }

    private static boolean isPlainTar(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            byte[] block = in.readNBytes(512);
            if (block.length < 512) return false;
            return block[USTAR_MAGIC_OFFSET] == 'u' && block[USTAR_MAGIC_OFFSET + 1] == 's'
                    && block[USTAR_MAGIC_OFFSET + 2] == 't' && block[USTAR_MAGIC_OFFSET + 3] == 'a'
                    && block[USTAR_MAGIC_OFFSET + 4] == 'r';
        } catch (IOException e) {
            return false;
        }
    }
}
