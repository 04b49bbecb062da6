package dev.ollamapatch.image;

import dev.ollamapatch.report.PatchException;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarFile;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The files of an image, by name ({@code index.json}, {@code blobs/sha256/<hex>}, {@code <id>/layer.tar}):
 * from a directory, or read in place from a plain tarball (random access, nothing extracted).
 */
abstract class ImageSource implements AutoCloseable {
    private static final int BUFFER = 1 << 16;
    /** Symbolic links followed between members of a docker save tarball, at most. */
    private static final int MAX_LINKS = 8;

    final Path path;

    private ImageSource(Path path) {
        this.path = path;
    }

    static ImageSource open(Path path, ImageKind kind) throws IOException {
        return kind == ImageKind.OCI_DIRECTORY ? new Directory(path) : new Tarball(path);
    }

    abstract boolean has(String name);

    /** The member's bytes as stored; {@code what} names it in errors (a blob's digest, say). */
    abstract InputStream open(String name, String what) throws IOException;

    abstract long size(String name) throws IOException;

    /** The member a name leads to (a docker save links a repeated layer.tar to the first one). */
    String resolve(String name) {
        return Names.key(name);
    }

    /** The member's header in an input tarball; null for a directory. */
    /** The file that holds member {@code name} (a layout directory's), or null (a tarball's members are not files). */
    Path file(String name) {
        return null;
    }

    dev.ollamapatch.archive.EntryHeader header(String name) {
        return null;
    }

    /** Every member name, in the order the input holds them (directories first for a directory). */
    abstract List<String> names() throws IOException;

    static PatchException missing(String what) {
        return new PatchException(PatchException.Kind.INVALID_INPUT, what + ": missing from the image");
    }

    /** An OCI image layout directory. */
    static final class Directory extends ImageSource {
        Directory(Path path) {
            super(path);
        }

        @Override Path file(String name) {
            return path.resolve(Names.inside(name, path.toString()));
        }

        @Override boolean has(String name) {
            return Files.isRegularFile(file(name), LinkOption.NOFOLLOW_LINKS);
        }

        @Override InputStream open(String name, String what) throws IOException {
            if (!has(name)) throw missing(what);
            return new BufferedInputStream(Files.newInputStream(file(name)), BUFFER);
        }

        @Override long size(String name) throws IOException {
            return Files.size(file(name));
        }

        @Override List<String> names() throws IOException {
            try (Stream<Path> s = Files.walk(path)) {
                return s.filter(p -> !p.equals(path)).sorted()
                        .map(p -> path.relativize(p).toString() + (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) ? "/" : ""))
                        .toList();
            }
        }

    }

    /** A plain tar of an OCI layout or a docker save: members read by offset. */
    static final class Tarball extends ImageSource {
        private final TarFile tar;
        private final Map<String, TarArchiveEntry> entries = new LinkedHashMap<>();

        Tarball(Path path) throws IOException {
            super(path);
            try {
                tar = new TarFile(path);
            } catch (IOException | RuntimeException e) {
                throw new PatchException(PatchException.Kind.INVALID_INPUT, path + ": not a readable tar: " + e.getMessage(), e);
            }
            for (TarArchiveEntry e : tar.getEntries()) {
                if (!e.isCheckSumOK()) {
                    throw new PatchException(PatchException.Kind.INVALID_INPUT, path + ": member " + e.getName()
                            + ": header checksum mismatch (corrupt tarball)");
                }
                entries.put(Names.key(e.getName()), e);
            }
        }

        private TarArchiveEntry entry(String name, String what) {
            String key = Names.inside(name, path + ": " + what);
            for (int i = 0; i <= MAX_LINKS; i++) {
                TarArchiveEntry e = entries.get(key);
                if (e == null) return null;
                if (!e.isSymbolicLink()) return e.isFile() ? e : null;
                // docker save links a repeated layer.tar to the first one, relative to its own directory.
                String target = e.getLinkName();
                key = Names.inside(target.startsWith("/") ? target : Names.join(Names.parent(key), target),
                        path + ": " + what);
            }
            return null;
        }

        @Override boolean has(String name) {
            return entry(name, name) != null;
        }

        @Override InputStream open(String name, String what) throws IOException {
            TarArchiveEntry e = entry(name, what);
            if (e == null) throw missing(what);
            return new BufferedInputStream(tar.getInputStream(e), BUFFER);
        }

        @Override String resolve(String name) {
            TarArchiveEntry e = entry(name, name);
            return e == null ? Names.key(name) : Names.key(e.getName());
        }

        @Override dev.ollamapatch.archive.EntryHeader header(String name) {
            TarArchiveEntry e = entry(name, name);
            return e == null ? null : dev.ollamapatch.archive.EntryHeader.of(e);
        }

        @Override long size(String name) {
            TarArchiveEntry e = entry(name, name);
            return e == null ? -1 : e.getSize();
        }

        @Override List<String> names() {
            return List.copyOf(entries.keySet());
        }

        @Override public void close() throws IOException {
            tar.close();
        }
    }

    @Override
    public void close() throws IOException {
    }
}
