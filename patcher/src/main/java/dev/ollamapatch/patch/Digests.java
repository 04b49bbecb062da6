package dev.ollamapatch.patch;

import dev.ollamapatch.elf.ByteSource;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** SHA-256 over mapped bytes, in large slices. */
public final class Digests {
    private static final int CHUNK = 1 << 24;

    private Digests() {}

    public static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every Java runtime", e);
        }
    }

    public static String sha256(ByteSource source) {
        MessageDigest md = sha256();
        for (long p = 0; p < source.size(); p += CHUNK) {
            md.update(source.slice(p, (int) Math.min(CHUNK, source.size() - p)));
        }
        return HexFormat.of().formatHex(md.digest());
    }
}
