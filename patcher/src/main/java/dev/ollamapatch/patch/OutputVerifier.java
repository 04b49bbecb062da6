package dev.ollamapatch.patch;

import dev.ollamapatch.elf.ByteEdit;
import dev.ollamapatch.elf.ByteSource;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfFormatException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;

/**
 * Checks a written file before it may replace anything: it parses as ELF with the same header, it
 * has the input's size, the bytes of every site are the planned replacement, and every other byte
 * equals the input.
 */
public final class OutputVerifier {
    private static final int CHUNK = 1 << 24;

    private OutputVerifier() {}

    public static void verify(ElfFile input, Path written, List<ByteEdit> edits) throws IOException {
        try (ElfFile out = ElfFile.open(written)) {
            if (!out.header().equals(input.header())) {
                throw fail(written, "its ELF header differs from the input's");
            }
            verifyBytes(input.bytes(), out.bytes(), edits, written);
        } catch (ElfFormatException e) {
            throw fail(written, "it no longer parses as ELF: " + e.getMessage());
        }
    }

    static void verifyBytes(ByteSource in, ByteSource out, List<ByteEdit> edits, Path written) {
        if (in.size() != out.size()) {
            throw fail(written, String.format("its size %d differs from the input's %d", out.size(), in.size()));
        }
        List<ByteEdit> sorted = edits.stream().sorted(Comparator.comparingLong(ByteEdit::offset)).toList();
        long pos = 0;
        for (ByteEdit e : sorted) {
            compareRange(in, out, pos, e.offset(), written);
            byte[] got = new byte[e.replacement().length];
            out.read(e.offset(), got, 0, got.length);
            if (!java.util.Arrays.equals(got, e.replacement())) {
                throw fail(written, String.format("the site at offset 0x%x does not hold the planned bytes", e.offset()));
            }
            pos = e.offset() + e.replacement().length;
        }
        compareRange(in, out, pos, in.size(), written);
    }

    private static void compareRange(ByteSource in, ByteSource out, long from, long to, Path written) {
        for (long p = from; p < to; p += CHUNK) {
            int len = (int) Math.min(CHUNK, to - p);
            ByteBuffer a = in.slice(p, len);
            ByteBuffer b = out.slice(p, len);
            int mismatch = a.mismatch(b);
            if (mismatch >= 0) {
                throw fail(written, String.format("byte at offset 0x%x differs from the input outside every site",
                        p + mismatch));
            }
        }
    }

    private static PatchException fail(Path written, String what) {
        return new PatchException(PatchException.Kind.FAILED,
                "verification of " + written + " failed: " + what + "; nothing was installed");
    }
}
