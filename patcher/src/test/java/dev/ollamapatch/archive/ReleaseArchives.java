package dev.ollamapatch.archive;

import dev.ollamapatch.patch.Fixtures;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;
import org.apache.commons.compress.compressors.zstandard.ZstdCompressorInputStream;
import org.apache.commons.compress.compressors.zstandard.ZstdCompressorOutputStream;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

/**
 * Archives of the fixtures laid out as Ollama releases ({@code bin/ollama}, {@code lib/ollama/...}),
 * written with commons-compress directly (not with the code under test), with distinct modes,
 * owners and times, a symlink, a hard link, a text entry and a name too long for a ustar header.
 */
final class ReleaseArchives {
    static final List<String> SUFFIXES = List.of(".tgz", ".tar.gz", ".tar", ".tar.zst");
    static final String STUB_UUID = "GPU-00000000-0000-4000-8000-00000000f1x7";
    static final String LONG_NAME = "lib/ollama/" + "very-long-name-".repeat(8) + "notes.txt";
    static final long T0 = 1_735_000_000L;

    private ReleaseArchives() {}

    /** One archive entry to write: a header and, for files, where its bytes come from. */
    record Item(TarArchiveEntry entry, Path source, long zeros) {}

    static List<Item> items(boolean dotSlash, long bigZeros) {
        Path b = Fixtures.installDir("x86_64", "release", "gen-b");
        String p = dotSlash ? "./" : "";
        List<Item> items = new ArrayList<>();
        items.add(dir(p + "bin/", 0755, T0));
        items.add(file(p + "bin/ollama", b.resolve("bin/gen-b"), 0755, 1001, 1002, "builder", "staff", T0 + 1));
        items.add(link(p + "bin/ollama-hardlink", p + "bin/ollama", TarConstants.LF_LINK, T0 + 1));
        items.add(file(p + "bin/ggml-loader", b.resolve("bin/ggml-loader"), 0750, 1001, 1002, "builder", "staff", T0 + 2));
        items.add(file(p + "bin/gen-c", Fixtures.binary("x86_64", "release", "gen-c"), 0711, 0, 0, "root", "root", T0 + 3));
        items.add(file(p + "bin/gen-a", Fixtures.binary("x86_64", "release", "gen-a"), 0755, 7, 8, "", "", T0 + 4));
        items.add(dir(p + "lib/", 0700, T0 + 5));
        items.add(dir(p + "lib/ollama/", 0755, T0 + 6));
        items.add(file(p + "lib/ollama/libggml-base.so", b.resolve("lib/ollama/libggml-base.so"), 0644, 1001, 1002,
                "builder", "staff", T0 + 7));
        items.add(link(p + "lib/ollama/libggml-base.so.0", "libggml-base.so", TarConstants.LF_SYMLINK, T0 + 8));
        items.add(text(p + "README.md", "# Ollama\nfixture release\n", 0444, T0 + 9));
        items.add(text(p + LONG_NAME, "a name over 100 bytes needs a PAX record\n", 0600, T0 + 10));
        if (bigZeros > 0) {
            TarArchiveEntry e = new TarArchiveEntry(p + "lib/ollama/blob.bin", TarConstants.LF_NORMAL, true);
            e.setMode(0100644);
            e.setSize(bigZeros);
            e.setModTime(FileTime.from(Instant.ofEpochSecond(T0 + 11)));
            items.add(new Item(e, null, bigZeros));
        }
        return items;
    }

