package dev.ollamapatch.site;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

/** Glob locators are matched without a regex engine (the fuzzer found patterns that steered one). */
class GlobMatchTest {
    @Test
    void shellSemantics() {
        String n = "libnvidia-ml.so.1";
        for (String p : new String[] {"libnvidia-ml.so*", "libnvidia-ml.so.?", "libnvidia-ml.so.[0-9]", "*", "lib*ml.so*",
                "[!x]ibnvidia-ml.so.1", "[^x]ibnvidia-ml.so.1", "libnvidia-ml.so.[1]", "**.so.1"}) {
            assertTrue(LibraryTarget.globMatches(p, n), p);
        }
        for (String p : new String[] {"libnvidia-ml.so", "libnvidia-ml.so.[2-9]", "[!l]ibnvidia-ml.so.1", "x*", "libnvidia-ml.so.1?",
                "libnvidia-ml.so[", "libnvidia-ml.so.[a-&&z]"}) {
            assertFalse(LibraryTarget.globMatches(p, n), p);
        }
        assertTrue(LibraryTarget.globMatches("a[b", "a[b"), "an unclosed [ is literal");
    }

    @Test
    void hostilePatternsAreCheap() {
        String p = "*a".repeat(2000) + "[[:alpha:]\\p{L}&&[^a]]" + "*".repeat(2000);
        long t = System.nanoTime();
        assertFalse(LibraryTarget.globMatches(p, "a".repeat(4000) + "b"));
        assertTrue(System.nanoTime() - t < 5_000_000_000L);
        assertTrue(new LibraryTarget("libnvidia-ml.so.1", "$ORIGIN/nvml.so").isLocator("/usr/lib/libnvidia-ml.so*"));
    }
}
