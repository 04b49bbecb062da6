package dev.ollamapatch.image;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ollamapatch.archive.ArchiveFormat;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * One image of the input (one platform of an index, or one element of a docker save's manifest.json):
 * where its manifest, config and layers are, all checked against their descriptors before use.
 *
 * @param manifest   the OCI or Docker image manifest (null for a docker save element)
 * @param parent     the index that lists it, and its position there (null for a docker save element)
 * @param dockerIndex position in manifest.json (-1 for an OCI image)
 */
record Image(String platform, Blobs.Descriptor manifestDescriptor, ObjectNode manifest, ObjectNode parent, int position,
             String configMember, Blobs.Descriptor configDescriptor, ObjectNode config, List<Layer> layers,
             int dockerIndex) {

    /**
     * Identity, not the record's value: the JSON an image holds (its manifest, the index that lists it)
     * is mutable and is changed while the output is assembled (the index gets the new manifest's
     * digest), so a value-based hash would move under a map that holds the image as a key.
     */
    @Override
    public boolean equals(Object o) {
        return this == o;
    }

    @Override
    public int hashCode() {
        return System.identityHashCode(this);
    }

    /** A layer: its member in the input, its descriptor (OCI) or null, its compression, its diff_id. */
    record Layer(String member, Blobs.Descriptor descriptor, ArchiveFormat format, String diffId) {
        String label() {
            return descriptor != null ? "layer " + descriptor.digest() : "layer " + member;
        }
    }

    /** Reads an OCI image manifest and its config; checks media types and digests. */
    static Image oci(ImageSource src, Blobs.Descriptor d, ObjectNode parent, int position, String platform)
            throws IOException {
        ObjectNode m = (ObjectNode) Blobs.parse(Blobs.readVerified(src, d.blobPath(), d), "manifest " + d.digest());
        Blobs.Descriptor config = Blobs.Descriptor.of(m.get("config"), "manifest " + d.digest() + ": config");
        if (!MediaTypes.isImageConfig(config.mediaType())) {
            throw Blobs.invalid("manifest " + d.digest() + ": config " + config.digest() + " has unknown media type \""
                    + config.mediaType() + "\"");
        }
        ObjectNode c = (ObjectNode) Blobs.parse(Blobs.readVerified(src, config.blobPath(), config), "config " + config.digest());
        JsonNode layersNode = m.path("layers");
        List<String> diffIds = diffIds(c, "config " + config.digest());
        if (!layersNode.isArray() || layersNode.size() != diffIds.size()) {
            throw Blobs.invalid("manifest " + d.digest() + ": " + layersNode.size() + " layers but config " + config.digest()
                    + " lists " + diffIds.size() + " diff_ids");
        }
        List<Layer> layers = new ArrayList<>();
        for (int i = 0; i < layersNode.size(); i++) {
            Blobs.Descriptor l = Blobs.Descriptor.of(layersNode.get(i), "manifest " + d.digest() + ": layer " + i);
            ArchiveFormat f = MediaTypes.layerFormat(l.mediaType()).orElseThrow(() -> Blobs.invalid("layer "
                    + l.digest() + ": unknown media type \"" + l.mediaType() + "\""));
            if (!src.has(l.blobPath())) throw ImageSource.missing("blob " + l.digest());
            layers.add(new Layer(l.blobPath(), l, f, diffIds.get(i)));
        }
        if (platform == null) platform = platformOf(c);
        return new Image(platform, d, m, parent, position, config.blobPath(), config, c, layers, -1);
    }

    /** Reads element {@code index} of a docker save's manifest.json. */
    static Image docker(ImageSource src, JsonNode element, int index) throws IOException {
        String where = ImageKind.DOCKER_MANIFEST + " element " + index;
        String configMember = element.path("Config").asText("");
        if (configMember.isEmpty()) throw Blobs.invalid(where + ": no Config");
        configMember = Names.inside(configMember, where + ": Config");
        // The config is named by its digest: "<hex>.json", or "blobs/sha256/<hex>" (Docker 25 and later).
        String base = Names.base(configMember).replaceFirst("\\.json$", "");
        if (!base.matches("[0-9a-f]{64}")) throw Blobs.invalid(where + ": Config " + configMember + " is not named by its digest");
        if (!src.has(configMember)) throw ImageSource.missing("config " + configMember);
        Blobs.Descriptor cd = new Blobs.Descriptor(MediaTypes.DOCKER_CONFIG, "sha256:" + base, src.size(configMember), null);
        ObjectNode c = (ObjectNode) Blobs.parse(Blobs.readVerified(src, configMember, cd), "config " + configMember);
        List<String> diffIds = diffIds(c, "config " + configMember);
        JsonNode layersNode = element.path("Layers");
        if (!layersNode.isArray() || layersNode.size() != diffIds.size()) {
            throw Blobs.invalid(where + ": " + layersNode.size() + " Layers but its config lists " + diffIds.size()
                    + " diff_ids");
        }
        List<Layer> layers = new ArrayList<>();
        for (int i = 0; i < layersNode.size(); i++) {
            String member = Names.inside(layersNode.get(i).asText(""), where + ": Layers");
            if (!src.has(member)) throw ImageSource.missing("layer " + member);
            byte[] head;
            try (var in = src.open(member, "layer " + member)) {
                head = in.readNBytes(4);
            }
            layers.add(new Layer(member, null, MediaTypes.sniff(head), diffIds.get(i)));
        }
        return new Image(platformOf(c), null, null, null, -1, configMember, cd, c, layers, index);
    }

    private static List<String> diffIds(ObjectNode config, String where) {
        JsonNode ids = config.path("rootfs").path("diff_ids");
        if (!ids.isArray()) throw Blobs.invalid(where + ": no rootfs.diff_ids");
        List<String> out = new ArrayList<>();
        for (JsonNode id : ids) {
            String s = id.asText("");
            if (!s.matches("sha256:[0-9a-f]{64}")) throw Blobs.invalid(where + ": diff_id \"" + s + "\" is not a sha256 digest");
            out.add(s);
        }
        return out;
    }

    static String platformOf(JsonNode n) {
        String os = n.path("os").asText("unknown"), arch = n.path("architecture").asText("unknown");
        String variant = n.path("variant").asText("");
        return os + "/" + arch + (variant.isEmpty() ? "" : "/" + variant);
    }

    /** The config with the new layer's diff_id and a history entry naming the tool. */
    ObjectNode patchedConfig(String diffId, String createdBy, String comment) {
        ObjectNode c = config.deepCopy();
        ArrayNode ids = (ArrayNode) c.with("rootfs").withArray("diff_ids");
        int before = ids.size();
        ids.add(diffId);
        ObjectNode h = Blobs.JSON.createObjectNode();
        h.put("created_by", createdBy);
        h.put("comment", comment);
        if (c.has("history") && !c.get("history").isArray()) c.remove("history");
        ArrayNode history = c.withArray("history");
        if (history.isEmpty()) {
            // Docker pairs history entries that are not empty_layer with layers: one (empty) entry for each.
            for (int i = 0; i < before; i++) history.addObject();
        }
        history.add(h);
        return c;
    }

    /** The manifest with the new config and the new layer appended. */
    ObjectNode patchedManifest(Blobs.Descriptor newConfig, Blobs.Descriptor newLayer) {
        ObjectNode m = manifest.deepCopy();
        ObjectNode cfg = (ObjectNode) m.get("config");
        cfg.put("digest", newConfig.digest());
        cfg.put("size", newConfig.size());
        ObjectNode l = ((ArrayNode) m.get("layers")).addObject();
        l.put("mediaType", newLayer.mediaType());
        l.put("digest", newLayer.digest());
        l.put("size", newLayer.size());
        return m;
    }
}
