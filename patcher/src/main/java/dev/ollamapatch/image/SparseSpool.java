package dev.ollamapatch.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;

/**
 * The spool of a large ELF file while it is searched (see {@link MergedView.Keeper}): its bytes are
 * written at their offsets, except those that a file naming nothing is never asked for, so that the
 * gigabytes of code and data of such a file (a CUDA library) are not written to disk only to be let go.
 * Written always: the first {@link #head} bytes (where the dynamic tables are), the ELF, program and
 * section header tables, the dynamic, interpreter and note segments, and whatever lies outside the
 * loaded segments (the tables that are not loaded: section names, symbols). Once the section headers
 * have gone past, the bytes of no section (padding, data appended to the file) are left out as well,
 * and of the sections only the tables (every type but {@code SHT_PROGBITS}) beyond the head are kept.
 *
 * <p>The bytes left out are holes of the spool file. A file that turns out to need them (a needle is
 * found after them, or its decision reads them) is read again from its layer, whole.
 */
final class SparseSpool {
    /** Written whole at the start of each file (a test makes it smaller to see what is left out beyond it). */
    static volatile long head = 64L << 20;
    private final long headSize = head;
    private static final int PT_LOAD = 1, PT_DYNAMIC = 2, PT_INTERP = 3, PT_NOTE = 4;
    private static final int SHT_NOBITS = 8, SHT_NULL = 0, SHT_PROGBITS = 1;

    private final FileChannel ch;
    private long pos;
    private boolean keepAll;        // the layout is not understood: every byte is written
    private boolean parsed;
    private boolean le, is64;
    private long shoff, shend;
    private int shentsize, shnum;
    private final List<long[]> tables = new ArrayList<>(); // always written
    private final List<long[]> loads = new ArrayList<>();
    private List<long[]> sections;   // with file data, once the section headers went past: {start, end, type}
    private long[] bounds = new long[0];
    private final List<long[]> written = new ArrayList<>(); // merged, in order
    private boolean skipped;

    SparseSpool(FileChannel ch) {
        this.ch = ch;
    }

    /** From here on every byte is written (the file names something: it is kept whole if nothing was left out yet). */
    void keepAll() {
        keepAll = true;
    }

    /** Whether some bytes were left out. */
    boolean skipped() {
        return skipped;
    }

    /** The ranges written (start, end pairs, in order). */
    long[] written() {
        long[] out = new long[written.size() * 2];
        for (int i = 0; i < written.size(); i++) {
            out[2 * i] = written.get(i)[0];
            out[2 * i + 1] = written.get(i)[1];
        }
        return out;
    }

    /** The next {@code n} bytes of the file. */
    void write(byte[] b, int off, int n) throws IOException {
        if (!parsed) {
            parsed = true;
            parseHeaders(b, off, n);
        }
        long a = pos, end = pos + n;
        while (a < end) {
            long next = Math.min(end, nextBound(a));
            if (keep(a)) {
                ByteBuffer buf = ByteBuffer.wrap(b, off + (int) (a - pos), (int) (next - a));
                long at = a;
                while (buf.hasRemaining()) at += ch.write(buf, at);
                mark(a, next);
            } else {
                skipped = true;
            }
            a = next;
        }
        pos = end;
        if (sections == null && !keepAll && shoff > 0 && pos >= shend) readSections();
    }

    /** Ends the file: the spool has its length (a hole at the end reads as zeros). */
    void finish() throws IOException {
        if (ch.size() < pos) ch.write(ByteBuffer.allocate(1), pos - 1);
    }

    private void mark(long a, long b) {
        if (!written.isEmpty() && written.get(written.size() - 1)[1] == a) written.get(written.size() - 1)[1] = b;
        else written.add(new long[] {a, b});
    }

    private boolean keep(long p) {
        if (keepAll) return true;
        if (in(tables, p)) return true;
        if (sections != null) {
            long[] s = sectionAt(p);
            if (s == null) return false;                 // padding, or bytes no header describes
            if (s[2] != SHT_PROGBITS) return true;      // a table
            return p < headSize;
        }
        return p < headSize || !in(loads, p);
    }

    private static boolean in(List<long[]> ranges, long p) {
        for (long[] r : ranges) if (p >= r[0] && p < r[1]) return true;
        return false;
    }

    private long[] sectionAt(long p) {
        for (long[] s : sections) if (p >= s[0] && p < s[1]) return s;
        return null;
    }

