package dev.ollamapatch.elf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Two openings of one unchanged file share a status; a change or another file does not; parsed bytes have none. */
class OpenedFileStatusTest {
    @Test
    void theSameUnchangedFileHasTheSameStatusAndAChangedOneDoesNot(@TempDir Path dir) throws Exception {
        Path a = Files.write(dir.resolve("a"), new ElfImageBuilder(true, ByteOrder.LITTLE_ENDIAN).build());
        Path b = Files.copy(a, dir.resolve("b"));
        try (ElfFile first = ElfFile.open(a); ElfFile second = ElfFile.open(a); ElfFile other = ElfFile.open(b)) {
            assertTrue(first.openedFileStatus().isPresent());
            assertEquals(first.openedFileStatus(), second.openedFileStatus());
            assertNotEquals(first.openedFileStatus(), other.openedFileStatus(), "same bytes, another file");
            Files.setLastModifiedTime(a, FileTime.fromMillis(1_000_000));
            try (ElfFile touched = ElfFile.open(a)) {
                assertNotEquals(first.openedFileStatus(), touched.openedFileStatus());
            }
        }
        assertTrue(ElfFile.parse(ByteSource.of(Files.readAllBytes(b))).openedFileStatus().isEmpty());
    }
}
