package dev.ollamapatch.decide;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.io.Sha256;
import dev.ollamapatch.patch.Fixtures;
import dev.ollamapatch.site.LibraryTarget;
import dev.ollamapatch.site.NeedleCensus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.List;

/**
 * A file's pass (census and SHA-256, read ahead) is used only for the bytes it was taken of: a file
 * changed after its pass, even with its size and modification time put back, gets none, and the
 * caller reads it again.
 */
class FilePassesTest {
    private static final List<byte[]> NEEDLES = FilePasses.needles(List.of(LibraryTarget.NVML));

    @Test
    void anUnchangedFileGetsItsPassWithTheDigestOfItsBytes(@TempDir Path dir) throws Exception {
        Path a = dir.resolve("a");
        Path b = dir.resolve("b");
        Files.copy(Fixtures.binary("x86_64", "release", "gen-c"), a);
        Files.copy(Fixtures.root().resolve("x86_64/stub-cuda/libcuda.so.1"), b);
        try (FilePasses passes = FilePasses.start(List.of(a, b), NEEDLES, p -> p.equals(a));
             ElfFile ea = ElfFile.open(a); ElfFile eb = ElfFile.open(b)) {
            FilePasses.Pass pa = passes.take(a, ea);
            FilePasses.Pass pb = passes.take(b, eb);
            assertNotNull(pa);
            assertNotNull(pb);
            assertEquals(Sha256.of(a).hex(), pa.sha256());
            assertNull(pb.sha256(), "not asked to hash b");
            assertFalse(pa.census().noneFound(), "gen-c names NVML");
            assertTrue(pb.census().noneFound(), "the CUDA stub names neither NVML nor the shim");
            assertTrue(NeedleCensus.provesAbsent(eb, "libnvidia-ml".getBytes(StandardCharsets.ISO_8859_1)));
            assertFalse(NeedleCensus.provesAbsent(ea, "libnvidia-ml".getBytes(StandardCharsets.ISO_8859_1)));
        }
    }

    @Test
    void aFileChangedAfterItsPassWithSizeAndTimeRestoredGetsNone(@TempDir Path dir) throws Exception {
        Path a = dir.resolve("a");
        Files.copy(Fixtures.root().resolve("x86_64/stub-cuda/libcuda.so.1"), a);
        try (FilePasses passes = FilePasses.start(List.of(a), NEEDLES, p -> true)) {
            assertNotNull(passes.await(a));
            FileTime mtime = Files.getLastModifiedTime(a);
            Thread.sleep(50); // past the file system's time stamp granularity
            byte[] bytes = Files.readAllBytes(a);
            byte[] name = "libnvidia-ml".getBytes(StandardCharsets.ISO_8859_1);
            System.arraycopy(name, 0, bytes, bytes.length - name.length, name.length);
            Object inode = Files.getAttribute(a, "unix:ino");
            try (FileChannel ch = FileChannel.open(a, StandardOpenOption.WRITE)) { // same inode, same size
                ch.write(ByteBuffer.wrap(bytes), 0);
            }
            Files.setLastModifiedTime(a, mtime);
            assertEquals(bytes.length, Files.size(a));
            assertEquals(inode, Files.getAttribute(a, "unix:ino"));
            assertEquals(mtime, Files.getLastModifiedTime(a));
            try (ElfFile elf = ElfFile.open(a)) {
                assertNull(passes.take(a, elf), "a pass of other bytes was used");
                assertFalse(NeedleCensus.provesAbsent(elf, name));
            }
        }
    }

    @Test
    void oneFileCensusFirstGivesTheCensusThenTheDigestAndRunsTheWorkForALocatedName(@TempDir Path dir) throws Exception {
        Path a = dir.resolve("a");
        Files.copy(Fixtures.binary("x86_64", "release", "gen-c"), a);
        List<byte[]> located = FilePasses.located(List.of(LibraryTarget.NVML));
        java.util.concurrent.CountDownLatch worked = new java.util.concurrent.CountDownLatch(1);
        java.util.List<Path> workedOn = new java.util.concurrent.CopyOnWriteArrayList<>();
        try (FilePasses passes = FilePasses.startCensusFirst(a, NEEDLES, located); ElfFile ea = ElfFile.open(a)) {
            FilePasses.Pass pa = passes.take(a, ea);
            assertNotNull(pa);
            // Given after the pass may already be done: it runs all the same, once.
            passes.whenLocated(f -> { workedOn.add(f); worked.countDown(); });
            assertEquals(Sha256.of(a).hex(), pa.sha256());
            assertTrue(worked.await(30, java.util.concurrent.TimeUnit.SECONDS));
            assertEquals(List.of(a), workedOn);
            long[] at = NeedleCensus.positionsIn(ea, "libnvidia-ml".getBytes(StandardCharsets.ISO_8859_1));
            assertNotNull(at, "the stem's positions are known to the site finder");
            assertTrue(at.length > 0);
        }
    }

    @Test
    void theHashReadAfterTheCensusIsOfTheBytesTheCensusRead(@TempDir Path dir) throws Exception {
        Path a = dir.resolve("a");
        Files.copy(Fixtures.root().resolve("x86_64/stub-cuda/libcuda.so.1"), a);
        dev.ollamapatch.elf.FileStamp census = FilePasses.status(a);
        assertEquals(Sha256.of(a).hex(), FilePasses.hashOf(a, census));
        Thread.sleep(50); // past the file system's time stamp granularity
        Files.writeString(a, "changed", StandardOpenOption.APPEND);
        assertNull(FilePasses.hashOf(a, census), "a digest of other bytes than the census read");
        assertEquals(Sha256.of(a).hex(), FilePasses.hashOf(a, FilePasses.status(a)));
    }
}
