package dev.ollamapatch.elf;

import static org.junit.jupiter.api.Assertions.*;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Mapped access to files beyond the 2 GiB limit of a single MappedByteBuffer. */
class ByteSourceTest {

    @Test
    void mapsASparseFileLargerThanTwoGibAndReadsAcrossChunks(@TempDir Path dir) throws Exception {
        Path big = dir.resolve("big.elf");
        long size = 2_684_354_560L; // 2.5 GiB, sparse: only a few pages are ever written
        long twoGib = 1L << 31;
        byte[] header = new ElfImageBuilder(true, java.nio.ByteOrder.LITTLE_ENDIAN).build();
        try (RandomAccessFile f = new RandomAccessFile(big.toFile(), "rw")) {
            f.setLength(size);
            f.write(header);
            f.seek(twoGib - 4);
            f.write(new byte[] {1, 2, 3, 4, 5, 6, 7, 8}); // straddles the 2 GiB mark (and a 1 GiB chunk boundary)
            f.seek(size - 3);
            f.write(new byte[] {'e', 'n', 'd'});
        }
        try (ByteSource src = ByteSource.map(big)) {
            assertEquals(size, src.size());
            assertEquals(5, src.get(twoGib));
            byte[] dst = new byte[8];
            src.read(twoGib - 4, dst, 0, 8);
            assertArrayEquals(new byte[] {1, 2, 3, 4, 5, 6, 7, 8}, dst);
            ByteBuffer across = src.slice(twoGib - 4, 8);
            assertEquals(0, across.position());
            assertEquals(8, across.remaining());
            assertEquals(0x0102030405060708L, across.getLong(0));
            assertTrue(across.isReadOnly());
            assertEquals('d', src.get(size - 1));
            ByteBuffer inOne = src.slice(size - 3, 3);
            assertEquals('e', inOne.get(0));

            // The ELF header at 0 still parses, with offsets checked against the full size.
            ElfFile elf = ElfFile.parse(src);
            assertEquals("libnvidia-ml.so.1", elf.dynamic().get(1).string());
        } finally {
            Files.deleteIfExists(big);
        }
    }

    @Test
    void openRejectsAnEmptyFile(@TempDir Path dir) throws Exception {
        Path empty = Files.createFile(dir.resolve("empty"));
        ElfFormatException e = assertThrows(ElfFormatException.class, () -> ElfFile.open(empty));
        assertTrue(e.getMessage().startsWith("not an ELF file: bad magic"), e.getMessage());
    }

    @Test
    void arraySourcesSliceWithoutCopying() {
        byte[] b = {0, 1, 2, 3, 4, 5};
        ByteSource s = ByteSource.of(b);
        ByteBuffer slice = s.slice(2, 3);
        assertEquals(0, slice.position());
        assertEquals(3, slice.remaining());
        assertEquals(2, slice.get(0));
        assertTrue(slice.isReadOnly());
    }
}
