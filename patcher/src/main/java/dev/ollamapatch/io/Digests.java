package dev.ollamapatch.io;

import dev.ollamapatch.elf.ByteSource;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * SHA-256 of a source, read in chunks through the file rather than its mapping so that hashing a
 * large file neither holds it in the heap nor faults all of its pages into the process.
 */
public final class Digests {
    private static final int CHUNK = 4 << 20;

    private Digests() {}

    public static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every Java runtime", e);
        }
    }

    /** SHA-256 of a whole file. */
    public static String sha256(java.nio.file.Path file) throws java.io.IOException {
        try (ByteSource b = ByteSource.map(file)) {
            return sha256(b);
        }
    }

    public static String sha256(ByteSource source) {
        MessageDigest md = sha256();
        byte[] buf = new byte[(int) Math.min(CHUNK, Math.max(1, source.size()))];
        for (long p = 0; p < source.size(); p += CHUNK) {
            int len = (int) Math.min(CHUNK, source.size() - p);
            source.readBulk(p, buf, 0, len);
            md.update(buf, 0, len);
        }
        return HexFormat.of().formatHex(md.digest());
    }
}