    /** Writes the release archive {@code out}, of the kind its name says. */
    static Path write(Path out, boolean dotSlash, long bigZeros) throws IOException {
        try (OutputStream raw = new BufferedOutputStream(Files.newOutputStream(out), 1 << 16);
             TarArchiveOutputStream tar = new TarArchiveOutputStream(compress(out, raw), "UTF-8")) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            byte[] zeros = new byte[1 << 20];
            for (Item i : items(dotSlash, bigZeros)) {
                TarArchiveEntry e = i.entry();
                if (i.source() != null) e.setSize(Files.size(i.source()));
                tar.putArchiveEntry(e);
                if (i.source() != null) Files.copy(i.source(), tar);
                else if (e.getName().endsWith(".md") || e.getName().endsWith(".txt")) tar.write(textOf(e));
                for (long left = i.zeros(); left > 0; left -= zeros.length) {
                    tar.write(zeros, 0, (int) Math.min(zeros.length, left));
                }
                tar.closeArchiveEntry();
            }
        }
        return out;
    }

    static OutputStream compress(Path name, OutputStream raw) throws IOException {
        String n = name.toString();
        if (n.endsWith(".tgz") || n.endsWith(".tar.gz")) return new GzipCompressorOutputStream(raw);
        // With its content checksum, as the zstd tool writes by default: a flipped byte anywhere is detected.
        if (n.endsWith(".tar.zst")) return new ZstdCompressorOutputStream(raw, 3, false, true);
        return raw;
    }

    static InputStream decompress(Path name) throws IOException {
        InputStream raw = new BufferedInputStream(Files.newInputStream(name), 1 << 16);
        String n = name.toString();
        if (n.endsWith(".tgz") || n.endsWith(".tar.gz")) return new GzipCompressorInputStream(raw, true);
        if (n.endsWith(".tar.zst")) return new ZstdCompressorInputStream(raw);
        return raw;
    }

    /** Every entry's header, in order (data skipped). */
    static List<TarArchiveEntry> entries(Path archive) throws IOException {
        List<TarArchiveEntry> out = new ArrayList<>();
        try (TarArchiveInputStream in = new TarArchiveInputStream(decompress(archive), "UTF-8")) {
            for (TarArchiveEntry e = in.getNextEntry(); e != null; e = in.getNextEntry()) out.add(e);
        }
        return out;
    }

    /** The system tar extracts {@code archive} into {@code dir} (zstd through --zstd). */
    static void extract(Path archive, Path dir) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("tar", "--no-same-owner", "-x", "-f", archive.toString(),
                "-C", dir.toString()));
        if (archive.toString().endsWith(".tar.zst")) cmd.add(1, "--zstd");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) throw new AssertionError("tar failed: " + cmd + "\n" + out);
    }

    /** A fresh directory with a short absolute path: glob sites need the shim's absolute path to fit. */
    static Path shortDirectory() throws IOException {
        Random random = new Random();
        for (int i = 0; i < 100; i++) {
            try {
                return Files.createDirectory(Path.of(String.format("/tmp/oa%04x", random.nextInt(0x10000))));
            } catch (java.nio.file.FileAlreadyExistsException e) {
                // another
            }
        }
        throw new AssertionError("no free short directory under /tmp");
    }

    static void delete(Path dir) throws IOException {
        if (dir == null || !Files.exists(dir)) return;
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private static byte[] textOf(TarArchiveEntry e) {
        return e.getName().endsWith(".md") ? "# Ollama\nfixture release\n".getBytes(StandardCharsets.UTF_8)
                : "a name over 100 bytes needs a PAX record\n".getBytes(StandardCharsets.UTF_8);
    }

    /** A header with every field set, as a release build would write it. */
    private static TarArchiveEntry entry(String name, byte type, int mode, int uid, int gid, String user, String group,
                                         long t) {
        TarArchiveEntry e = new TarArchiveEntry(name, type, true);
        e.setMode(mode);
        e.setUserId(uid);
        e.setGroupId(gid);
        e.setUserName(user);
        e.setGroupName(group);
        e.setModTime(FileTime.from(Instant.ofEpochSecond(t)));
        return e;
    }

    private static Item dir(String name, int mode, long t) {
        return new Item(entry(name, TarConstants.LF_DIR, 040000 | mode, 1001, 1002, "builder", "staff", t), null, 0);
    }

    private static Item file(String name, Path src, int mode, int uid, int gid, String user, String group, long t) {
        return new Item(entry(name, TarConstants.LF_NORMAL, 0100000 | mode, uid, gid, user, group, t), src, 0);
    }

    private static Item link(String name, String target, byte type, long t) {
        TarArchiveEntry e = entry(name, type, type == TarConstants.LF_SYMLINK ? 0120777 : 0100755, 1001, 1002,
                "builder", "staff", t);
        e.setLinkName(target);
        return new Item(e, null, 0);
    }

    private static Item text(String name, String content, int mode, long t) {
        TarArchiveEntry e = entry(name, TarConstants.LF_NORMAL, 0100000 | mode, 0, 0, "root", "root", t);
        e.setSize(content.getBytes(StandardCharsets.UTF_8).length);
        return new Item(e, null, 0);
    }
}
