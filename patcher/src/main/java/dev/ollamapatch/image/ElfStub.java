package dev.ollamapatch.image;

import dev.ollamapatch.elf.ByteSource;
import dev.ollamapatch.elf.ElfConstants;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ProgramHeader;
import dev.ollamapatch.elf.SectionHeader;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What is kept of a large ELF file of an install that names nothing the decisions look for (no
 * library stem, no replacement path, no {@code dlopen}): its headers and the tables the resolver
 * reads of every member of an install (dynamic table, symbol and string tables, relocations, hash
 * and version tables, notes, the interpreter), in a sparse file at the same offsets. Code and data
 * sections are left out: they are what makes such a file large.
 *
 * <p>The file's own decision was taken on all its bytes before they were let go (it names no library:
 * not reported). Another file's resolution may still ask about it (docs/resolution.md): what it
 * imports and exports, its DT_NEEDED entries, its loader. Those answers come from the kept tables,
 * byte for byte the file's own. Any read of a byte that was not kept (the code of a caller that a
 * tail-called {@code dlopen} leads to, say) throws {@link NeedsContent}: the apply then reads the
 * file's layer again, keeps the whole file, and decides again, so that the outcome is always the one
 * the whole file gives.
 */
final class ElfStub {
    /**
     * The section types kept: symbol, string, hash, relocation, dynamic, note and version tables. (Code,
     * data and arrays of pointers are not: a read of one throws {@link NeedsContent}.)
     */
    private static final java.util.Set<Integer> TABLES = java.util.Set.of(2, 3, 4, 5, 6, 7, 9, 11, 18, 19,
            0x6ffffff6, 0x6ffffffd, 0x6ffffffe, 0x6fffffff);

    final Path file;
    final long size;
    private final long[] ranges; // sorted, merged: start0, end0, start1, end1, ...

    private ElfStub(Path file, long size, long[] ranges) {
        this.file = file;
        this.size = size;
        this.ranges = ranges;
    }

    long keptBytes() {
        long n = 0;
        for (int i = 0; i < ranges.length; i += 2) n += ranges[i + 1] - ranges[i];
        return n;
    }

    /** A read of {@code inode}'s bytes that its stub does not hold: the whole file is needed. */
    static final class NeedsContent extends RuntimeException {
        final MergedView.Inode inode;

        NeedsContent(MergedView.Inode inode, long offset, long length) {
            super(String.format("bytes 0x%x+%d of %s were not kept", offset, length, inode.firstName), null, false, false);
            this.inode = inode;
        }
    }

    /**
     * The stub of the ELF file {@code elf} (mapped from {@code spool}), written to {@code to}; null when
     * its tables are not small next to it or it has no section headers (then it is kept whole).
     */
    static ElfStub write(ElfFile elf, Path spool, long[] written, Path to) throws IOException {
        long size = elf.bytes().size();
        if (elf.sections().isEmpty()) return null;
        List<long[]> r = new ArrayList<>();
        var h = elf.header();
        r.add(new long[] {0, Math.max(h.ehsize(), elf.is64() ? 64 : 52)});
        r.add(new long[] {h.phoff(), h.phoff() + (long) elf.programHeaders().size() * h.phentsize()});
        r.add(new long[] {h.shoff(), h.shoff() + (long) Math.max(1, elf.sections().size()) * h.shentsize()});
        for (SectionHeader s : elf.sections()) {
            if (!TABLES.contains(s.type()) || !s.hasFileData()) continue;
            r.add(new long[] {s.offset(), s.offset() + s.size()});
        }
        for (ProgramHeader p : elf.programHeaders()) {
            if (p.type() == ElfConstants.PT_INTERP || p.type() == ElfConstants.PT_DYNAMIC || p.type() == ElfConstants.PT_NOTE) {
                r.add(new long[] {p.offset(), p.offset() + p.filesz()});
            }
        }
        long[] merged = merge(r, size);
        long kept = 0;
        for (int i = 0; i < merged.length; i += 2) kept += merged[i + 1] - merged[i];
        if (kept > size / 2) return null; // not worth a stub: kept whole
        for (int i = 0; i < merged.length; i += 2) {
            if (!holds(written, merged[i], merged[i + 1] - merged[i])) return null; // a table was not written
        }
        try (FileChannel in = FileChannel.open(spool, StandardOpenOption.READ);
             FileChannel out = FileChannel.open(to, StandardOpenOption.WRITE, StandardOpenOption.CREATE,
                     StandardOpenOption.TRUNCATE_EXISTING)) {
            for (int i = 0; i < merged.length; i += 2) {
                long pos = merged[i], end = merged[i + 1];
                while (pos < end) {
                    long n = in.transferTo(pos, end - pos, out.position(pos));
                    if (n <= 0) throw new IOException(spool + ": short read at " + pos);
                    pos += n;
                }
            }
            // The stub's length is the file's: a read past its last table is refused by the ranges, not the size.
            if (out.size() < size) out.write(ByteBuffer.allocate(1), size - 1);
        }
        return new ElfStub(to, size, merged);
    }

