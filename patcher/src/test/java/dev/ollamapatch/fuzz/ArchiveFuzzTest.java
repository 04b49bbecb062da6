package dev.ollamapatch.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.ollamapatch.patch.PatchException;

/**
 * Fuzz target for the archive input path (tar, gzip, zstd, then every ELF entry), through
 * {@link ArchiveHarness} until {@code dev.ollamapatch.archive} lands. Any input either reads or
 * fails with a one-line {@link PatchException} of kind INVALID_INPUT; anything else is a finding.
 *
 * <p>Regression corpus: {@code src/test/resources/dev/ollamapatch/fuzz/ArchiveFuzzTestInputs/read/}.
 */
class ArchiveFuzzTest {
    @FuzzTest(maxDuration = "60s")
    void read(byte[] input) {
        try {
            ArchiveHarness.read("fuzz.tgz", input, 16 << 20);
        } catch (PatchException e) {
            if (e.kind() != PatchException.Kind.INVALID_INPUT) throw e;
            if (e.getMessage() == null || e.getMessage().contains("\n")) throw new AssertionError("message: " + e.getMessage(), e);
        }
    }
}
