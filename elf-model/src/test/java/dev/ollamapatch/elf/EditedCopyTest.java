package dev.ollamapatch.elf;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Same-length edits of a copy, with digests of what was read and written. */
class EditedCopyTest {

    private static byte[] sha256(byte[] b) throws Exception {
        return MessageDigest.getInstance("SHA-256").digest(b);
    }

    @Test
    void writesTheSourceWithEditsAppliedAndDigestsBothSides() throws Exception {
        byte[] src = new byte[20 << 20]; // spans several copy chunks
        new Random(42).nextBytes(src);
        byte[] name = "//$ORIGIN/nvml.so".getBytes(StandardCharsets.US_ASCII);
        long acrossChunk = (8 << 20) - 5; // an edit straddling the internal chunk boundary
        List<ByteEdit> edits = List.of(new ByteEdit(acrossChunk, name), new ByteEdit(3, new byte[] {1, 2}),
                new ByteEdit(src.length - 1L, new byte[] {9}));

        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        EditedCopy.CopyDigests d = EditedCopy.write(ByteSource.of(src), edits, Channels.newChannel(sink));

        byte[] expected = src.clone();
        System.arraycopy(name, 0, expected, (int) acrossChunk, name.length);
        expected[3] = 1;
        expected[4] = 2;
        expected[src.length - 1] = 9;
        assertArrayEquals(expected, sink.toByteArray());
        assertArrayEquals(sha256(src), d.inputSha256());
        assertArrayEquals(sha256(expected), d.outputSha256());
        assertEquals(src.length, d.size());
        assertEquals(64, d.outputHex().length());
    }

    @Test
    void noEditsIsAPlainCopy() throws Exception {
        byte[] src = "hello".getBytes(StandardCharsets.US_ASCII);
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        EditedCopy.CopyDigests d = EditedCopy.write(ByteSource.of(src), List.of(), Channels.newChannel(sink));
        assertArrayEquals(src, sink.toByteArray());
        assertEquals(d.inputHex(), d.outputHex());
    }

    @Test
    void overlappingOutOfRangeAndEmptyEditsAreRejected() {
        byte[] two = {1, 2};
        assertThrows(IllegalArgumentException.class,
                () -> EditedCopy.validate(100, List.of(new ByteEdit(10, two), new ByteEdit(11, two))));
        assertThrows(IllegalArgumentException.class, // unsorted input is sorted first
                () -> EditedCopy.validate(100, List.of(new ByteEdit(50, two), new ByteEdit(10, new byte[41]))));
        assertThrows(IllegalArgumentException.class, () -> EditedCopy.validate(100, List.of(new ByteEdit(99, two))));
        assertThrows(IllegalArgumentException.class, () -> EditedCopy.validate(100, List.of(new ByteEdit(-1, two))));
        assertThrows(IllegalArgumentException.class, () -> EditedCopy.validate(100, List.of(new ByteEdit(5, new byte[0]))));
        EditedCopy.validate(100, List.of(new ByteEdit(12, two), new ByteEdit(10, two), new ByteEdit(98, two)));
        assertThrows(IllegalArgumentException.class, () -> EditedCopy.write(ByteSource.of(new byte[4]),
                List.of(new ByteEdit(0, two), new ByteEdit(1, two)), Channels.newChannel(new ByteArrayOutputStream())));
    }

    @Test
    void editsAreImmutable() {
        byte[] r = {1, 2, 3};
        ByteEdit e = new ByteEdit(0, r);
        r[0] = 9;
        e.replacement()[1] = 9;
        assertArrayEquals(new byte[] {1, 2, 3}, e.replacement());
    }
}
