package dev.ollamapatch.archive;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** Written entries read back with every header field and byte, in each format; the same input makes the same bytes. */
class TarWriterTest {
    @TempDir
    Path tmp;

    private static final FileTime T = FileTime.from(Instant.ofEpochSecond(1_700_000_000L));

    private record Entry(EntryHeader header, byte[] data) {}

    private static Entry entry(String name, String data) {
        byte[] bytes = data.getBytes(StandardCharsets.UTF_8);
        return new Entry(PaxLayoutTest.header(name, 1000, T, bytes.length), bytes);
    }

    private Path write(ArchiveFormat format, String file, List<Entry> entries) throws IOException {
        Path out = Files.createFile(tmp.resolve(file));
        try (TarWriter w = TarWriter.create(out, format)) {
            for (Entry e : entries) {
                w.begin(e.header());
                w.out().write(e.data());
                w.end();
            }
            w.finish();
        }
        return out;
    }

    private static List<Entry> read(Path archive, ArchiveFormat format) throws IOException {
        List<Entry> out = new ArrayList<>();
        try (TarReader r = TarReader.open(archive, format, n -> { })) {
            for (EntryHeader h = r.next(); h != null; h = r.next()) out.add(new Entry(h, r.data().readAllBytes()));
        }
        return out;
    }

    @Test
    void whatIsWrittenReadsBackInEveryFormat() throws IOException {
        List<Entry> in = List.of(entry("bin/ollama", "\u007fELF..."), entry("lib/ollama/" + "long-".repeat(30) + "name.so", "x"),
                entry("bin/nvml.so", ""));
        for (ArchiveFormat f : ArchiveFormat.values()) {
            Path p = write(f, "out" + f.suffixes().get(0), in);
            List<Entry> back = read(p, f);
            assertEquals(in.size(), back.size(), f.name());
            for (int i = 0; i < in.size(); i++) {
                assertNull(in.get(i).header().difference(back.get(i).header()), f + " entry " + i);
                assertArrayEquals(in.get(i).data(), back.get(i).data(), f + " entry " + i);
            }
        }
    }

    @Test
    void theSameEntriesMakeTheSameBytes() throws IOException {
        List<Entry> in = List.of(entry("bin/ollama", "abc"), entry("lib/" + "n".repeat(150), "def"));
        for (ArchiveFormat f : ArchiveFormat.values()) {
            Path a = write(f, "a" + f.suffixes().get(0), in);
            Path b = write(f, "b" + f.suffixes().get(0), in);
            assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b), f.name());
        }
    }

    @Test
    void anEntryShorterThanItsHeaderSaysFailsAtItsEnd() throws IOException {
        Path out = Files.createFile(tmp.resolve("short.tar"));
        try (TarWriter w = TarWriter.create(out, ArchiveFormat.TAR)) {
            w.begin(PaxLayoutTest.header("a", 0, T, 10));
            w.out().write(new byte[3]);
            assertThrows(IOException.class, w::end);
        }
    }
}
