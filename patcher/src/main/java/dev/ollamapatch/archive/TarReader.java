package dev.ollamapatch.archive;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

import java.io.BufferedInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.LongConsumer;

/**
 * Entries of an archive, one at a time, streamed from the file through its decompressor: nothing is
 * extracted, and memory does not depend on the archive's size. Every read failure becomes an
 * {@link ArchiveReadException} that names the entry being read.
 */
public final class TarReader implements AutoCloseable {
    private static final int BUFFER = 1 << 16;
    private final InputStream file;
    private final InputStream decompressed;
    private final TarArchiveInputStream tar;
    private String current;   // the entry whose data is being read, or null between entries
    private String previous;  // the last entry fully read, for errors in the header that follows

    private TarReader(InputStream file, InputStream decompressed) {
        this.file = file;
        this.decompressed = decompressed;
        this.tar = new TarArchiveInputStream(decompressed, StandardCharsets.UTF_8.name());
    }

    /**
     * Reads the tar stream {@code raw} (a container image's layer blob, say) through {@code format}'s
     * decompressor; closing the reader closes {@code raw}.
     */
    public static TarReader open(InputStream raw, ArchiveFormat format) throws IOException {
        try {
            return new TarReader(raw, format.decompress(raw));
        } catch (IOException | RuntimeException e) {
            raw.close();
            throw new ArchiveReadException("first entry header", e);
        }
    }

    /** Opens {@code archive}; {@code progress} hears the compressed bytes read so far. */
    static TarReader open(Path archive, ArchiveFormat format, LongConsumer progress) throws IOException {
        InputStream file = new Counting(new BufferedInputStream(Files.newInputStream(archive), BUFFER), progress);
        try {
            return new TarReader(file, format.decompress(file));
        } catch (IOException | RuntimeException e) {
            file.close();
            throw new ArchiveReadException("first entry header", e);
        }
    }

    /** The next entry's header; null at the end, after checking the compressed stream to its end. */
    public EntryHeader next() throws IOException {
        if (current != null) previous = current;
        current = null;
        TarArchiveEntry e;
        try {
            e = tar.getNextEntry();
        } catch (IOException | RuntimeException ex) {
            throw new ArchiveReadException(where(), ex);
        }
        if (e == null) {
            drain();
            return null;
        }
        current = e.getName();
        if (!e.isCheckSumOK()) {
            // The library parses a header whose checksum fails without complaint; GNU tar refuses it.
            throw new ArchiveReadException("entry " + current, "header checksum mismatch (corrupt archive)");
        }
        if (e.getSize() < 0 || e.getSize() > PaxLayout.SIZE_MAX) {
            // A size no release has (base-256 sizes reach 2^95): refused before any data is read.
            throw new ArchiveReadException("entry " + current, "size " + e.getSize()
                    + " bytes is over the 8 GiB an entry may have here");
        }
        return EntryHeader.of(e);
    }

    /** The current entry's data; ends where the entry ends. */
    public InputStream data() {
        return new FilterInputStream(tar) {
            @Override public int read() throws IOException {
                try {
                    return tar.read();
                } catch (IOException | RuntimeException ex) {
                    throw new ArchiveReadException("entry " + current, ex);
                }
            }

            @Override public int read(byte[] b, int off, int len) throws IOException {
                try {
                    return tar.read(b, off, len);
                } catch (IOException | RuntimeException ex) {
                    throw new ArchiveReadException("entry " + current, ex);
                }
            }

            @Override public void close() {
                // the entry's end, not the archive's
            }
        };
    }

    /** Reads exactly {@code n} bytes of the current entry's data into {@code b}; fewer means truncation. */
    public void readFully(byte[] b, int n) throws IOException {
        int got = data().readNBytes(b, 0, n);
        if (got != n) throw new ArchiveReadException("entry " + current, "truncated archive (entry data ends early)");
    }

    /** The entry named in an error at this point. */
    String where() {
        if (current != null) return "entry " + current;
        return previous == null ? "first entry header" : "entry header after " + previous;
    }

    /**
     * The tar end marker is not the end of the compressed stream: gzip's CRC and length, and zstd's
     * checksum, come after it. Reading to the end is what checks them; a corrupt byte anywhere then
     * fails here rather than passing unnoticed.
     */
    private void drain() throws IOException {
        byte[] buf = new byte[BUFFER];
        try {
            while (decompressed.read(buf) >= 0) {
                // padding after the end-of-archive records
            }
        } catch (IOException | RuntimeException ex) {
            throw new ArchiveReadException(previous == null ? "end of archive" : "end of archive after entry "
                    + previous, ex);
        }
    }

    @Override
    public void close() throws IOException {
        try {
            tar.close();
        } finally {
            file.close();
        }
    }

    /** Counts compressed bytes for the progress bar. */
    private static final class Counting extends FilterInputStream {
        private final LongConsumer progress;
        private long count;

        Counting(InputStream in, LongConsumer progress) {
            super(in);
            this.progress = progress;
        }

        @Override public int read() throws IOException {
            int b = super.read();
            if (b >= 0) progress.accept(++count);
            return b;
        }

        @Override public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) progress.accept(count += n);
            return n;
        }

        @Override public long skip(long n) throws IOException {
            long s = super.skip(n);
            if (s > 0) progress.accept(count += s);
            return s;
        }
    }
}
