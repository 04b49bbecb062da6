package dev.ollamapatch.image;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One stage of a layer's pipeline on its own thread (read and hash the blob; decompress; parse), so
 * that the stages overlap and the slowest one, decompression, sets the pace as it does for
 * {@code gzip -dc}. Bounded: at most {@link #DEPTH} chunks of {@link #CHUNK} bytes wait between two
 * stages. A failure of the producer reaches the consumer's next read, as it was thrown.
 *
 * <p>Chunks go round: the consumer (and the side hash, when there is one) hands each one back once
 * read, and the producer fills it again, so that a layer of gigabytes allocates (and zeroes) a few
 * megabytes. A producer that reads from a stream fills the chunks directly ({@link Sink#fill}).
 */
final class Pipe extends InputStream {
    static final int CHUNK = 1 << 18;
    static final int DEPTH = 8;

    private static final class Chunk {
        final byte[] b;
        int n;
        final AtomicInteger refs = new AtomicInteger();

        Chunk(byte[] b) {
            this.b = b;
        }
    }

    private static final Chunk END = new Chunk(new byte[0]);

    /** What the producing thread does: write everything to {@code out} (a {@link Sink}). */
    interface Producer {
        void run(OutputStream out) throws IOException;
    }

    private final BlockingQueue<Chunk> queue = new ArrayBlockingQueue<>(DEPTH);
    private final BlockingQueue<Chunk> free = new ArrayBlockingQueue<>(2 * DEPTH + 4);
    private final Thread thread;
    // A digest of everything produced, updated on a thread of its own from the same chunks, so that
    // hashing does not slow the producer.
    private final BlockingQueue<Chunk> hashQueue;
    private final Thread hasher;
    private volatile long hashCpuNanos;
    private volatile Throwable failure;
    private volatile boolean closed;
    private Chunk current = END;
    private int pos;
    private boolean ended;

    private Pipe(String name, Producer producer, MessageDigest sideHash) {
        if (sideHash != null) {
            hashQueue = new ArrayBlockingQueue<>(DEPTH);
            hasher = new Thread(() -> {
                long c0 = Stages.threadCpu();
                try {
                    while (true) {
                        Chunk c = hashQueue.take();
                        if (c == END) break;
                        sideHash.update(c.b, 0, c.n);
                        release(c);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } finally {
                    hashCpuNanos = Stages.threadCpu() - c0;
                }
            }, name + " hash");
            hasher.setDaemon(true);
        } else {
            hashQueue = null;
            hasher = null;
        }
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
        return start(name, producer, null);
    }

    /** As {@link #start(String, Producer)}, with every byte produced also hashed into {@code sideHash} (see {@link #awaitHash}). */
    static Pipe start(String name, Producer producer, MessageDigest sideHash) {
        Pipe p = new Pipe(name, producer, sideHash);
        if (p.hasher != null) p.hasher.start();
        p.thread.start();
        return p;
    }

    /** Waits until the side hash has every byte the producer wrote (call once this stream has ended); its CPU time. */
    long awaitHash() throws InterruptedIOException {
        try {
            hasher.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted");
        }
        return hashCpuNanos;
    }

    private void release(Chunk c) {
        if (c != END && c.refs.decrementAndGet() == 0) free.offer(c);
    }

    private void put(Chunk chunk) {
        try {
            if (hashQueue != null) {
                while (!closed && !hashQueue.offer(chunk, 100, TimeUnit.MILLISECONDS)) {
                    // the hash is slower; wait for room
                }
            }
            while (!closed && !queue.offer(chunk, 100, TimeUnit.MILLISECONDS)) {
                // the consumer is slower; wait for room
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The producer's side: chunks of CHUNK bytes. */
    final class Sink extends OutputStream {
        private Chunk c = fresh();

        private Chunk fresh() {
            Chunk x = free.poll();
            if (x == null) x = new Chunk(new byte[CHUNK]);
            x.n = 0;
            return x;
        }

        @Override public void write(int b) throws IOException {
            write(new byte[]{(byte) b}, 0, 1);
        }

        @Override public void write(byte[] b, int off, int len) throws IOException {
            while (len > 0) {
                if (closed) throw new IOException("the reading side stopped");
                int k = Math.min(len, CHUNK - c.n);
                System.arraycopy(b, off, c.b, c.n, k);
                c.n += k;
                off += k;
                len -= k;
                if (c.n == CHUNK) flush();
            }
        }

        /** Reads once from {@code in} straight into the chunk being filled: what read returned (-1 at its end). */
        int fill(InputStream in) throws IOException {
            if (closed) throw new IOException("the reading side stopped");
            int r = in.read(c.b, c.n, CHUNK - c.n);
            if (r > 0) {
                c.n += r;
                if (c.n == CHUNK) flush();
            }
            return r;
        }

        @Override public void flush() {
            if (c.n == 0) return;
            c.refs.set(hashQueue != null ? 2 : 1);
            put(c);
            c = fresh();
        }

        @Override public void close() {
            flush();
        }
    }

    private boolean fill() throws IOException {
        while (pos == current.n) {
            if (ended) return false;
            Chunk done = current;
            try {
                current = queue.take();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted");
            }
            release(done);
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
        return current.b[pos++] & 0xFF;
    }

    @Override public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) return 0;
        if (!fill()) return -1;
        int k = Math.min(len, current.n - pos);
        System.arraycopy(current.b, pos, b, off, k);
        pos += k;
        return k;
    }

    @Override public void close() throws IOException {
        closed = true;
        queue.clear();
        if (hasher != null) {
            hashQueue.clear();
            hasher.interrupt();
        }
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
