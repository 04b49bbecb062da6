package dev.ollamapatch.image;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.util.Arrays;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * One stage of a layer's pipeline on its own thread (read and hash the blob; decompress; parse), so
 * that the stages overlap and the slowest one, decompression, sets the pace as it does for
 * {@code gzip -dc}. Bounded: at most {@link #DEPTH} chunks of {@link #CHUNK} bytes wait between two
 * stages. A failure of the producer reaches the consumer's next read, as it was thrown.
 */
final class Pipe extends InputStream {
    static final int CHUNK = 1 << 18;
    static final int DEPTH = 8;
    private static final byte[] END = new byte[0];

    /** What the producing thread does: write everything to {@code out}. */
    interface Producer {
        void run(OutputStream out) throws IOException;
    }

    private final BlockingQueue<byte[]> queue = new ArrayBlockingQueue<>(DEPTH);
    private final Thread thread;
    private volatile Throwable failure;
    private volatile boolean closed;
    private byte[] current = END;
    private int pos;
    private boolean ended;

    private Pipe(String name, Producer producer) {
        thread = new Thread(() -> {
            try (OutputStream out = new Sink()) {
                producer.run(out);
            } catch (Throwable t) {
                failure = t;
            } finally {
                put(END);
            }
        }, name);
        thread.setDaemon(true);
    }

    static Pipe start(String name, Producer producer) {
        Pipe p = new Pipe(name, producer);
        p.thread.start();
        return p;
    }

    private void put(byte[] chunk) {
        try {
            while (!closed && !queue.offer(chunk, 100, TimeUnit.MILLISECONDS)) {
                // the consumer is slower; wait for room
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The producer's side: chunks of CHUNK bytes. */
    private final class Sink extends OutputStream {
        private byte[] buf = new byte[CHUNK];
        private int n;

        @Override public void write(int b) throws IOException {
            write(new byte[]{(byte) b}, 0, 1);
        }

        @Override public void write(byte[] b, int off, int len) throws IOException {
            while (len > 0) {
                if (closed) throw new IOException("the reading side stopped");
                int k = Math.min(len, buf.length - n);
                System.arraycopy(b, off, buf, n, k);
                n += k;
                off += k;
                len -= k;
                if (n == buf.length) flush();
            }
        }

        @Override public void flush() {
            if (n == 0) return;
            put(n == buf.length ? buf : Arrays.copyOf(buf, n));
            buf = new byte[CHUNK];
            n = 0;
        }

        @Override public void close() {
            flush();
        }
    }

    private boolean fill() throws IOException {
        while (pos == current.length) {
            if (ended) return false;
            try {
                current = queue.take();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted");
            }
            pos = 0;
            if (current == END) {
                ended = true;
                Throwable t = failure;
                if (t instanceof IOException io) throw io;
                if (t instanceof RuntimeException r) throw r;
                if (t instanceof Error e) throw e;
                return false;
            }
        }
        return true;
    }

    @Override public int read() throws IOException {
        if (!fill()) return -1;
        return current[pos++] & 0xFF;
    }

    @Override public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) return 0;
        if (!fill()) return -1;
        int k = Math.min(len, current.length - pos);
        System.arraycopy(current, pos, b, off, k);
        pos += k;
        return k;
    }

    @Override public void close() throws IOException {
        closed = true;
        queue.clear();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
