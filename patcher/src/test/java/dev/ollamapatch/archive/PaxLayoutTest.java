package dev.ollamapatch.archive;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.Map;
import java.util.TreeMap;

/** What goes in the ustar header, and what needs a PAX record. */
class PaxLayoutTest {
    static EntryHeader header(String name, long uid, FileTime mtime, long size) {
        return new EntryHeader(name, TarConstants.LF_NORMAL, 0100755, uid, 0, "root", "root", mtime, null, null, null,
                "", size, 0, 0, Map.of());
    }

    private static final FileTime T = FileTime.from(Instant.ofEpochSecond(1_700_000_000L));

    @Test
    void anEntryThatFitsNeedsNoPaxRecords() {
        PaxLayout.Layout l = PaxLayout.of(header("bin/ollama", 1000, T, 42));
        assertTrue(l.pax().isEmpty());
        TarArchiveEntry e = l.ustar();
        assertEquals("bin/ollama", e.getName());
        assertEquals(1000, e.getLongUserId());
        assertEquals(42, e.getSize());
        assertEquals(0100755, e.getMode());
        assertEquals(T.toInstant(), e.getLastModifiedTime().toInstant());
    }

    @Test
    void aLongNameGoesInAPathRecordAndTheUstarNameIsCutToFit() {
        String name = "lib/ollama/" + "x".repeat(120);
        PaxLayout.Layout l = PaxLayout.of(header(name, 0, T, 1));
        assertEquals(name, l.pax().get("path"));
        assertEquals(PaxLayout.NAME_MAX, l.ustar().getName().length());
    }

    @Test
    void aMultibyteNameIsCutOnACharacterBoundary() {
        String name = "é".repeat(60);   // 120 bytes
        String cut = PaxLayout.of(header(name, 0, T, 1)).ustar().getName();
        assertTrue(cut.getBytes(StandardCharsets.UTF_8).length <= PaxLayout.NAME_MAX);
        assertEquals("é".repeat(49), cut);
    }

    @Test
    void bigIdsAndFractionalTimesGoInRecords() {
        FileTime fine = FileTime.from(Instant.ofEpochSecond(1_700_000_000L, 500_000_000));
        PaxLayout.Layout l = PaxLayout.of(header("a", 1L << 24, fine, 1));
        assertEquals(Long.toString(1L << 24), l.pax().get("uid"));
        assertEquals(PaxLayout.ID_MAX, l.ustar().getLongUserId());
        assertEquals("1700000000.5", l.pax().get("mtime"));
        assertEquals(1_700_000_000L, l.ustar().getLastModifiedTime().toInstant().getEpochSecond());
    }

    @Test
    void entriesOver8GiBAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> PaxLayout.of(header("big", 0, T, PaxLayout.SIZE_MAX + 1)));
    }

    @Test
    void eachRecordCountsItsOwnLengthDigits() {
        for (int n = 1; n < 1200; n++) {
            Map<String, String> one = new TreeMap<>(Map.of("path", "p".repeat(n)));
            String record = new String(PaxLayout.encode(one), StandardCharsets.UTF_8);
            int len = Integer.parseInt(record.substring(0, record.indexOf(' ')));
            assertEquals(record.getBytes(StandardCharsets.UTF_8).length, len, "value of " + n + " bytes: " + record);
            assertTrue(record.endsWith("\n"));
        }
    }

    @Test
    void thePaxHeaderEntryIsTheSameWhoeverWritesIt() {
        TarArchiveEntry e = PaxLayout.paxEntry(header("./bin/ollama", 1000, T, 1), 30);
        assertEquals("PaxHeaders/ollama", e.getName());
        assertEquals(0, e.getLongUserId());
        assertEquals("", e.getUserName());
        assertEquals(30, e.getSize());
        assertEquals(T.toInstant(), e.getLastModifiedTime().toInstant());
    }
}
