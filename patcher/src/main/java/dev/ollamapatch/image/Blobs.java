package dev.ollamapatch.image;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ollamapatch.io.Sha256;
import dev.ollamapatch.report.PatchException;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.regex.Pattern;

/** Content-addressed blobs: digests, descriptors, and the JSON documents of an image. */
final class Blobs {
    private static final Pattern SHA256 = Pattern.compile("sha256:[0-9a-f]{64}");
    /** Manifests, indexes and configs are read whole; none is near this (registries cap manifests at 4 MiB). */
    private static final int MAX_JSON = 64 << 20;

    /** Numbers kept exactly as written, so a config is rewritten with nothing changed but what is added. */
    static final ObjectMapper JSON = new ObjectMapper()
            .setNodeFactory(JsonNodeFactory.withExactBigDecimals(true))
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .enable(DeserializationFeature.USE_BIG_INTEGER_FOR_INTS);

    private Blobs() {}

    /** A descriptor: what a manifest or index says about a blob. */
    record Descriptor(String mediaType, String digest, long size, ObjectNode node) {
        String hex() { return digest.substring("sha256:".length()); }

        String blobPath() { return "blobs/sha256/" + hex(); }

        static Descriptor of(JsonNode n, String where) {
            if (n == null || !n.isObject()) throw invalid(where + ": not a descriptor");
            String digest = n.path("digest").asText("");
            if (!SHA256.matcher(digest).matches()) {
                throw invalid(where + ": digest \"" + digest + "\" is not a sha256 digest");
            }
            if (!n.path("size").canConvertToLong() || n.path("size").asLong() < 0) {
                throw invalid(where + ": descriptor of " + digest + " has no valid size");
            }
            return new Descriptor(n.path("mediaType").asText(""), digest, n.path("size").asLong(), (ObjectNode) n);
        }
    }

    static PatchException invalid(String message) {
        return new PatchException(PatchException.Kind.INVALID_INPUT, message);
    }

    static String hex(byte[] digest) {
        return HexFormat.of().formatHex(digest);
    }

    /** Reads a small blob whole, checking its size and digest. */
    static byte[] readVerified(ImageSource source, String member, Descriptor d) throws IOException {
        if (d.size() > MAX_JSON) throw invalid("blob " + d.digest() + ": " + d.size() + " bytes is too large for a JSON document");
        byte[] bytes;
        try (InputStream in = source.open(member, "blob " + d.digest())) {
            bytes = in.readNBytes(MAX_JSON + 1);
        }
        check(d, bytes.length, Sha256.digest().digest(bytes));
        return bytes;
    }

    static void check(Descriptor d, long size, byte[] sha) {
        String actual = "sha256:" + hex(sha);
        if (!actual.equals(d.digest())) {
            throw invalid("blob " + d.digest() + ": digest mismatch (its content is " + actual + ")");
        }
        if (size != d.size()) {
            throw invalid("blob " + d.digest() + ": size mismatch (descriptor says " + d.size() + ", blob has " + size + ")");
        }
    }

    static JsonNode parse(byte[] bytes, String where) {
        try {
            JsonNode n = JSON.readTree(bytes);
            if (n == null || !n.isObject()) throw invalid(where + ": not a JSON object");
            return n;
        } catch (IOException e) {
            throw invalid(where + ": not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
    }

    static byte[] bytes(JsonNode n) {
        try {
            return JSON.writeValueAsBytes(n);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * A blob's bytes as stored, checked against its descriptor when fully read: a mismatch is
     * invalid input naming the blob. Counts and hashes what passes through.
     */
    static final class Verifying extends FilterInputStream {
        private final Descriptor descriptor;
        private final MessageDigest sha = Sha256.digest();
        private long count;
        private boolean checked;

        Verifying(InputStream in, Descriptor descriptor) {
            super(in);
            this.descriptor = descriptor;
        }

        @Override public int read() throws IOException {
            int b = in.read();
            if (b >= 0) {
                sha.update((byte) b);
                count++;
            } else {
                finish();
            }
            return b;
        }

        @Override public int read(byte[] b, int off, int len) throws IOException {
            int n = in.read(b, off, len);
            if (n > 0) {
                sha.update(b, off, n);
                count += n;
            } else if (n < 0) {
                finish();
            }
            return n;
        }

        /** No mark: a decompressor that marks and resets would have bytes hashed twice. */
        @Override public boolean markSupported() {
            return false;
        }

        @Override public long skip(long n) throws IOException {
            byte[] buf = new byte[(int) Math.min(n, 1 << 16)];
            int r = read(buf, 0, buf.length);
            return Math.max(r, 0);
        }

        /** Reads what is left and checks the whole blob. */
        void finish() throws IOException {
            if (checked) return;
            byte[] buf = new byte[1 << 16];
            int n;
            while ((n = in.read(buf)) > 0) {
                sha.update(buf, 0, n);
                count += n;
            }
            checked = true;
            check(descriptor, count, sha.digest());
        }
    }
}