    private static long[] merge(List<long[]> ranges, long size) {
        List<long[]> r = new ArrayList<>();
        for (long[] x : ranges) {
            long a = Math.max(0, Math.min(x[0], size)), b = Math.max(a, Math.min(x[1], size));
            if (b > a) r.add(new long[] {a, b});
        }
        r.sort((x, y) -> Long.compare(x[0], y[0]));
        List<long[]> out = new ArrayList<>();
        for (long[] x : r) {
            if (!out.isEmpty() && x[0] <= out.get(out.size() - 1)[1]) {
                out.get(out.size() - 1)[1] = Math.max(out.get(out.size() - 1)[1], x[1]);
            } else {
                out.add(x.clone());
            }
        }
        long[] flat = new long[out.size() * 2];
        for (int i = 0; i < out.size(); i++) {
            flat[2 * i] = out.get(i)[0];
            flat[2 * i + 1] = out.get(i)[1];
        }
        return flat;
    }

    private static boolean holds(long[] ranges, long offset, long length) {
        if (length <= 0) return offset >= 0;
        // the last range starting at or before offset
        int lo = 0, hi = ranges.length / 2 - 1, found = -1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (ranges[2 * mid] <= offset) {
                found = mid;
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        return found >= 0 && offset + length <= ranges[2 * found + 1];
    }

    /** The stub's bytes; a read outside the kept tables throws {@link NeedsContent} for {@code inode}. */
    ByteSource open(MergedView.Inode inode) throws IOException {
        return guard(ByteSource.map(file), ranges, inode, false);
    }

    /**
     * {@code mapped}, where a read outside {@code ranges} throws {@link NeedsContent}; with {@code
     * bulkReadsHoles}, a bulk read ({@link ByteSource#readBulk}: the searches of a decision) reads the
     * holes as the zeros they are, since the file's real bytes there were searched as they went past.
     */
    static ByteSource guard(ByteSource mapped, long[] ranges, MergedView.Inode inode, boolean bulkReadsHoles) {
        return new ByteSource() {
            private void check(long offset, long length) {
                if (!holds(ranges, offset, length)) throw new NeedsContent(inode, offset, length);
            }

            @Override public long size() {
                return mapped.size();
            }

            @Override public byte get(long offset) {
                check(offset, 1);
                return mapped.get(offset);
            }

            @Override public void read(long offset, byte[] dst, int dstOff, int len) {
                check(offset, len);
                mapped.read(offset, dst, dstOff, len);
            }

            @Override public void readBulk(long offset, byte[] dst, int dstOff, int len) {
                if (!bulkReadsHoles) check(offset, len);
                mapped.readBulk(offset, dst, dstOff, len);
            }

            @Override public ByteBuffer slice(long offset, int length) {
                check(offset, length);
                return mapped.slice(offset, length);
            }

            @Override public void close() {
                mapped.close();
            }
        };
    }

    @Override
    public String toString() {
        return file + " " + Arrays.toString(ranges);
    }

    static void delete(ElfStub s) throws IOException {
        if (s != null) Files.deleteIfExists(s.file);
    }
}
