package dev.ollamapatch.elf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;

/**
 * Writes a copy of a source with same-length byte edits applied, hashing the input (and, with
 * {@link #write}, the output) in the same single pass so that the digests describe exactly the
 * bytes read and written.
 */
public final class EditedCopy {
    private static final int CHUNK = 8 << 20;

    private EditedCopy() {
    }

    /** SHA-256 of the bytes read and of the bytes written, and how many there were. */
    public record CopyDigests(byte[] inputSha256, byte[] outputSha256, long size) {
        public CopyDigests {
            inputSha256 = inputSha256.clone();
            outputSha256 = outputSha256.clone();
        }

        @Override
        public byte[] inputSha256() {
            return inputSha256.clone();
        }

        @Override
        public byte[] outputSha256() {
            return outputSha256.clone();
        }

        public String inputHex() {
            return HexFormat.of().formatHex(inputSha256);
        }

        public String outputHex() {
            return HexFormat.of().formatHex(outputSha256);
        }
    }

    /** Rejects empty edits, edits outside {@code [0, sourceSize)} and edits that overlap one another. */
    public static void validate(long sourceSize, List<ByteEdit> edits) {
        List<ByteEdit> sorted = sorted(edits);
        ByteEdit prev = null;
        for (ByteEdit e : sorted) {
            if (e.length() == 0) {
                throw new IllegalArgumentException("empty edit at offset " + e.offset());
            }
            if (e.offset() < 0 || e.offset() > sourceSize - e.length()) {
                throw new IllegalArgumentException("edit at offset " + e.offset() + " of length " + e.length()
                        + " is outside the source (size " + sourceSize + ")");
            }
            if (prev != null && e.offset() < prev.end()) {
                throw new IllegalArgumentException("edit at offset " + e.offset() + " overlaps the edit at offset "
                        + prev.offset() + " of length " + prev.length());
            }
            prev = e;
        }
    }

    public static CopyDigests write(ByteSource source, List<ByteEdit> edits, WritableByteChannel out) throws IOException {
        MessageDigest outDigest = sha256();
        byte[] in = copy(source, edits, out, outDigest);
        return new CopyDigests(in, outDigest.digest(), source.size());
    }

    /**
     * Like {@link #write}, but hashes only the input: for callers that hash the output anyway when
     * they read it back from disk to verify it (a digest of the bytes handed to the channel would
     * cost a third SHA-256 pass and prove less than one of the bytes that landed in the file).
     * Returns the input's SHA-256.
     */
    public static byte[] writeHashingInput(ByteSource source, List<ByteEdit> edits, WritableByteChannel out)
            throws IOException {
        return copy(source, edits, out, null);
    }

    private static byte[] copy(ByteSource source, List<ByteEdit> edits, WritableByteChannel out,
                               MessageDigest outDigest) throws IOException {
        long size = source.size();
        validate(size, edits);
        List<ByteEdit> sorted = sorted(edits);
        MessageDigest in = sha256();
        byte[] buf = new byte[(int) Math.min(CHUNK, Math.max(size, 1))];
        int next = 0; // first edit that may still touch the current or a later chunk
        for (long pos = 0; pos < size; ) {
            int len = (int) Math.min(buf.length, size - pos);
            // Read through the file, not its mapping: the copy then holds one chunk, not the file.
            source.readBulk(pos, buf, 0, len);
            in.update(buf, 0, len);
            long end = pos + len;
            while (next < sorted.size() && sorted.get(next).end() <= pos) {
                next++;
            }
            for (int i = next; i < sorted.size() && sorted.get(i).offset() < end; i++) {
                ByteEdit e = sorted.get(i);
                byte[] r = e.replacement();
                long from = Math.max(pos, e.offset()), to = Math.min(end, e.end());
                System.arraycopy(r, (int) (from - e.offset()), buf, (int) (from - pos), (int) (to - from));
            }
            if (outDigest != null) outDigest.update(buf, 0, len);
            ByteBuffer bb = ByteBuffer.wrap(buf, 0, len);
            while (bb.hasRemaining()) {
                out.write(bb);
            }
            pos = end;
        }
        return in.digest();
    }

    /** Applies the edits that fall in {@code [pos, pos+len)} to {@code buf}, which holds those bytes. */
    public static void applyTo(byte[] buf, long pos, int len, List<ByteEdit> sortedEdits) {
        long end = pos + len;
        for (ByteEdit e : sortedEdits) {
            if (e.end() <= pos) continue;
            if (e.offset() >= end) break;
            long from = Math.max(pos, e.offset()), to = Math.min(end, e.end());
            System.arraycopy(e.replacement(), (int) (from - e.offset()), buf, (int) (from - pos), (int) (to - from));
        }
    }

    private static List<ByteEdit> sorted(List<ByteEdit> edits) {
        List<ByteEdit> s = new ArrayList<>(edits);
        s.sort(Comparator.comparingLong(ByteEdit::offset));
        return s;
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every Java platform", e);
        }
    }
}
