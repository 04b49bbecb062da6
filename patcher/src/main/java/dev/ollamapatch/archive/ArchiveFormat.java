package dev.ollamapatch.archive;

import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;
import org.apache.commons.compress.compressors.gzip.GzipParameters;
import org.apache.commons.compress.compressors.zstandard.ZstdCompressorInputStream;
import org.apache.commons.compress.compressors.zstandard.ZstdCompressorOutputStream;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.zip.Deflater;

/**
 * The archive kinds Ollama releases come in, recognised by name, with the one fixed set of
 * compression settings each is written with: the output's bytes must depend only on the input,
 * the options and the tool's version (no time stamps, no file names, no thread-count-dependent
 * framing).
 */
public enum ArchiveFormat {
    TAR(List.of(".tar")),
    TAR_GZ(List.of(".tar.gz", ".tgz")),
    TAR_ZST(List.of(".tar.zst"));

    /** Deflate level 6: gzip's own default, a good size/speed balance for 1-2 GB releases. */
    static final int GZIP_LEVEL = 6;
    /** Unix, as gzip(1) on Linux writes it; fixed so the header does not depend on the machine. */
    static final int GZIP_OS_UNIX = 3;
    /** zstd level 10: within a few percent of 19's size at several times its speed; single-threaded. */
    static final int ZSTD_LEVEL = 10;

    private final List<String> suffixes;

    ArchiveFormat(List<String> suffixes) {
        this.suffixes = suffixes;
    }

    public List<String> suffixes() { return suffixes; }

    /** The kind a file name says it is; empty for anything else (an ELF file, a directory). */
    public static Optional<ArchiveFormat> of(Path file) {
        Path name = file.getFileName();
        if (name == null) return Optional.empty();
        String n = name.toString().toLowerCase(Locale.ROOT);
        // Longest suffix first: "x.tar.gz" is gzip, not plain tar.
        for (ArchiveFormat f : List.of(TAR_GZ, TAR_ZST, TAR)) {
            for (String s : f.suffixes) {
                if (n.endsWith(s) && n.length() > s.length()) return Optional.of(f);
            }
        }
        return Optional.empty();
    }

    public static boolean isArchive(Path file) {
        return of(file).isPresent();
    }

    /** The decompressed tar stream. Concatenated gzip members are read as one stream, as gzip -d does. */
    public InputStream decompress(InputStream raw) throws IOException {
        switch (this) {
            case TAR: return raw;
            case TAR_GZ: return new GzipCompressorInputStream(raw, true);
            case TAR_ZST: return new ZstdCompressorInputStream(raw);
            default: throw new AssertionError(this);
        }
    }

    /** The compressing stream, with the fixed settings above. Closing it finishes the stream. */
    public OutputStream compress(OutputStream raw) throws IOException {
        switch (this) {
            case TAR: return raw;
            case TAR_GZ: {
                GzipParameters p = new GzipParameters();
                p.setCompressionLevel(GZIP_LEVEL);
                p.setModificationTime(0);
                p.setOperatingSystem(GZIP_OS_UNIX);
                p.setComment(null); // and no file name: the default
                p.setDeflateStrategy(Deflater.DEFAULT_STRATEGY);
                return new GzipCompressorOutputStream(raw, p);
            }
            case TAR_ZST:
                // No frame closing on flush (flush points would shape the bytes) and a content checksum
                // so that a corrupted download is caught by any zstd reader.
                return new ZstdCompressorOutputStream(raw, ZSTD_LEVEL, false, true);
            default: throw new AssertionError(this);
        }
    }
}
