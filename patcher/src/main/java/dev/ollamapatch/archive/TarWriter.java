package dev.ollamapatch.archive;

import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The output archive: entries written with {@link PaxLayout} through the format's fixed compressor
 * into a file that is fsynced on {@link #finish()}.
 */
public final class TarWriter implements AutoCloseable {
    private static final int BUFFER = 1 << 16;
    private final FileChannel channel;
    private final TarArchiveOutputStream tar;
    private boolean finished;

    private TarWriter(FileChannel channel, TarArchiveOutputStream tar) {
        this.channel = channel;
        this.tar = tar;
    }

    /** Writes into {@code file}, which must exist (a fresh temporary file) and is truncated. */
    public static TarWriter create(Path file, ArchiveFormat format) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING,
                LinkOption.NOFOLLOW_LINKS);
        try {
            // Closing the compressor must not close the channel: it is fsynced after the last byte.
            OutputStream unclosed = new java.io.FilterOutputStream(Channels.newOutputStream(ch)) {
                @Override public void write(byte[] b, int off, int len) throws IOException { out.write(b, off, len); }
                @Override public void close() throws IOException { flush(); }
            };
            OutputStream raw = new BufferedOutputStream(unclosed, BUFFER);
            TarArchiveOutputStream tar = new TarArchiveOutputStream(format.compress(raw), StandardCharsets.UTF_8.name());
            // PaxLayout makes every field fit; should one not, fail rather than let the library add a
            // header of its own (which would carry this machine's user name).
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_ERROR);
            tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_ERROR);
            tar.setAddPaxHeadersForNonAsciiNames(false);
            return new TarWriter(ch, tar);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** Starts an entry; its data follows through {@link #out()} or {@link #channel()}, then {@link #close(EntryHeader)}. */
    public void begin(EntryHeader h) throws IOException {
        PaxLayout.Layout layout;
        try {
            layout = PaxLayout.of(h);
        } catch (IllegalArgumentException e) {
            throw new IOException(e.getMessage(), e);
        }
        if (!layout.pax().isEmpty()) {
            byte[] records = PaxLayout.encode(layout.pax());
            tar.putArchiveEntry(PaxLayout.paxEntry(h, records.length));
            tar.write(records);
            tar.closeArchiveEntry();
        }
        tar.putArchiveEntry(layout.ustar());
    }

    public OutputStream out() {
        return tar;
    }

    /** A channel onto the current entry, for {@code EditedCopy.write}; closing it does not close the archive. */
    public WritableByteChannel channel() {
        return Channels.newChannel(new java.io.FilterOutputStream(tar) {
            @Override public void write(byte[] b, int off, int len) throws IOException { tar.write(b, off, len); }
            @Override public void close() { }
        });
    }

    public void copy(InputStream data) throws IOException {
        data.transferTo(tar);
    }

    /** Ends the entry; the library checks that exactly its size was written. */
    public void end() throws IOException {
        tar.closeArchiveEntry();
    }

    /** Writes the end-of-archive records, finishes the compressed stream and fsyncs the file. */
    public void finish() throws IOException {
        tar.finish();
        tar.close();
        channel.force(true);
        channel.close();
        finished = true;
    }

    @Override
    public void close() throws IOException {
        if (finished) return;
        try {
            tar.close();
        } catch (IOException e) {
            // the temporary file is deleted anyway
        } finally {
            channel.close();
        }
    }
}
