package dev.ollamapatch.image;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;
import org.apache.commons.compress.compressors.zstandard.ZstdCompressorOutputStream;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/**
 * Container images built by hand from the fixtures, written with commons-compress and Jackson
 * directly (not with the code under test): layers, configs, manifests, indexes, in the three forms
 * (OCI layout directory, OCI layout tarball, docker save tarball).
 */
final class TestImages {
    static final ObjectMapper JSON = new ObjectMapper();
    static final long T0 = 1_735_000_000L;

    private TestImages() {}

    /** One layer entry. */
    record Entry(String name, byte type, int mode, long uid, long gid, String link, byte[] data, Path source) {
        static Entry dir(String name) { return new Entry(name, TarConstants.LF_DIR, 0755, 0, 0, "", null, null); }

        static Entry file(String name, Path source, int mode, long uid, long gid) {
            return new Entry(name, TarConstants.LF_NORMAL, mode, uid, gid, "", null, source);
        }

        static Entry text(String name, String text) {
            return new Entry(name, TarConstants.LF_NORMAL, 0644, 0, 0, "", text.getBytes(StandardCharsets.UTF_8), null);
        }

        static Entry hardLink(String name, String target) {
            return new Entry(name, TarConstants.LF_LINK, 0755, 0, 0, target, null, null);
        }

        static Entry symlink(String name, String target) {
            return new Entry(name, TarConstants.LF_SYMLINK, 0777, 0, 0, target, null, null);
        }
    }

    enum Compression { PLAIN, GZIP, ZSTD }

    /** A layer's blob and diff_id. */
    record Layer(byte[] blob, String diffId, String mediaType) {
        String digest() { return sha256(blob); }
    }

