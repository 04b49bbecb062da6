package dev.ollamapatch.archive;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ollamapatch.patch.Cli;
import dev.ollamapatch.patch.Fixtures;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code apply ARCHIVE -o OUT} on Ollama-like release archives in every format: the extracted output
 * runs and loads the shim, every header is kept, two runs give the same bytes, and bad input
 * (checksum, corruption, truncation) writes nothing.
 */
class ArchiveApplyIT {
    private Path work;

    @BeforeEach
    void directory() throws Exception {
        work = ReleaseArchives.shortDirectory();
    }

    @AfterEach
    void clean() throws Exception {
        ReleaseArchives.delete(work);
    }

    static List<String> suffixes() {
        return ReleaseArchives.SUFFIXES;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("suffixes")
    void patchedArchiveExtractsRunsAndKeepsEveryHeader(String suffix) throws Exception {
        boolean dotSlash = suffix.equals(".tgz"); // "tar -C dir ." style names in one of them
        Path in = ReleaseArchives.write(work.resolve("ollama-linux-amd64" + suffix), dotSlash, 0);
        Path out = work.resolve("patched" + suffix);
        Path x = Files.createDirectory(work.resolve("x"));
        Path report = work.resolve("report.json");
        Cli.Result r = Cli.run("apply", in, "-o", out, "--shim", Fixtures.stub("x86_64"), "--prefix", x,
                "--report", report, "--json");
        assertEquals(0, r.exit(), r.toString());

        // The report: one file per ELF entry that was looked at, entry names as paths, the archive named.
        JsonNode json = new ObjectMapper().readTree(r.out());
        assertEquals(json, new ObjectMapper().readTree(report.toFile()));
        String p = dotSlash ? "./" : "";
        List<String> patched = new ArrayList<>();
        for (JsonNode f : json.get("files")) {
            assertEquals(in.toString(), f.get("archive").asText());
            if (f.get("status").asText().equals("patched")) patched.add(f.get("path").asText());
        }
        assertEquals(List.of(p + "bin/ollama", p + "bin/gen-c", p + "bin/gen-a", p + "lib/ollama/libggml-base.so"),
                patched);

        // Headers: the input's, in order, with one shim after the first patched entry of each directory.
        List<TarArchiveEntry> before = ReleaseArchives.entries(in), after = ReleaseArchives.entries(out);
        List<String> expectNames = new ArrayList<>();
        for (TarArchiveEntry e : before) {
            expectNames.add(e.getName());
            if (e.getName().equals(p + "bin/ollama")) expectNames.add(p + "bin/nvml.so");
            if (e.getName().equals(p + "lib/ollama/libggml-base.so")) expectNames.add(p + "lib/ollama/nvml.so");
        }
        assertEquals(expectNames, after.stream().map(TarArchiveEntry::getName).toList());
        int j = 0;
        for (TarArchiveEntry a : after) {
            if (a.getName().endsWith("/nvml.so")) {
                assertEquals(0100755, a.getMode());
                TarArchiveEntry owner = after.get(j - 1);
                assertEquals(owner.getLongUserId(), a.getLongUserId());
                assertEquals(owner.getUserName(), a.getUserName());
                assertEquals(owner.getLastModifiedTime(), a.getLastModifiedTime());
                assertEquals(Files.size(Fixtures.stub("x86_64")), a.getSize());
            } else {
                TarArchiveEntry b = before.stream().filter(e -> e.getName().equals(a.getName())).findFirst().orElseThrow();
                assertEquals(EntryHeader.of(b), EntryHeader.of(a), a.getName());
            }
            j++;
        }

        // Extracted by the system tar: the programs load the shim, links and modes are as they were.
        ReleaseArchives.extract(out, x);
        Map<String, String> env = Map.of("FIXTURE_GPU_UUIDS", ReleaseArchives.STUB_UUID);
        Fixtures.Run ollama = Fixtures.run("x86_64", x.resolve("bin/ollama"), env);
        assertTrue(ollama.stdout().contains("discovery: nvml=ok driver=n/a devices=1"), ollama.toString());
        Fixtures.Run loader = Fixtures.run("x86_64", x.resolve("bin/ggml-loader"), env);
        assertTrue(loader.stdout().contains("discovery: nvml=ok"), loader.toString());
        for (String gen : List.of("bin/gen-c", "bin/gen-a")) {
            Fixtures.Run run = Fixtures.run("x86_64", x.resolve(gen), Map.of());
            assertTrue(run.stdout().contains("discovery: nvml=ok driver=" + Fixtures.STUB_DRIVER), gen + ": " + run);
        }
        assertTrue(Files.isSameFile(x.resolve("bin/ollama"), x.resolve("bin/ollama-hardlink")));
        assertEquals(Path.of("libggml-base.so"), Files.readSymbolicLink(x.resolve("lib/ollama/libggml-base.so.0")));
        assertEquals("rwxr-x---", PosixFilePermissions.toString(Files.getPosixFilePermissions(x.resolve("bin/ggml-loader"))));
        assertEquals("rwxr-xr-x", PosixFilePermissions.toString(Files.getPosixFilePermissions(x.resolve("bin/nvml.so"))));
        assertEquals(ReleaseArchives.T0 + 7, Files.getLastModifiedTime(x.resolve("lib/ollama/libggml-base.so"),
                LinkOption.NOFOLLOW_LINKS).toInstant().getEpochSecond());
        assertTrue(Files.isRegularFile(x.resolve(ReleaseArchives.LONG_NAME)));
        assertArrayEquals(Files.readAllBytes(Fixtures.stub("x86_64")), Files.readAllBytes(x.resolve("lib/ollama/nvml.so")));
        assertNoTemporaryFiles();
    }

    /** Same input and options: the same bytes, from another JVM with another user name and time zone too. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("suffixes")
    void twoRunsGiveIdenticalBytes(String suffix) throws Exception {
        Path in = ReleaseArchives.write(work.resolve("ollama-linux-amd64" + suffix), false, 0);
        Path one = work.resolve("one" + suffix), two = work.resolve("two" + suffix);
        assertEquals(0, Cli.run("apply", in, "-o", one, "--shim", Fixtures.stub("x86_64"), "--prefix", work).exit());
        ProcessBuilder pb = ToolProcess.builder(List.of("-Duser.name=someone-else", "-Duser.timezone=Asia/Tokyo"),
                "apply", in, "-o", two, "--shim", Fixtures.stub("x86_64"), "--prefix", work);
        ToolProcess.Result r = ToolProcess.run(pb, 120);
        assertEquals(0, r.exit(), r.toString());
        assertArrayEquals(Files.readAllBytes(one), Files.readAllBytes(two));
    }

    @Test
    void checksumsAreCheckedBeforeAnythingElse() throws Exception {
        Path in = ReleaseArchives.write(work.resolve("ollama-linux-amd64.tgz"), false, 0);
        String sha = Checksums.sha256(in).hex();
        Path sums = work.resolve("sha256sum.txt");
        Path out = work.resolve("out.tgz");
        Files.writeString(sums, "0".repeat(64) + "  ollama-darwin.tgz\n" + sha + " *dist/ollama-linux-amd64.tgz\n");
        Cli.Result good = Cli.run("apply", in, "-o", out, "--shim", Fixtures.stub("x86_64"), "--prefix", work,
                "--checksums", sums);
        assertEquals(0, good.exit(), good.toString());
        Files.delete(out);

        String flipped = (sha.charAt(0) == '0' ? "1" : "0") + sha.substring(1);
        Files.writeString(sums, flipped + "  ollama-linux-amd64.tgz\n");
        Cli.Result bad = Cli.run("apply", in, "-o", out, "--checksums", sums);
        assertEquals(5, bad.exit(), bad.toString());
        assertTrue(bad.err().contains("SHA-256 is " + sha), bad.err());
        Files.writeString(sums, sha + "  ollama-linux-arm64.tgz\n");
        Cli.Result missing = Cli.run("apply", in, "-o", out, "--checksums", sums);
        assertEquals(5, missing.exit(), missing.toString());
        assertFalse(Files.exists(out));
        assertNoTemporaryFiles();
    }

    static Stream<String> damaged() {
        return Stream.of("truncated .tgz", "truncated .tar.gz", "truncated .tar", "truncated .tar.zst",
                "corrupt .tgz", "corrupt .tar.zst", "corrupt .tar");
    }

    /** Exit 4, one line naming the archive and an entry, no output and no temporary file left. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("damaged")
    void damagedArchivesAreRejectedNamingTheEntry(String how) throws Exception {
        String suffix = how.substring(how.indexOf(' ') + 1);
        Path in = ReleaseArchives.write(work.resolve("ollama-linux-amd64" + suffix), false, 0);
        byte[] bytes = Files.readAllBytes(in);
        if (how.startsWith("truncated")) {
            bytes = java.util.Arrays.copyOf(bytes, bytes.length * 3 / 5);
        } else if (suffix.equals(".tar")) {
            bytes = corruptSecondHeader(bytes);
        } else {
            bytes[bytes.length / 2] ^= 0x55;
        }
        Files.write(in, bytes);
        Path out = work.resolve("out" + suffix);
        Cli.Result r = Cli.run("apply", in, "-o", out, "--shim", Fixtures.stub("x86_64"), "--prefix", work);
        assertEquals(4, r.exit(), r.toString());
        String err = r.err().strip();
        assertEquals(1, err.lines().count(), err);
        assertTrue(err.startsWith("ollama-patch: " + in + ": ") && err.contains("entry "), err);
        assertTrue(err.contains("bin/") || err.contains("lib/") || err.contains("README") || err.contains("first entry"),
                err);
        assertFalse(Files.exists(out));
        assertNoTemporaryFiles();
    }

    /** The header of the second entry, found by its name, gets a changed byte so its checksum fails. */
    private static byte[] corruptSecondHeader(byte[] tar) {
        for (int off = 512; off + 512 <= tar.length; off += 512) {
            String name = new String(tar, off, 20, java.nio.charset.StandardCharsets.US_ASCII);
            if (name.startsWith("bin/ollama\0")) {
                tar[off + 108] ^= 0x04; // uid field
                return tar;
            }
        }
        throw new AssertionError("no bin/ollama header");
    }

    @Test
    void usageErrors() throws Exception {
        Path in = ReleaseArchives.write(work.resolve("ollama-linux-amd64.tgz"), false, 0);
        assertEquals(2, Cli.run("apply", in).exit(), "in place on an archive");
        assertEquals(2, Cli.run("apply", in, "-o", work.resolve("out.tar.zst")).exit(), "another kind");
        assertEquals(2, Cli.run("apply", in, "-o", work.resolve("out")).exit(), "not an archive");
        assertEquals(2, Cli.run("apply", in, "-o", work.resolve("o.tar.gz"), "--prefix", "rel").exit(), "relative prefix");
        assertEquals(0, Cli.run("apply", in, "-o", work.resolve("o.tar.gz"), "--shim", Fixtures.stub("x86_64"),
                "--prefix", work).exit(), ".tgz and .tar.gz are one kind");
    }

    @Test
    void dryRunAndScanWriteNothing() throws Exception {
        Path in = ReleaseArchives.write(work.resolve("ollama-linux-amd64.tar.zst"), false, 0);
        Path out = work.resolve("out.tar.zst");
        Cli.Result dry = Cli.run("apply", in, "-o", out, "--dry-run", "--shim", Fixtures.stub("x86_64"),
                "--prefix", work, "--json");
        assertEquals(0, dry.exit(), dry.toString());
        assertFalse(Files.exists(out));
        assertTrue(dry.out().contains("\"status\" : \"planned\""), dry.out());
        Cli.Result scan = Cli.run("scan", in, "--json", "--prefix", work);
        assertEquals(0, scan.exit(), scan.toString());
        JsonNode files = new ObjectMapper().readTree(scan.out()).get("files");
        assertEquals(5, files.size(), scan.out()); // every ELF entry, ggml-loader too
        for (JsonNode f : files) assertEquals(in.toString(), f.get("archive").asText());
        assertNoTemporaryFiles();
    }

    /** An archive that already has a nvml.so where the shim goes: refused, unless --force replaces it. */
    @Test
    void existingShimEntryIsRefusedUnlessForced() throws Exception {
        Path first = ReleaseArchives.write(work.resolve("ollama-linux-amd64.tar"), false, 0);
        Path once = work.resolve("once.tar");
        assertEquals(0, Cli.run("apply", first, "-o", once, "--shim", Fixtures.stub("x86_64"), "--prefix", work).exit());
        // Put the original, unpatched binaries back in front of the shims by re-patching a mixed archive:
        // simplest is the bundled layout with an extra nvml.so written before bin/ollama.
        Path mixed = tar(work.resolve("mixed.tar"), List.of("bin/nvml.so", "bin/ollama"));
        Path out = work.resolve("out.tar");
        Cli.Result refused = Cli.run("apply", mixed, "-o", out, "--shim", Fixtures.stub("x86_64"), "--prefix", work);
        assertEquals(5, refused.exit(), refused.toString());
        assertTrue(refused.err().contains("entry bin/nvml.so"), refused.err());
        assertFalse(Files.exists(out));
        Cli.Result forced = Cli.run("apply", mixed, "-o", out, "--shim", Fixtures.stub("x86_64"), "--prefix", work,
                "--force");
        assertEquals(0, forced.exit(), forced.toString());
        List<TarArchiveEntry> entries = ReleaseArchives.entries(out);
        assertEquals(List.of("bin/ollama", "bin/nvml.so"), entries.stream().map(TarArchiveEntry::getName).toList());
        assertEquals(Files.size(Fixtures.stub("x86_64")), entries.get(1).getSize());

        // Patching the patched archive again: already patched, exit 0, nothing written.
        Path again = work.resolve("again.tar");
        Cli.Result twice = Cli.run("apply", once, "-o", again, "--shim", Fixtures.stub("x86_64"), "--prefix", work);
        assertEquals(0, twice.exit(), twice.toString());
        assertTrue(twice.err().contains("already patched"), twice.err());
        assertFalse(Files.exists(again));
        assertNoTemporaryFiles();
    }

    /**
     * Two entries where shims go, both before the binaries that need them: --force replaces both in
     * one more pass (it used to start over once per entry found), and a dry run reports the same.
     */
    @Test
    void forceReplacesEveryEarlierShimEntryAtOnce() throws Exception {
        Path mixed = tar(work.resolve("two.tar"),
                List.of("bin/nvml.so", "lib/ollama/nvml.so", "bin/ollama", "lib/ollama/runner"));
        Path out = work.resolve("two-out.tar");
        Cli.Result dry = Cli.run("apply", mixed, "-o", out, "--shim", Fixtures.stub("x86_64"), "--prefix", work,
                "--force", "--dry-run", "--json");
        assertEquals(0, dry.exit(), dry.toString());
        assertFalse(Files.exists(out));
        Cli.Result forced = Cli.run("apply", mixed, "-o", out, "--shim", Fixtures.stub("x86_64"), "--prefix", work,
                "--force", "--json");
        assertEquals(0, forced.exit(), forced.toString());
        assertTrue(forced.err().contains("2 entries patched, 2 shims added, verified"), forced.err());
        List<TarArchiveEntry> entries = ReleaseArchives.entries(out);
        assertEquals(List.of("bin/ollama", "bin/nvml.so", "lib/ollama/runner", "lib/ollama/nvml.so"),
                entries.stream().map(TarArchiveEntry::getName).toList());
        JsonNode planned = new ObjectMapper().readTree(dry.out()).get("files");
        JsonNode patched = new ObjectMapper().readTree(forced.out()).get("files");
        assertEquals(2, planned.size(), dry.out());
        assertEquals(2, patched.size(), forced.out());
        for (int i = 0; i < 2; i++) {
            assertEquals(patched.get(i).get("path"), planned.get(i).get("path"));
            assertEquals("planned", planned.get(i).get("status").asText());
            assertEquals("patched", patched.get(i).get("status").asText());
        }
        assertNoTemporaryFiles();
    }

    @Test
    void theShimMustServeEveryPatchedEntry() throws Exception {
        Path in = ReleaseArchives.write(work.resolve("ollama-linux-amd64.tar"), false, 0);
        Path out = work.resolve("out.tar");
        Cli.Result r = Cli.run("apply", in, "-o", out, "--shim", Fixtures.stub("aarch64"), "--prefix", work);
        assertEquals(5, r.exit(), r.toString());
        assertTrue(r.err().contains("entry bin/ollama: the shim cannot serve it"), r.err());
        assertFalse(Files.exists(out));
    }

    /** A tar of {@code names} in order: each "nvml.so" holds "old" (not a shim), every other name gen-c. */
    private static Path tar(Path file, List<String> names) throws Exception {
        Path gen = Fixtures.binary("x86_64", "release", "gen-c");
        try (var raw = Files.newOutputStream(file);
             var tar = new org.apache.commons.compress.archivers.tar.TarArchiveOutputStream(raw, "UTF-8")) {
            tar.setLongFileMode(org.apache.commons.compress.archivers.tar.TarArchiveOutputStream.LONGFILE_POSIX);
            for (String name : names) {
                var e = new TarArchiveEntry(name, org.apache.commons.compress.archivers.tar.TarConstants.LF_NORMAL, true);
                boolean old = name.endsWith("/nvml.so");
                e.setSize(old ? 3 : Files.size(gen));
                if (!old) e.setMode(0100755);
                tar.putArchiveEntry(e);
                if (old) tar.write(new byte[] {'o', 'l', 'd'}); else Files.copy(gen, tar);
                tar.closeArchiveEntry();
            }
        }
        return file;
    }

    private void assertNoTemporaryFiles() throws Exception {
        try (Stream<Path> s = Files.walk(work)) {
            List<Path> temps = s.filter(f -> f.getFileName().toString().endsWith(".ollama-patch.tmp")).toList();
            assertEquals(List.of(), temps);
        }
        try (Stream<Path> s = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            // This JVM's spools only: other processes on the machine may be patching archives too.
            String ours = ".ollama-patch-entry." + ProcessHandle.current().pid() + ".";
            assertEquals(List.of(), s.filter(f -> f.getFileName().toString().startsWith(ours)).toList());
        }
    }
}
