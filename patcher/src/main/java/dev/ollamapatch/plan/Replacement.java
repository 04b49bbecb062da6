package dev.ollamapatch.plan;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The replacement rule: the path, right-aligned so that it ends where the site ends, with '/'
 * before it. POSIX reads repeated '/' as one, so every start inside the site at or before
 * {@code end - path.length} still reads a valid path to the same file, and no NUL is ever written.
 */
public final class Replacement {
    private Replacement() {}

    public static byte[] of(String path, int siteLength) {
        byte[] p = path.getBytes(StandardCharsets.UTF_8);
        if (p.length > siteLength) {
            throw new IllegalArgumentException("path of " + p.length + " bytes does not fit " + siteLength);
        }
        for (byte b : p) {
            if (b == 0) throw new IllegalArgumentException("path contains a NUL byte");
        }
        byte[] out = new byte[siteLength];
        Arrays.fill(out, 0, siteLength - p.length, (byte) '/');
        System.arraycopy(p, 0, out, siteLength - p.length, p.length);
        return out;
    }

    /** Length in bytes of the path as written. */
    public static int length(String path) {
        return path.getBytes(StandardCharsets.UTF_8).length;
    }

}
