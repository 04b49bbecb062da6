package dev.ollamapatch.site;

import dev.ollamapatch.elf.ByteSource;
import dev.ollamapatch.elf.ElfFile;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * Which of a few needles (library stems such as {@code libnvidia-ml}, the tool's own replacement paths
 * such as {@code /nvml.so}) occur anywhere in a file, found in one pass over all of its bytes that can
 * feed a digest from the same chunks: a file that names none of them is read once, and every later
 * search for one of them in that file is known to find nothing without reading it again.
 *
 * <p>It searches every byte of the file, a superset of the regions {@link SiteFinder} and the
 * already-patched search read, so "absent" here proves those searches would find nothing, and the
 * positions of a located needle are every place it starts, from which the site finder takes those in
 * each region it reads. "Present" without positions (or a needle it was not asked about) leaves the
 * searches to run as they always did. Attached to an open {@link ElfFile} by {@link #attach}, it is
 * consulted through {@link #provesAbsent} and {@link #positionsIn}; files without one are searched as before.
 */
public final class NeedleCensus {
    private static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final long ONES = 0x0101010101010101L;
    private static final long HIGHS = 0x8080808080808080L;
    /** Chunk read and searched at a time: small enough that the searches and the digest find it in cache. */
    static final int CHUNK = 256 << 10;

    /** Positions kept per located needle at most; beyond them the needle's positions are not known. */
    static final int MAX_POSITIONS = 1 << 12;

    private final List<byte[]> needles;
    private final boolean[] found;
    /** Per needle: every file offset where it starts, in increasing order, or null (not located, or too many). */
    private final long[][] positions;
    private final long size;

    private NeedleCensus(List<byte[]> needles, boolean[] found, long[][] positions, long size) {
        this.needles = needles;
        this.found = found;
        this.positions = positions;
        this.size = size;
    }

    /** The needles as bytes (ISO-8859-1), distinct, empty ones dropped. */
    public static List<byte[]> needles(java.util.Collection<String> strings) {
        List<byte[]> out = new ArrayList<>();
        for (String s : strings) {
            if (s.isEmpty()) continue;
            byte[] b = s.getBytes(StandardCharsets.ISO_8859_1);
            if (out.stream().noneMatch(o -> Arrays.equals(o, b))) out.add(b);
        }
        return out;
    }

    /** {@link #take(ByteSource, List, List, MessageDigest)} locating none of the needles. */
    public static NeedleCensus take(ByteSource source, List<byte[]> needles, MessageDigest digest) {
        return take(source, needles, List.of(), digest);
    }

    /**
     * One pass over all of {@code source}: which needles occur, every position of those in
     * {@code located} (up to {@link #MAX_POSITIONS} each), and every byte fed to {@code digest} in order
     * (null: no digest). A needle that straddles two chunks is found: each chunk is searched with the
     * last bytes of the one before it in front, and a match lying wholly in those bytes was counted with
     * the chunk before.
     *
     * <p>Needles are not searched one by one: each is given a two-byte key it contains ({@code ml} is in
     * both {@code libnvidia-ml} and {@code /nvml.so}), each key is searched once per chunk, and only where
     * a key occurs are its needles compared in full. Needles of one byte are counted as found (never proved
     * absent) and never located.
     */
    public static NeedleCensus take(ByteSource source, List<byte[]> needles, List<byte[]> located, MessageDigest digest) {
        int longest = 1;
        for (byte[] n : needles) longest = Math.max(longest, n.length);
        int keep = longest - 1;
        long size = source.size();
        byte[] buf = new byte[(int) Math.min(keep + (long) CHUNK, keep + Math.max(1, size))];
        Tally t = new Tally(needles.size());
        Key[] keys = keys(needles, t.found);
        for (int n = 0; n < needles.size(); n++) {
            byte[] needle = needles.get(n);
            if (needle.length >= 2 && located.stream().anyMatch(l -> Arrays.equals(l, needle))) t.positions[n] = new long[16];
        }
        int carried = 0; // bytes of the previous chunk kept at buf[0, carried)
        for (long p = 0; p < size; ) {
            int len = (int) Math.min(CHUNK, size - p);
            source.readBulk(p, buf, carried, len);
            if (digest != null) digest.update(buf, carried, len);
            int end = carried + len;
            boolean searching = false;
            for (Key k : keys) {
                if (k.open(t)) {
                    k.search(buf, carried, end, p - carried, needles, t);
                    searching = true;
                }
            }
            if (!searching && digest == null) {
                break; // everything found, nothing to feed: the rest of the file cannot change the answer
            }
            p += len;
            int next = Math.min(keep, end);
            System.arraycopy(buf, end - next, buf, 0, next);
            carried = next;
        }
        long[][] positions = new long[needles.size()][];
        for (int n = 0; n < needles.size(); n++) {
            if (t.positions[n] != null) positions[n] = Arrays.copyOf(t.positions[n], t.counts[n]);
        }
        return new NeedleCensus(List.copyOf(needles), t.found, positions, size);
    }

    /** What a pass has learnt so far: which needles were found, and where the located ones start. */
    private static final class Tally {
        final boolean[] found;
        /** Null: not located (or located too often to keep). */
        final long[][] positions;
        final int[] counts;

        Tally(int needles) {
            found = new boolean[needles];
            positions = new long[needles][];
            counts = new int[needles];
        }

        /** Whether needle {@code n} still needs searching: not yet found, or being located. */
        boolean open(int n) {
            return !found[n] || positions[n] != null;
        }

        void locate(int n, long at) {
            long[] p = positions[n];
            if (p == null) return;
            if (counts[n] == MAX_POSITIONS) {
                positions[n] = null; // more than can be kept: its positions are not known
                return;
            }
            if (counts[n] == p.length) positions[n] = p = Arrays.copyOf(p, p.length * 2);
            p[counts[n]++] = at;
        }
    }

    /**
     * A two-byte key and the needles that hold it: {@code needle[k]} holds the key at {@code at[k]}.
     */
    private record Key(byte b0, byte b1, int[] needle, int[] at) {
        boolean open(Tally t) {
            for (int n : needle) if (t.open(n)) return true;
            return false;
        }

        /**
         * Searches {@code buf[0, end)}, whose first {@code carried} bytes end the chunk before and which
         * starts at file offset {@code base}; records what it finds in {@code t}.
         */
        void search(byte[] buf, int carried, int end, long base, List<byte[]> needles, Tally t) {
            for (int h = keyIndex(buf, 0, end, b0, b1); h >= 0; h = keyIndex(buf, h + 1, end, b0, b1)) {
                boolean open = false;
                for (int k = 0; k < needle.length; k++) {
                    int n = needle[k];
                    if (!t.open(n)) continue;
                    byte[] pattern = needles.get(n);
                    int s = h - at[k];
                    if (s >= 0 && s + pattern.length <= end && matches(buf, s, pattern)) {
                        t.found[n] = true;
                        // Wholly inside the carried bytes: found with the chunk before already.
                        if (s + pattern.length > carried) t.locate(n, base + s);
                    }
                    open |= t.open(n);
                }
                if (!open) break;
            }
        }
    }

    /** Keys chosen greedily, each covering as many needles as possible; needles that cannot have one are marked found. */
    private static Key[] keys(List<byte[]> needles, boolean[] found) {
        List<Key> keys = new ArrayList<>();
        boolean[] covered = new boolean[needles.size()];
        for (int n = 0; n < needles.size(); n++) {
            if (needles.get(n).length < 2) {
                found[n] = true;
                covered[n] = true;
            }
        }
        while (true) {
            int best = -1, bestCount = 0;
            // Candidate keys in the needles' order, each bigram of each uncovered needle.
            for (int n = 0; n < needles.size(); n++) {
                if (covered[n]) continue;
                byte[] a = needles.get(n);
                for (int j = 0; j + 1 < a.length; j++) {
                    int key = ((a[j] & 0xFF) << 8) | (a[j + 1] & 0xFF);
                    int count = 0;
                    for (int m = 0; m < needles.size(); m++) if (!covered[m] && offsetOf(needles.get(m), key) >= 0) count++;
                    if (count > bestCount) {
                        best = key;
                        bestCount = count;
                    }
                }
            }
            if (best < 0) break;
            List<Integer> ns = new ArrayList<>();
            List<Integer> ats = new ArrayList<>();
            for (int m = 0; m < needles.size(); m++) {
                int o = covered[m] ? -1 : offsetOf(needles.get(m), best);
                if (o < 0) continue;
                covered[m] = true;
                ns.add(m);
                ats.add(o);
            }
            keys.add(new Key((byte) (best >>> 8), (byte) best, ns.stream().mapToInt(i -> i).toArray(),
                    ats.stream().mapToInt(i -> i).toArray()));
        }
        return keys.toArray(new Key[0]);
    }

    private static int offsetOf(byte[] a, int key) {
        for (int j = 0; j + 1 < a.length; j++) {
            if ((((a[j] & 0xFF) << 8) | (a[j + 1] & 0xFF)) == key) return j;
        }
        return -1;
    }

    /**
     * The first {@code i} in {@code [from, limit - 1)} with {@code a[i] == b0 && a[i+1] == b1}, or -1;
     * eight positions at a time (a zero byte of {@code x} marks a position where both bytes match).
     */
    static int keyIndex(byte[] a, int from, int limit, byte b0, byte b1) {
        long first = (b0 & 0xFFL) * ONES;
        long second = (b1 & 0xFFL) * ONES;
        int i = from;
        int wideEnd = limit - 8; // both loads (at i and i+1) stay inside while i < wideEnd
        for (; i < wideEnd; i += 8) {
            long x = ((long) LONG.get(a, i) ^ first) | ((long) LONG.get(a, i + 1) ^ second);
            long z = (x - ONES) & ~x & HIGHS;
            if (z != 0) {
                // The zero-byte test may flag a byte above a true zero: the first true one is checked.
                do {
                    int at = i + (Long.numberOfTrailingZeros(z) >>> 3);
                    if (a[at] == b0 && a[at + 1] == b1) return at;
                    z &= z - 1;
                } while (z != 0);
            }
        }
        for (; i < limit - 1; i++) {
            if (a[i] == b0 && a[i + 1] == b1) return i;
        }
        return -1;
    }

    /** The first start {@code i} in {@code [from, limit - m]} where {@code a} holds {@code pattern}, or -1 (for tests). */
    static int indexOf(byte[] a, int from, int limit, byte[] pattern) {
        for (int i = Math.max(0, from); i + pattern.length <= limit; i++) {
            if (matches(a, i, pattern)) return i;
        }
        return -1;
    }

    private static boolean matches(byte[] a, int at, byte[] pattern) {
        for (int j = 0; j < pattern.length; j++) {
            if (a[at + j] != pattern[j]) return false;
        }
        return true;
    }

    /** The file's size when the census was taken. */
    public long size() {
        return size;
    }

    /** Whether this census searched for {@code needle} and found it nowhere in the file. */
    public boolean absent(byte[] needle) {
        for (int k = 0; k < needles.size(); k++) {
            if (Arrays.equals(needles.get(k), needle)) return !found[k];
        }
        return false;
    }

    /**
     * Every file offset where {@code needle} starts, in increasing order, if this census located it and
     * kept them all; else null.
     */
    public long[] positions(byte[] needle) {
        for (int k = 0; k < needles.size(); k++) {
            if (Arrays.equals(needles.get(k), needle)) return positions[k] == null ? null : positions[k].clone();
        }
        return null;
    }

    /** Whether it found none of its needles. */
    public boolean noneFound() {
        for (boolean f : found) if (f) return false;
        return true;
    }

    private static final Map<ElfFile, NeedleCensus> ATTACHED = new WeakHashMap<>();

    /**
     * Lets later searches of {@code elf} rely on the census; the caller has checked that it was taken of
     * the same bytes (same file, unchanged since). Ignored when the sizes differ.
     */
    public static void attach(ElfFile elf, NeedleCensus census) {
        if (census == null || census.size != elf.bytes().size()) return;
        synchronized (ATTACHED) {
            ATTACHED.put(elf, census);
        }
    }

    /** Where {@code needle} starts in {@code elf}, from an attached census that located it; else null. */
    public static long[] positionsIn(ElfFile elf, byte[] needle) {
        NeedleCensus c = attached(elf);
        return c == null ? null : c.positions(needle);
    }

    /** Whether a census attached to {@code elf} proves that {@code needle} occurs nowhere in it. */
    public static boolean provesAbsent(ElfFile elf, byte[] needle) {
        NeedleCensus c = attached(elf);
        return c != null && c.absent(needle);
    }

    private static NeedleCensus attached(ElfFile elf) {
        synchronized (ATTACHED) {
            return ATTACHED.get(elf);
        }
    }
}
