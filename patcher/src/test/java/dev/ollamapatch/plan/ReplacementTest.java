package dev.ollamapatch.plan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

/** The replacement rule of DESIGN.md section 4: right-aligned, '/' before it, never a NUL. */
class ReplacementTest {
    private static String of(String path, int length) {
        return new String(Replacement.of(path, length), StandardCharsets.UTF_8);
    }

    @Test
    void thePathEndsWhereTheSiteEndsWithSlashesBeforeIt() {
        assertEquals("//$ORIGIN/nvml.so", of("$ORIGIN/nvml.so", 17));
        assertEquals("/////////////////////////$ORIGIN/nvml.so", of("$ORIGIN/nvml.so", 40));
    }

    @Test
    void aPathOfExactlyTheSiteLengthNeedsNoPadding() {
        assertEquals("$ORIGIN/nvml.so", of("$ORIGIN/nvml.so", 15));
    }

    @Test
    void everyStartUpToEndMinusPathLengthReadsTheSamePath() {
        String r = of("/opt/x/nvml.so", 30);
        for (int start = 0; start <= 30 - 14; start++) {
            assertEquals("/opt/x/nvml.so", r.substring(start).replaceFirst("^/+", "/"), "from byte " + start);
        }
    }

    @Test
    void aPathLongerThanTheSiteIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> Replacement.of("$ORIGIN/nvml.so", 14));
    }

    @Test
    void aNulInThePathIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> Replacement.of("/a\0b", 10));
    }

    @Test
    void lengthsAreBytesOfUtf8() {
        assertEquals(15, Replacement.length("$ORIGIN/nvml.so"));
        assertEquals(10, Replacement.length("/é/nvml.s"));
        assertArrayEquals("/é".getBytes(StandardCharsets.UTF_8), Replacement.of("é", 3));
    }
}
