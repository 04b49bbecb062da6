package dev.ollamapatch.image;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

/**
 * The output layout's copies of the input's blobs, made while the blobs stream past for another
 * reason (a layer read to stack it is copied on the way), so that no blob is read twice.
 */
final class BlobCopies {
    private final Path dir;
    private final Set<String> done = new HashSet<>();

    BlobCopies(Path dir) {
        this.dir = dir;
    }

    boolean done(String member) {
        return done.contains(member);
    }

    /**
     * {@code in}, with every byte read also written to the copy of {@code member}; the copy counts
     * once {@link Tee#complete()} is called after the blob was read to its end and checked.
     */
    Tee tee(InputStream in, String member) throws IOException {
        Path to = dir.resolve(member);
        Files.createDirectories(to.getParent());
        return new Tee(in, Files.newOutputStream(to), member);
    }

    final class Tee extends FilterInputStream {
        private final OutputStream copy;
        private final String member;

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
            copy.close();
            done.add(member);
        }

        @Override public void close() throws IOException {
            try {
                copy.close();
            } finally {
                in.close();
            }
        }
    }
}
