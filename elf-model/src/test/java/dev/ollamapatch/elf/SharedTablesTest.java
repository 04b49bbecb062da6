package dev.ollamapatch.elf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two openings of one unchanged file parse its relocation tables once and share them; a file changed
 * in between, another file, or bytes not opened from a file get tables of their own, equal to a
 * parse of their own.
 */
class SharedTablesTest {
    private static final Path LIBSTDCXX = Path.of("/usr/lib/x86_64-linux-gnu/libstdc++.so.6");

    @Test
    void twoOpeningsOfAnUnchangedFileShareTheParsedRelocations(@TempDir Path dir) throws Exception {
        Path a = Files.copy(LIBSTDCXX, dir.resolve("a"));
        Path b = Files.copy(a, dir.resolve("b"));
        try (ElfFile first = ElfFile.open(a); ElfFile second = ElfFile.open(a); ElfFile other = ElfFile.open(b)) {
            assertTrue(first.relocations().size() > 1000, "a real library's table: " + first.relocations().size());
            assertSame(first.relocations(), second.relocations());
            assertSame(first.relativeRelocations(), second.relativeRelocations());
            assertSame(first.symbolRelocations(), second.symbolRelocations());
            assertEquals(first.relocations().stream().filter(r -> r.symbol() != 0).toList(), first.symbolRelocations());
            assertTrue(first.symbolRelocations().size() > 100, "libstdc++ imports and exports: " + first.symbolRelocations().size());
            assertNotSame(first.relocations(), other.relocations(), "another file (same bytes) parses its own");
            assertEquals(first.relocations(), other.relocations());
            ElfFile parsed = ElfFile.parse(ByteSource.of(Files.readAllBytes(a)));
            assertNotSame(first.relocations(), parsed.relocations());
            assertEquals(first.relocations(), parsed.relocations());
            Thread.sleep(50); // past the file system's time stamp granularity
            Files.write(a, new byte[] {0}, StandardOpenOption.APPEND);
            try (ElfFile changed = ElfFile.open(a)) {
                assertNotSame(first.relocations(), changed.relocations(), "a changed file parses its own");
            }
        }
    }
}
