package dev.ollamapatch.image;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

/** An image is a map key by identity: its JSON is changed while the output is assembled. */
class ImageTest {
    private static Image image(ObjectNode parent) {
        ObjectNode manifest = Blobs.JSON.createObjectNode().put("schemaVersion", 2);
        ObjectNode config = Blobs.JSON.createObjectNode().put("architecture", "amd64");
        return new Image("linux/amd64", null, manifest, parent, 0, "blobs/sha256/c", null, config, List.of(), -1);
    }

    @Test
    void anImageStaysFoundAfterTheIndexThatListsItChanges() {
        ObjectNode index = Blobs.JSON.createObjectNode();
        index.putArray("manifests").addObject().put("digest", "sha256:" + "a".repeat(64));
        Image img = image(index);
        Map<Image, String> m = new HashMap<>();
        m.put(img, "rewrite");
        // What ImageApply.assemble does to the parent index once the image is rewritten.
        ((ObjectNode) index.get("manifests").get(0)).put("digest", "sha256:" + "b".repeat(64)).put("size", 123);
        img.manifest().put("changed", true);
        assertSame("rewrite", m.get(img));
        assertEquals(1, m.size());
    }

    @Test
    void twoImagesWithTheSameJsonAreTwoKeys() {
        ObjectNode index = Blobs.JSON.createObjectNode();
        Image a = image(index), b = image(index);
        assertNotEquals(a, b);
        Map<Image, Integer> m = new HashMap<>();
        m.put(a, 1);
        m.put(b, 2);
        assertEquals(2, m.size());
    }
}
