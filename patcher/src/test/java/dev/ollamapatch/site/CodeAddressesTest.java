package dev.ollamapatch.site;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ollamapatch.elf.ByteSource;
import dev.ollamapatch.elf.ElfFile;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** What one pass recorded is given back region by region, in order; code with too many leas is not kept. */
class CodeAddressesTest {
    /** A parsed file (no status: keyed by the instance, so each test has its own). */
    private static ElfFile someElf() throws Exception {
        return ElfFile.parse(ByteSource.of(Files.readAllBytes(Path.of(System.getProperty("java.home"), "lib", "libjava.so"))));
    }

    @Test
    void eachRegionGivesBackItsLeasInOrderAndAnUnrecordedRegionNone() throws Exception {
        ElfFile elf = someElf();
        CodeAddresses.Recorder r = new CodeAddresses.Recorder();
        r.region(0x1000, 0x401000, 0x500);
        r.lea(0x401000, 0x600000);
        r.lea(0x401010, 0x600020);
        r.region(0x2000, 0x402000, 0x100); // no lea
        r.region(0x3000, 0x403000, 0x4000);
        for (int i = 0; i < 3000; i++) r.lea(0x403000 + i, 0x700000 + 2L * i); // past the first array's 1024
        assertTrue(CodeAddresses.of(elf).isEmpty(), "nothing before publish");
        r.publish(elf);
        CodeAddresses a = CodeAddresses.of(elf).orElseThrow();
        CodeAddresses.Leas first = a.region(0x1000, 0x401000, 0x500).orElseThrow();
        assertEquals(2, first.count());
        assertArrayEquals(new long[] {0x401000, 0x401010}, Arrays.copyOf(first.at(), 2));
        assertArrayEquals(new long[] {0x600000, 0x600020}, Arrays.copyOf(first.target(), 2));
        assertEquals(0, a.region(0x2000, 0x402000, 0x100).orElseThrow().count());
        CodeAddresses.Leas third = a.region(0x3000, 0x403000, 0x4000).orElseThrow();
        assertEquals(3000, third.count());
        assertEquals(0x403000 + 2999, third.at()[2999]);
        assertEquals(0x700000 + 2 * 2999, third.target()[2999]);
        assertTrue(a.region(0x1000, 0x401000, 0x501).isEmpty(), "another size is another region");
    }

    @Test
    void codeWithMoreLeasThanTheBoundKeepsNoneAndTheResolutionDecodesIt() throws Exception {
        ElfFile elf = someElf();
        CodeAddresses.Recorder r = new CodeAddresses.Recorder();
        r.region(0, 0x400000, 1L << 30);
        for (int i = 0; i <= CodeAddresses.MAX_LEAS; i++) r.lea(0x400000 + 8L * i, 0x90000000L);
        r.publish(elf);
        assertTrue(CodeAddresses.of(elf).isEmpty());

        ElfFile exact = someElf();
        CodeAddresses.Recorder atBound = new CodeAddresses.Recorder();
        atBound.region(0, 0x400000, 1L << 30);
        for (int i = 0; i < CodeAddresses.MAX_LEAS; i++) atBound.lea(0x400000 + 8L * i, 0x90000000L);
        atBound.publish(exact);
        assertEquals(CodeAddresses.MAX_LEAS, CodeAddresses.of(exact).orElseThrow().region(0, 0x400000, 1L << 30)
                .orElseThrow().count());
    }
}
