package dev.ollamapatch.archive;

import dev.ollamapatch.patch.Cli;
import dev.ollamapatch.patch.Fixtures;
import dev.ollamapatch.patch.TestFiles;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Archive entries that would extract outside the directory they are extracted into are refused
 * with one line and nothing written (issue 15, item 12), and the other one-line findings of item 11
 * that archives and odd targets reach.
 */
class HostileEntriesTest {
    @TempDir
    Path tmp;

    /** A tar with a symbolic link entry (when {@code link} is not null) and the gen-c binary at {@code elfName}. */
    private Path tar(String name, String link, String linkTarget, String elfName) throws Exception {
        Path out = tmp.resolve(name);
        Path elf = Fixtures.binary("x86_64", "release", "gen-c");
        try (OutputStream raw = Files.newOutputStream(out); TarArchiveOutputStream t = new TarArchiveOutputStream(raw)) {
            t.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            if (link != null) {
                TarArchiveEntry l = new TarArchiveEntry(link, TarConstants.LF_SYMLINK);
                l.setLinkName(linkTarget);
                t.putArchiveEntry(l);
                t.closeArchiveEntry();
            }
            TarArchiveEntry e = new TarArchiveEntry(elfName, true);
            e.setSize(Files.size(elf));
            e.setMode(0100755);
            t.putArchiveEntry(e);
            Files.copy(elf, t);
            t.closeArchiveEntry();
        }
        return out;
    }

    private void assertRefused(Path archive, String says) throws Exception {
        Set<String> before = TestFiles.listing(tmp);
        for (String command : new String[] {"scan", "apply"}) {
            Cli.Result r = command.equals("scan") ? Cli.run("scan", archive)
                    : Cli.run("apply", archive, "-o", tmp.resolve("out.tar"));
            assertEquals(5, r.exit(), command + " " + archive + ": " + r);
            assertEquals(1, r.err().strip().lines().count(), r.toString());
            assertTrue(r.err().contains(says), r.err());
        }
        assertEquals(before, TestFiles.listing(tmp), "nothing written");
    }

    @Test
    void anAbsoluteElfEntryIsRefusedAndNoAbsoluteShimIsAdded() throws Exception {
        assertRefused(tar("abs.tar", null, null, "/abs/dir/ollama"), "entry /abs/dir/ollama: an absolute path");
    }

    @Test
    void anEntryClimbingOutWithDotDotIsRefusedForSafetyNotAsUsage() throws Exception {
        assertRefused(tar("dotdot.tar", null, null, "../x/ollama"), "entry ../x/ollama: climbs out with '..'");
        assertRefused(tar("dotdot2.tar", null, null, "./bin/../../ollama"), "climbs out");
    }

    @Test
    void nothingIsAddedBelowASymbolicLinkEntry() throws Exception {
        assertRefused(tar("sym.tar", "lib/ollama", "/etc", "lib/ollama/libggml.so"),
                "lies below the symbolic link entry lib/ollama");
    }

    @Test
    void aBase256SizeOfTwoToTheSixtySecondIsInvalidInputInOneLine() throws Exception {
        // A ustar header whose size field is base-256 (first byte 0x80): 2^62 bytes.
        byte[] header = new byte[512];
        byte[] name = "big".getBytes();
        System.arraycopy(name, 0, header, 0, name.length);
        System.arraycopy("0000644\0".getBytes(), 0, header, 100, 8);
        System.arraycopy("0000000\0".getBytes(), 0, header, 108, 8);
        System.arraycopy("0000000\0".getBytes(), 0, header, 116, 8);
        header[124] = (byte) 0x80;
        long size = 1L << 62;
        for (int i = 135; i > 127; i--, size >>>= 8) header[i] = (byte) size;
        System.arraycopy("00000000000\0".getBytes(), 0, header, 136, 12);
        header[156] = '0';
        System.arraycopy("ustar\0".getBytes(), 0, header, 257, 6);
        header[263] = '0';
        header[264] = '0';
        java.util.Arrays.fill(header, 148, 156, (byte) ' ');
        int sum = 0;
        for (byte b : header) sum += b & 0xff;
        System.arraycopy(String.format("%06o\0 ", sum).getBytes(), 0, header, 148, 8);
        Path archive = tmp.resolve("big.tar");
        Files.write(archive, java.util.Arrays.copyOf(header, 512 * 4));
        for (String command : new String[] {"scan", "apply"}) {
            Cli.Result r = command.equals("scan") ? Cli.run("scan", archive)
                    : Cli.run("apply", archive, "-o", tmp.resolve("out.tar"));
            assertEquals(4, r.exit(), command + ": " + r);
            assertEquals(1, r.err().strip().lines().count(), r.toString());
            assertFalse(r.err().contains("Exception"), r.err());
        }
        assertFalse(Files.exists(tmp.resolve("out.tar")));
    }

    @Test
    void anArchiveWrittenIntoAMissingDirectoryNamesThatDirectory() throws Exception {
        Path archive = tar("ok.tar", null, null, "bin/ollama");
        Path out = tmp.resolve("missing/out.tar");
        Cli.Result r = Cli.run("apply", archive, "-o", out);
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.err().contains("the directory " + out.getParent() + " does not exist"), r.err());
        assertFalse(r.err().contains(".ollama-patch.tmp"), r.err());
    }

    @Test
    void aFifoIsRefusedInsteadOfReadForever() throws Exception {
        Path fifo = tmp.resolve("fifo");
        assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
        for (String command : new String[] {"scan", "apply", "verify", "restore"}) {
            Cli.Result r = Cli.run(command, fifo);
            assertEquals(4, r.exit(), command + ": " + r);
            assertTrue(r.err().contains("not a regular file or directory"), r.err());
        }
    }

    @Test
    void jsonOnErrorStillPrintsOneJsonDocument() throws Exception {
        Cli.Result r = Cli.run("apply", "--json", tmp.resolve("missing"));
        assertEquals(2, r.exit(), r.toString());
        var doc = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.out());
        assertEquals(2, doc.get("exit_code").asInt());
        assertTrue(doc.get("error").asText().contains("no such file"), r.out());
    }
}
