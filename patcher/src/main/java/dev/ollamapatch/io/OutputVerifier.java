package dev.ollamapatch.io;

import dev.ollamapatch.report.PatchException;
import dev.ollamapatch.elf.ByteEdit;
import dev.ollamapatch.elf.ByteSource;
import dev.ollamapatch.elf.EditedCopy;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfFormatException;

import java.io.IOException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Checks a written file before it may replace anything: it parses as ELF with the same header, it
 * has the input's size, the bytes of every site are the planned replacement, and every other byte
 * equals the input.
 *
 * <p>One pass: the written file is read back (after the writer's fsync) chunk by chunk, compared
 * with the input's chunk with the planned edits applied, and hashed on the way. The digest returned
 * is therefore the SHA-256 of the bytes read back from the file, not of the bytes handed to the
 * writer, and the comparison proves every byte, so no second hash of the output is needed.
 */
public final class OutputVerifier {
    private static final int CHUNK = 4 << 20;

    private OutputVerifier() {}

    /** Verifies {@code written} against {@code input} with {@code edits}; returns its SHA-256. */
    public static byte[] verify(ElfFile input, Path written, List<ByteEdit> edits) throws IOException {
        try (ElfFile out = ElfFile.open(written)) {
            if (!out.header().equals(input.header())) {
                throw fail(written, "its ELF header differs from the input's");
            }
            return verifyBytes(input.bytes(), out.bytes(), edits, written);
        } catch (ElfFormatException e) {
            throw fail(written, "it no longer parses as ELF: " + e.getMessage());
        }
    }

    static byte[] verifyBytes(ByteSource in, ByteSource out, List<ByteEdit> edits, Path written) {
        if (in.size() != out.size()) {
            throw fail(written, String.format("its size %d differs from the input's %d", out.size(), in.size()));
        }
        List<ByteEdit> sorted = edits.stream().sorted(Comparator.comparingLong(ByteEdit::offset)).toList();
        MessageDigest md = Sha256.digest();
        int cap = (int) Math.min(CHUNK, Math.max(1, in.size()));
        byte[] expected = new byte[cap];
        byte[] got = new byte[cap];
        for (long pos = 0; pos < in.size(); pos += cap) {
            int len = (int) Math.min(cap, in.size() - pos);
            in.readBulk(pos, expected, 0, len);
            EditedCopy.applyTo(expected, pos, len, sorted);
            out.readBulk(pos, got, 0, len);
            int mismatch = Arrays.mismatch(expected, 0, len, got, 0, len);
            if (mismatch >= 0) {
                long at = pos + mismatch;
                ByteEdit site = sorted.stream().filter(e -> at >= e.offset() && at < e.end()).findFirst().orElse(null);
                throw fail(written, site != null
                        ? String.format("the site at offset 0x%x does not hold the planned bytes", site.offset())
                        : String.format("byte at offset 0x%x differs from the input outside every site", at));
            }
            md.update(got, 0, len);
        }
        return md.digest();
    }

    private static PatchException fail(Path written, String what) {
        return new PatchException(PatchException.Kind.FAILED,
                "verification of " + written + " failed: " + what + "; nothing was installed");
    }
}
