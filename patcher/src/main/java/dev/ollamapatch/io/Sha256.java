package dev.ollamapatch.io;

import dev.ollamapatch.elf.ByteSource;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Optional;

/**
 * A SHA-256 digest as a value: compared by its 32 bytes, written as 64 lowercase hex digits. The one
 * hashing path of the tool: files and sources are read in chunks through the file rather than its
 * mapping, so hashing a large file neither holds it in the heap nor faults all its pages in.
 */
public final class Sha256 {
    private static final int CHUNK = 4 << 20;
    private static final HexFormat HEX = HexFormat.of();
    private final byte[] bytes;

    private Sha256(byte[] bytes) {
        this.bytes = bytes;
    }

    /** A fresh digest to feed, for data that streams past once (see {@link #of(MessageDigest)}). */
    public static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every Java runtime", e);
        }
    }

    /** The value of a digest that has been fed everything. */
    public static Sha256 of(MessageDigest fed) {
        return new Sha256(fed.digest());
    }

    public static Sha256 of(byte[] data) {
        MessageDigest md = digest();
        md.update(data);
        return of(md);
    }

    public static Sha256 of(Path file) throws IOException {
        try (ByteSource b = ByteSource.map(file)) {
            return of(b);
        }
    }

    public static Sha256 of(ByteSource source) {
        MessageDigest md = digest();
        byte[] buf = new byte[(int) Math.min(CHUNK, Math.max(1, source.size()))];
        for (long p = 0; p < source.size(); p += CHUNK) {
            int len = (int) Math.min(CHUNK, source.size() - p);
            source.readBulk(p, buf, 0, len);
            md.update(buf, 0, len);
        }
        return of(md);
    }

    public static Sha256 of(InputStream in) throws IOException {
        MessageDigest md = digest();
        byte[] buf = new byte[1 << 16];
        for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
        return of(md);
    }

    /** 64 hex digits in either case; empty for anything else. */
    public static Optional<Sha256> parse(String hex) {
        if (hex == null || hex.length() != 64) return Optional.empty();
        try {
            return Optional.of(new Sha256(HEX.parseHex(hex.toLowerCase(java.util.Locale.ROOT))));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /** Whether {@code hex} (in either case) names this digest; false for anything that is not a digest. */
    public boolean matches(String hex) {
        return parse(hex).map(this::equals).orElse(false);
    }

    public String hex() {
        return HEX.formatHex(bytes);
    }

    @Override
    public String toString() {
        return hex();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Sha256 s && Arrays.equals(bytes, s.bytes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bytes);
    }
}