    /** The first offset after {@code p} where {@link #keep} may change. */
    private long nextBound(long p) {
        int i = Arrays.binarySearch(bounds, p + 1);
        if (i < 0) i = -i - 1;
        return i < bounds.length ? bounds[i] : Long.MAX_VALUE;
    }

    private void rebound() {
        TreeSet<Long> b = new TreeSet<>();
        b.add(headSize);
        for (List<long[]> l : List.of(tables, loads)) for (long[] r : l) { b.add(r[0]); b.add(r[1]); }
        if (sections != null) for (long[] r : sections) { b.add(r[0]); b.add(r[1]); }
        if (shend > 0) b.add(shend);
        bounds = b.stream().mapToLong(Long::longValue).toArray();
    }

    private void parseHeaders(byte[] b, int off, int n) {
        keepAll = true;
        if (n < 64 || b[off] != 0x7F || b[off + 1] != 'E' || b[off + 2] != 'L' || b[off + 3] != 'F') return;
        int cls = b[off + 4], data = b[off + 5];
        if ((cls != 1 && cls != 2) || (data != 1 && data != 2)) return;
        is64 = cls == 2;
        le = data == 1;
        ByteBuffer h = ByteBuffer.wrap(b, off, n).slice().order(le ? ByteOrder.LITTLE_ENDIAN : ByteOrder.BIG_ENDIAN);
        long phoff = is64 ? h.getLong(32) : Integer.toUnsignedLong(h.getInt(28));
        shoff = is64 ? h.getLong(40) : Integer.toUnsignedLong(h.getInt(32));
        int phentsize = Short.toUnsignedInt(h.getShort(is64 ? 54 : 42));
        int phnum = Short.toUnsignedInt(h.getShort(is64 ? 56 : 44));
        shentsize = Short.toUnsignedInt(h.getShort(is64 ? 58 : 46));
        shnum = Short.toUnsignedInt(h.getShort(is64 ? 60 : 48));
        if (phnum == 0xFFFF || phentsize < (is64 ? 56 : 32) || phoff < 0) return;
        if (shoff != 0 && (shnum == 0 || shentsize < (is64 ? 64 : 40) || shoff < 0)) return; // extended numbering
        long phend = phoff + (long) phnum * phentsize;
        if (phend > n) return;
        tables.add(new long[] {0, 64});
        tables.add(new long[] {phoff, phend});
        if (shoff != 0) {
            shend = shoff + (long) shnum * shentsize;
            tables.add(new long[] {shoff, shend});
        }
        for (int i = 0; i < phnum; i++) {
            int at = (int) (phoff + (long) i * phentsize);
            int type = h.getInt(at);
            long o = is64 ? h.getLong(at + 8) : Integer.toUnsignedLong(h.getInt(at + 4));
            long sz = is64 ? h.getLong(at + 32) : Integer.toUnsignedLong(h.getInt(at + 16));
            if (o < 0 || sz < 0 || o + sz < o) return;
            if (type == PT_LOAD) loads.add(new long[] {o, o + sz});
            else if (type == PT_DYNAMIC || type == PT_INTERP || type == PT_NOTE) tables.add(new long[] {o, o + sz});
        }
        keepAll = false;
        rebound();
    }

    /** The section headers have gone past (and were written): read them back. */
    private void readSections() throws IOException {
        ByteBuffer t = ByteBuffer.allocate((int) Math.min(shend - shoff, 64L << 20))
                .order(le ? ByteOrder.LITTLE_ENDIAN : ByteOrder.BIG_ENDIAN);
        if (shend - shoff > t.capacity()) {
            keepAll = true;
            return;
        }
        long at = shoff;
        while (t.hasRemaining()) {
            int r = ch.read(t, at);
            if (r <= 0) {
                keepAll = true; // cannot happen: the table was written
                return;
            }
            at += r;
        }
        List<long[]> s = new ArrayList<>();
        for (int i = 0; i < shnum; i++) {
            int e = i * shentsize;
            int type = t.getInt(e + 4);
            long o = is64 ? t.getLong(e + 24) : Integer.toUnsignedLong(t.getInt(e + 16));
            long sz = is64 ? t.getLong(e + 32) : Integer.toUnsignedLong(t.getInt(e + 20));
            if (type == SHT_NOBITS || type == SHT_NULL || sz == 0) continue;
            if (o < 0 || sz < 0 || o + sz < o) {
                keepAll = true;
                return;
            }
            s.add(new long[] {o, o + sz, type});
        }
        sections = s;
        rebound();
    }
}
