package dev.ollamapatch.archive;

import dev.ollamapatch.patch.Fixtures;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An archive of over 1 GB (a 1.1 GiB entry of zeros beside the release's binaries) is patched by the
 * tool in its own JVM with a 64 MiB heap: had it held an entry, or the archive, in memory, it could
 * not have finished.
 */
class LargeArchiveIT {
    static final long BIG = 1_100L << 20;

    @Test
    void overOneGigabyteStreamsInASmallHeap() throws Exception {
        Path work = ReleaseArchives.shortDirectory();
        try {
            Path in = ReleaseArchives.write(work.resolve("ollama-linux-amd64.tgz"), false, BIG);
            Path out = work.resolve("patched.tgz");
            ToolProcess.Result r = ToolProcess.run(ToolProcess.builder(List.of("-Xmx64m"), "apply", in, "-o", out,
                    "--shim", Fixtures.stub("x86_64"), "--prefix", work), 300);
            assertEquals(0, r.exit(), r.toString());
            List<TarArchiveEntry> entries = ReleaseArchives.entries(out);
            TarArchiveEntry blob = entries.stream().filter(e -> e.getName().equals("lib/ollama/blob.bin")).findFirst()
                    .orElseThrow();
            assertEquals(BIG, blob.getSize());
            assertTrue(entries.stream().anyMatch(e -> e.getName().equals("bin/nvml.so")));
            System.out.printf("large archive: %d MiB of tar in %.1f MiB .tgz -> %.1f MiB, %.1f s with -Xmx64m%n",
                    BIG >> 20, Files.size(in) / 1048576.0, Files.size(out) / 1048576.0, r.seconds());
        } finally {
            ReleaseArchives.delete(work);
        }
    }
}
