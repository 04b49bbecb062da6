package dev.ollamapatch.image;

import dev.ollamapatch.archive.EntryHeader;
import dev.ollamapatch.archive.TarWriter;

import java.io.FilterInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

/**
 * The output's copies of the input's blobs, made while the blobs stream past for another reason (a
 * layer read to stack it is copied on the way), so that no blob is read twice: into the output
 * layout directory, or as the next member of the output tarball.
 */
abstract class BlobCopies {
    private final Set<String> done = new HashSet<>();

    boolean done(String member) {
        return done.contains(member);
    }

    /**
     * Makes the copy of {@code member} a hard link to {@code source} (the input's file) where the output
     * can hold one: the same file system, an output layout directory. False: copy it. A linked member
     * counts as copied once {@link #linked} says its blob was read to its end and checked.
     */
    boolean link(String member, Path source) {
        return false;
    }

    /** The linked copy of {@code member} is complete: its blob was checked. */
    void linked(String member) {
        done.add(member);
    }

    /** Where the copy of {@code member} is written; {@code header}: its header in the input tarball. */
    abstract OutputStream open(String member, EntryHeader header) throws IOException;

    /** Called once the copy is complete (the blob read to its end and checked). */
    abstract void close(String member, OutputStream copy) throws IOException;

    static BlobCopies into(Path dir) {
        return new BlobCopies() {
            @Override OutputStream open(String member, EntryHeader header) throws IOException {
                Path to = dir.resolve(member);
                Files.createDirectories(to.getParent());
                return Files.newOutputStream(to);
            }

            @Override void close(String member, OutputStream copy) throws IOException {
                copy.close();
            }

            @Override boolean link(String member, Path source) {
                if (source == null || !member.matches("blobs/sha256/[0-9a-f]{64}")) return false;
                try {
                    Path to = dir.resolve(member);
                    Files.createDirectories(to.getParent());
                    Files.createLink(to, source);
                    return true;
                } catch (IOException | UnsupportedOperationException | SecurityException e) {
                    return false; // another file system, or links refused: copied instead
                }
            }
        };
    }

    /** Members go into {@code out} as they are read; one at a time (layers are stacked one after another). */
    static BlobCopies into(TarWriter tar) {
        return new BlobCopies() {
            @Override OutputStream open(String member, EntryHeader header) throws IOException {
                tar.begin(header);
                return new FilterOutputStream(tar.out()) {
                    @Override public void write(byte[] b, int off, int len) throws IOException {
                        tar.out().write(b, off, len);
                    }

                    @Override public void close() {
                        // the entry ends in close(member, copy), the archive later
                    }
                };
            }

            @Override void close(String member, OutputStream copy) throws IOException {
                tar.end();
            }
        };
    }

    /**
     * {@code in}, with every byte read also written to the copy of {@code member}; the copy counts
     * once {@link Tee#complete()} is called after the blob was read to its end and checked.
     */
    Tee tee(InputStream in, String member, EntryHeader header) throws IOException {
        return new Tee(in, open(member, header), member);
    }

    final class Tee extends FilterInputStream {
        private final OutputStream copy;
        private final String member;
        private boolean completed;

        private Tee(InputStream in, OutputStream copy, String member) {
            super(in);
            this.copy = copy;
            this.member = member;
        }

        @Override public int read() throws IOException {
            int b = in.read();
            if (b >= 0) copy.write(b);
            return b;
        }

        @Override public int read(byte[] b, int off, int len) throws IOException {
            int n = in.read(b, off, len);
            if (n > 0) copy.write(b, off, n);
            return n;
        }

        @Override public boolean markSupported() {
            return false;
        }

        @Override public long skip(long n) throws IOException {
            byte[] buf = new byte[(int) Math.min(n, 1 << 16)];
            return Math.max(read(buf, 0, buf.length), 0);
        }

        void complete() throws IOException {
            completed = true;
            BlobCopies.this.close(member, copy);
            done.add(member);
        }

        @Override public void close() throws IOException {
            try {
                if (!completed) copy.close();
            } finally {
                in.close();
            }
        }
    }
}
