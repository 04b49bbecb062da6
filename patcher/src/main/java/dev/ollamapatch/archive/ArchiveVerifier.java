package dev.ollamapatch.archive;

import dev.ollamapatch.elf.ByteEdit;
import dev.ollamapatch.io.Sha256;
import dev.ollamapatch.report.PatchException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * Checks a written archive before it may be renamed into place, by a second streaming pass over the
 * input and the output side by side: the same entries in the same order with equal headers, every
 * copied entry's bytes equal, every patched entry equal to its input except at the planned sites
 * (which hold the planned bytes), each added shim where and as it was planned, and nothing more.
 */
final class ArchiveVerifier {
    private static final int CHUNK = 1 << 16;

    private ArchiveVerifier() {}

    static void verify(Path input, Path written, ArchiveFormat format, List<ArchivePatcher.Outcome> outcomes)
            throws IOException {
        try (TarReader a = TarReader.open(input, format, n -> { });
             TarReader b = TarReader.open(written, format, n -> { })) {
            int i = 0;
            for (EntryHeader in = a.next(); in != null; in = a.next(), i++) {
                if (i >= outcomes.size()) throw fail(written, "the input now has more entries than were patched");
                ArchivePatcher.Outcome o = outcomes.get(i);
                String d = o.input().difference(in);
                if (d != null) throw fail(written, "input entry " + in.name() + " changed since it was patched (" + d + ")");
                if (o.action() == ArchivePatcher.Action.DROPPED) continue;
                EntryHeader out = b.next();
                if (out == null) throw fail(written, "entry " + in.name() + " is missing");
                d = in.difference(out);
                if (d != null) throw fail(written, "entry " + in.name() + ": header differs: " + d);
                compare(in, a.data(), b.data(), o.edits(), written);
                for (ArchivePatcher.ShimAdded added : o.shims()) {
                    EntryHeader shim = b.next();
                    if (shim == null) throw fail(written, "shim entry " + added.header().name() + " is missing");
                    d = added.header().difference(shim);
                    if (d != null) throw fail(written, "shim entry " + shim.name() + ": header differs: " + d);
                    if (!sha256(b.data()).equals(added.sha256())) {
                        throw fail(written, "shim entry " + shim.name() + " does not hold the shim's bytes");
                    }
                }
            }
            if (i != outcomes.size()) throw fail(written, "the input now has fewer entries than were patched");
            EntryHeader extra = b.next();
            if (extra != null) throw fail(written, "unexpected entry " + extra.name());
        } catch (ArchiveReadException e) {
            throw fail(written, "it cannot be read back: " + e.getMessage());
        }
    }

    /** Input bytes with the edits applied must equal the output bytes, chunk by chunk. */
    private static void compare(EntryHeader h, InputStream in, InputStream out, List<ByteEdit> edits, Path written)
            throws IOException {
        byte[] a = new byte[CHUNK], b = new byte[CHUNK];
        long pos = 0;
        while (true) {
            int n = in.readNBytes(a, 0, CHUNK);
            int m = out.readNBytes(b, 0, CHUNK);
            if (n != m) throw fail(written, "entry " + h.name() + ": its data has a different length");
            if (n == 0) return;
            for (ByteEdit e : edits) {
                long from = Math.max(pos, e.offset()), to = Math.min(pos + n, e.offset() + e.length());
                if (from < to) {
                    System.arraycopy(e.replacement(), (int) (from - e.offset()), a, (int) (from - pos), (int) (to - from));
                }
            }
            int mismatch = Arrays.mismatch(a, 0, n, b, 0, n);
            if (mismatch >= 0) {
                throw fail(written, String.format("entry %s: byte at file offset 0x%x is neither the input's nor a planned "
                        + "replacement", h.name(), pos + mismatch));
            }
            pos += n;
        }
    }

    private static String sha256(InputStream in) throws IOException {
        return Sha256.of(in).hex();
    }

    private static PatchException fail(Path written, String what) {
        return new PatchException(PatchException.Kind.FAILED,
                "verification of " + written + " failed: " + what + "; nothing written");
    }
}