    static Layer layer(Compression c, List<Entry> entries) throws IOException {
        ByteArrayOutputStream tarBytes = new ByteArrayOutputStream();
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(tarBytes, "UTF-8")) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            for (Entry e : entries) {
                TarArchiveEntry t = new TarArchiveEntry(e.name(), e.type(), true);
                t.setMode(e.mode());
                t.setUserId(e.uid());
                t.setGroupId(e.gid());
                t.setUserName(e.uid() == 0 ? "root" : "builder");
                t.setModTime(FileTime.from(Instant.ofEpochSecond(T0)));
                if (!e.link().isEmpty()) t.setLinkName(e.link());
                byte[] data = e.data() != null ? e.data() : e.source() != null ? Files.readAllBytes(e.source()) : null;
                if (data != null) t.setSize(data.length);
                tar.putArchiveEntry(t);
                if (data != null) tar.write(data);
                tar.closeArchiveEntry();
            }
        }
        byte[] plain = tarBytes.toByteArray();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        String type = "application/vnd.oci.image.layer.v1.tar";
        switch (c) {
            case PLAIN -> out.writeBytes(plain);
            case GZIP -> {
                try (OutputStream z = new GzipCompressorOutputStream(out)) { z.write(plain); }
                type += "+gzip";
            }
            case ZSTD -> {
                try (OutputStream z = new ZstdCompressorOutputStream(out)) { z.write(plain); }
                type += "+zstd";
            }
        }
        return new Layer(out.toByteArray(), sha256(plain), type);
    }

    static String sha256(byte[] b) {
        try {
            return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    static byte[] bytes(Object json) throws IOException {
        return JSON.writeValueAsBytes(json);
    }

    static ObjectNode descriptor(String mediaType, byte[] blob) {
        ObjectNode d = JSON.createObjectNode();
        d.put("mediaType", mediaType);
        d.put("digest", sha256(blob));
        d.put("size", blob.length);
        return d;
    }

    /** An image of one platform: its config and manifest blobs, and the layers. */
    record Built(byte[] config, byte[] manifest, List<Layer> layers, String platformArch) {}

    static Built image(String arch, List<Layer> layers) throws IOException {
        ObjectNode config = JSON.createObjectNode();
        config.put("created", "2024-12-24T00:00:00Z");
        config.put("architecture", arch);
        config.put("os", "linux");
        config.putObject("config").putArray("Cmd").add("/usr/bin/ollama");
        ObjectNode rootfs = config.putObject("rootfs");
        rootfs.put("type", "layers");
        ArrayNode ids = rootfs.putArray("diff_ids");
        ArrayNode history = config.putArray("history");
        for (Layer l : layers) {
            ids.add(l.diffId());
            history.addObject().put("created_by", "test layer");
        }
        byte[] cb = bytes(config);
        ObjectNode m = JSON.createObjectNode();
        m.put("schemaVersion", 2);
        m.put("mediaType", "application/vnd.oci.image.manifest.v1+json");
        m.set("config", descriptor("application/vnd.oci.image.config.v1+json", cb));
        ArrayNode ls = m.putArray("layers");
        for (Layer l : layers) ls.add(descriptor(l.mediaType(), l.blob()));
        return new Built(cb, bytes(m), layers, arch);
    }

    /** Writes an OCI image layout directory holding {@code images} (an index of several when more than one). */
    static Path ociDirectory(Path dir, String tag, List<Built> images) throws IOException {
        return ociDirectory(dir, tag, images, List.of());
    }

    /** With {@code extra} entries (attestations, say) after the images' in the index that lists the platforms. */
    static Path ociDirectory(Path dir, String tag, List<Built> images, List<ObjectNode> extra) throws IOException {
        Files.createDirectories(dir.resolve("blobs/sha256"));
        Files.writeString(dir.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
        ArrayNode manifests = JSON.createArrayNode();
        for (Built b : images) {
            blob(dir, b.config());
            blob(dir, b.manifest());
            for (Layer l : b.layers()) blob(dir, l.blob());
            ObjectNode d = descriptor("application/vnd.oci.image.manifest.v1+json", b.manifest());
            if (images.size() > 1) {
                d.putObject("platform").put("architecture", b.platformArch()).put("os", "linux");
            }
            manifests.add(d);
        }
        manifests.addAll(extra);
        ObjectNode index = JSON.createObjectNode();
        index.put("schemaVersion", 2);
        index.put("mediaType", "application/vnd.oci.image.index.v1+json");
        if (images.size() == 1 && extra.isEmpty()) {
            ((ObjectNode) manifests.get(0)).putObject("annotations").put("org.opencontainers.image.ref.name", tag);
            index.set("manifests", manifests);
        } else {
            // A multi-platform image: the layout's index names one image index, which lists the platforms.
            ObjectNode inner = JSON.createObjectNode();
            inner.put("schemaVersion", 2);
            inner.put("mediaType", "application/vnd.oci.image.index.v1+json");
            inner.set("manifests", manifests);
            byte[] ib = bytes(inner);
            blob(dir, ib);
            ObjectNode d = descriptor("application/vnd.oci.image.index.v1+json", ib);
            d.putObject("annotations").put("org.opencontainers.image.ref.name", tag);
            index.putArray("manifests").add(d);
        }
        Files.write(dir.resolve("index.json"), bytes(index));
        return dir;
    }

    /**
     * A BuildKit attestation of {@code attested} (an SLSA provenance statement), as {@code docker buildx
     * build --provenance} adds one beside each platform: a manifest whose config is "unknown/unknown" and
     * whose layer is an in-toto statement, listed in the index with the attested manifest's digest.
     * Writes its blobs into {@code dir}; returns the index entry.
     */
    static ObjectNode attestation(Path dir, Built attested) throws IOException {
        Files.createDirectories(dir.resolve("blobs/sha256"));
        String subject = sha256(attested.manifest());
        byte[] statement = ("{\"_type\":\"https://in-toto.io/Statement/v0.1\",\"predicateType\":"
                + "\"https://slsa.dev/provenance/v0.2\",\"subject\":[{\"name\":\"fixture\",\"digest\":{\"sha256\":\""
                + subject.substring(7) + "\"}}],\"predicate\":{\"builder\":{\"id\":\"\"}}}").getBytes(StandardCharsets.UTF_8);
        ObjectNode config = JSON.createObjectNode();
        config.put("architecture", "unknown");
        config.put("os", "unknown");
        config.putObject("config");
        ObjectNode rootfs = config.putObject("rootfs");
        rootfs.put("type", "layers");
        rootfs.putArray("diff_ids").add(sha256(statement));
        byte[] cb = bytes(config);
        ObjectNode m = JSON.createObjectNode();
        m.put("schemaVersion", 2);
        m.put("mediaType", "application/vnd.oci.image.manifest.v1+json");
        m.set("config", descriptor("application/vnd.oci.image.config.v1+json", cb));
        ObjectNode layer = descriptor("application/vnd.in-toto+json", statement);
        layer.putObject("annotations").put("in-toto.io/predicate-type", "https://slsa.dev/provenance/v0.2");
        m.putArray("layers").add(layer);
        byte[] mb = bytes(m);
        blob(dir, statement);
        blob(dir, cb);
        blob(dir, mb);
        ObjectNode d = descriptor("application/vnd.oci.image.manifest.v1+json", mb);
        ObjectNode a = d.putObject("annotations");
        a.put("vnd.docker.reference.digest", subject);
        a.put("vnd.docker.reference.type", "attestation-manifest");
        d.putObject("platform").put("architecture", "unknown").put("os", "unknown");
        return d;
    }

    static Path blob(Path dir, byte[] b) throws IOException {
        Path p = dir.resolve("blobs/sha256/" + sha256(b).substring(7));
        Files.write(p, b);
        return p;
    }

    /** manifest.json for Docker 25's docker save of {@code image}: blobs named blobs/sha256/HEX. */
    static byte[] dockerManifestOfBlobs(String repoTag, Built image) throws IOException {
        ArrayNode manifest = JSON.createArrayNode();
        ObjectNode el = manifest.addObject();
        el.put("Config", "blobs/sha256/" + sha256(image.config()).substring(7));
        el.putArray("RepoTags").add(repoTag);
        ArrayNode layers = el.putArray("Layers");
        for (Layer l : image.layers()) layers.add("blobs/sha256/" + l.digest().substring(7));
        return bytes(manifest);
    }

    /** A docker save tarball (the pre-25 layout: {@code <id>/layer.tar}, {@code <hex>.json}) of one image; layers must be plain. */
    static Path dockerArchive(Path out, String repoTag, Built image) throws IOException {
        List<Object[]> members = new ArrayList<>();
        String configName = sha256(image.config()).substring(7) + ".json";
        members.add(new Object[]{configName, image.config()});
        ArrayNode layers = JSON.createArrayNode();
        for (Layer l : image.layers()) {
            String id = l.diffId().substring(7);
            members.add(new Object[]{id + "/", null});
            members.add(new Object[]{id + "/VERSION", "1.0".getBytes(StandardCharsets.UTF_8)});
            members.add(new Object[]{id + "/layer.tar", l.blob()});
            layers.add(id + "/layer.tar");
        }
        ArrayNode manifest = JSON.createArrayNode();
        ObjectNode el = manifest.addObject();
        el.put("Config", configName);
        el.putArray("RepoTags").add(repoTag);
        el.set("Layers", layers);
        members.add(new Object[]{"manifest.json", bytes(manifest)});
        members.add(new Object[]{"repositories", ("{\"" + repoTag.split(":")[0] + "\":{\"" + repoTag.split(":")[1]
                + "\":\"" + layers.get(layers.size() - 1).asText().split("/")[0] + "\"}}").getBytes(StandardCharsets.UTF_8)});
        return tar(out, members);
    }

    /** A tarball of an OCI layout directory, as {@code skopeo copy ... oci-archive:} writes one. */
    static Path ociTarball(Path dir, Path out) throws IOException {
        return ociTarball(dir, out, null);
    }

    /**
     * With {@code dockerManifest}: Docker 25's {@code docker save}, an OCI layout plus a manifest.json
     * whose Config and Layers name the same blobs.
     */
    static Path ociTarball(Path dir, Path out, byte[] dockerManifest) throws IOException {
        List<Object[]> members = new ArrayList<>();
        if (dockerManifest != null) members.add(new Object[]{"manifest.json", dockerManifest});
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted().toList()) {
                if (p.equals(dir)) continue;
                String name = dir.relativize(p).toString();
                members.add(Files.isDirectory(p) ? new Object[]{name + "/", null} : new Object[]{name, Files.readAllBytes(p)});
            }
        }
        return tar(out, members);
    }

    private static Path tar(Path out, List<Object[]> members) throws IOException {
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(Files.newOutputStream(out), "UTF-8")) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            for (Object[] m : members) {
                String name = (String) m[0];
                byte[] data = (byte[]) m[1];
                TarArchiveEntry t = new TarArchiveEntry(name, data == null ? TarConstants.LF_DIR : TarConstants.LF_NORMAL, true);
                t.setMode(data == null ? 040755 : 0100644);
                t.setModTime(FileTime.from(Instant.ofEpochSecond(T0)));
                if (data != null) t.setSize(data.length);
                tar.putArchiveEntry(t);
                if (data != null) tar.write(data);
                tar.closeArchiveEntry();
            }
        }
        return out;
    }
}
