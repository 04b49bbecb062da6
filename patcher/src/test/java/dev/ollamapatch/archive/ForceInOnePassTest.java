package dev.ollamapatch.archive;

import dev.ollamapatch.patch.Fixtures;
import dev.ollamapatch.report.ApplyOutcome;
import dev.ollamapatch.site.LibraryTarget;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 13: no pass over an archive starts over. Pass 1 finds the entries where a shim goes before anything
 * is written, so {@code --force} with such an entry before the ELF entry that needs the shim reads the
 * archive twice (pass 1 decides, pass 2 writes), not once more per entry found; without {@code --force}
 * it is refused after pass 1 alone. Each pass names every entry on the progress bar: the first entry's
 * name heard N times is N reads.
 */
class ForceInOnePassTest {
    @TempDir
    Path tmp;

    /** Hears the entries each pass reads. */
    private static final class Reads extends Progress {
        final List<String> names = new ArrayList<>();

        Reads() {
            super(null, 0);
        }

        @Override
        void entry(String name) {
            names.add(name);
        }

        long of(String name) {
            return names.stream().filter(name::equals).count();
        }
    }

    @Test
    void forceWithShimEntriesBeforeTheElfEntriesWritesInOnePass() throws Exception {
        Path in = tar(List.of("bin/nvml.so", "lib/ollama/nvml.so", "bin/ollama", "lib/ollama/runner"));
        Path out = tmp.resolve("out.tar");
        Reads reads = new Reads();
        ApplyOutcome r = ArchiveApply.run(options(in, out, false, true), reads);
        assertEquals(ApplyOutcome.Ending.DONE, r.ending(), r.toString());
        // Pass 1 (decides, finds both nvml.so entries) and pass 2 (writes, drops them): each read once, whole.
        List<String> once = List.of("bin/nvml.so", "lib/ollama/nvml.so", "bin/ollama", "lib/ollama/runner");
        List<String> twice = new ArrayList<>(once);
        twice.addAll(once);
        assertEquals(twice, reads.names);
        assertEquals(List.of("bin/ollama", "bin/nvml.so", "lib/ollama/runner", "lib/ollama/nvml.so"),
                ReleaseArchives.entries(out).stream().map(TarArchiveEntry::getName).toList());
        assertTrue(r.messages().get(0).contains("2 entries patched, 2 shims added, verified"), r.messages().toString());
    }

    @Test
    void forcedDryRunReadsTheArchiveTwiceToo() throws Exception {
        Path in = tar(List.of("bin/nvml.so", "bin/ollama"));
        Path out = tmp.resolve("out.tar");
        Reads reads = new Reads();
        ApplyOutcome r = ArchiveApply.run(options(in, out, true, true), reads);
        assertEquals(ApplyOutcome.Ending.DONE, r.ending(), r.toString());
        assertEquals(2, reads.of("bin/nvml.so"), reads.names.toString());
        assertEquals(1, r.reports().size());
        assertFalse(Files.exists(out));
    }

    @Test
    void withoutForceTheFirstPassRefusesBeforeAnythingIsWritten() throws Exception {
        Path in = tar(List.of("bin/ollama", "bin/nvml.so"));
        Path out = tmp.resolve("out.tar");
        Reads reads = new Reads();
        ApplyOutcome r = ArchiveApply.run(options(in, out, false, false), reads);
        assertEquals(ApplyOutcome.Ending.REFUSED, r.ending(), r.toString());
        assertTrue(r.stopped());
        assertEquals(List.of(in + ": entry bin/nvml.so: the archive already has an entry where the shim goes; "
                + "--force replaces it; nothing written"), r.messages());
        assertEquals(1, reads.of("bin/ollama"), reads.names.toString());
        assertFalse(Files.exists(out));
        try (var left = Files.list(tmp)) {
            assertEquals(List.of(), left.filter(f -> f.getFileName().toString().endsWith(".ollama-patch.tmp")).toList());
        }
    }

    private ArchiveApply.Options options(Path in, Path out, boolean dryRun, boolean force) throws Exception {
        return new ArchiveApply.Options(in, out, List.of(LibraryTarget.NVML), Fixtures.stub("x86_64"),
                tmp.toString(), dryRun, force, null, null);
    }

    /** A tar of {@code names} in order: each "nvml.so" holds "old" (not a shim), every other name gen-c. */
    private Path tar(List<String> names) throws Exception {
        Path file = tmp.resolve("in.tar");
        Path gen = Fixtures.binary("x86_64", "release", "gen-c");
        try (OutputStream raw = Files.newOutputStream(file); TarArchiveOutputStream t = new TarArchiveOutputStream(raw)) {
            t.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            for (String name : names) {
                TarArchiveEntry e = new TarArchiveEntry(name, TarConstants.LF_NORMAL, true);
                boolean old = name.endsWith("/nvml.so");
                e.setSize(old ? 3 : Files.size(gen));
                if (!old) e.setMode(0100755);
                t.putArchiveEntry(e);
                if (old) t.write(new byte[] {'o', 'l', 'd'}); else Files.copy(gen, t);
                t.closeArchiveEntry();
            }
        }
        return file;
    }
}
