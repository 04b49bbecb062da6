package dev.ollamapatch.install;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.List;

/**
 * Writes a manifest with jackson-core's generator, byte for byte what the object mapper (indented output,
 * the records' {@code @JsonInclude} rules) writes for it, without the mapper: its first use (introspection
 * of the records, serializers for each) cost an in-place apply about 0.1 s, twice per run's manifest.
 * Fields in the records' order; absent ones as the annotations say: null fields of the records marked
 * {@code NON_NULL} are left out, a {@link Manifest.ShimEntry}'s nulls are written, and its
 * {@code directories} only when not empty. {@code ManifestWriterTest} compares it with the mapper.
 */
final class ManifestWriter {
    private static final JsonFactory FACTORY = new JsonFactory();

    private ManifestWriter() {}

    static byte[] toJson(Manifest m) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream(4096);
        try (JsonGenerator g = FACTORY.createGenerator(out)) {
            g.setPrettyPrinter(new DefaultPrettyPrinter());
            g.writeStartObject();
            if (m.format() != null) g.writeNumberField("format", m.format());
            string(g, "tool", m.tool());
            string(g, "created", m.created());
            string(g, "shim_path", m.shimPath());
            list(g, "files", m.files(), ManifestWriter::fileEntry);
            list(g, "shims", m.shims(), ManifestWriter::shimEntry);
            string(g, "requested_shim_path", m.requestedShimPath());
            list(g, "libraries", m.libraries(), ManifestWriter::libraryEntry);
            list(g, "clean_files", m.cleanFiles(), ManifestWriter::cleanEntry);
            g.writeEndObject();
        }
        return out.toByteArray();
    }

    private interface Item<T> {
        void write(JsonGenerator g, T item) throws IOException;
    }

    /** A NON_NULL field: left out when null. */
    private static void string(JsonGenerator g, String name, String value) throws IOException {
        if (value != null) g.writeStringField(name, value);
    }

    /** A NON_NULL list field: left out when null; a null element is written as null. */
    private static <T> void list(JsonGenerator g, String name, List<T> items, Item<T> item) throws IOException {
        if (items == null) return;
        g.writeArrayFieldStart(name);
        for (T t : items) {
            if (t == null) g.writeNull();
            else item.write(g, t);
        }
        g.writeEndArray();
    }

    private static void fileEntry(JsonGenerator g, Manifest.FileEntry f) throws IOException {
        g.writeStartObject();
        string(g, "path", f.path());
        string(g, "original_sha256", f.originalSha256());
        string(g, "patched_sha256", f.patchedSha256());
        string(g, "backup", f.backup());
        list(g, "sites", f.sites(), ManifestWriter::siteEntry);
        stat(g, f.stat());
        g.writeEndObject();
    }

    private static void siteEntry(JsonGenerator g, Manifest.SiteEntry s) throws IOException {
        g.writeStartObject();
        g.writeNumberField("offset", s.offset());
        g.writeNumberField("length", s.length());
        string(g, "kind", s.kind());
        string(g, "original", s.original());
        string(g, "replacement", s.replacement());
        string(g, "resolution", s.resolution());
        list(g, "resolves_to", s.resolvesTo(), JsonGenerator::writeString);
        g.writeEndObject();
    }

    /** No class-level inclusion rule: its nulls are written; {@code directories} is NON_EMPTY. */
    private static void shimEntry(JsonGenerator g, Manifest.ShimEntry s) throws IOException {
        g.writeStartObject();
        g.writeFieldName("path");
        nullable(g, s.path());
        g.writeFieldName("sha256");
        nullable(g, s.sha256());
        g.writeBooleanField("preexisting", s.preexisting());
        if (s.directories() != null && !s.directories().isEmpty()) {
            g.writeArrayFieldStart("directories");
            for (String d : s.directories()) nullable(g, d);
            g.writeEndArray();
        }
        g.writeEndObject();
    }

    private static void libraryEntry(JsonGenerator g, Manifest.LibraryEntry l) throws IOException {
        g.writeStartObject();
        string(g, "name", l.name());
        string(g, "path", l.path());
        string(g, "file", l.file());
        g.writeEndObject();
    }

    private static void cleanEntry(JsonGenerator g, Manifest.CleanEntry c) throws IOException {
        g.writeStartObject();
        string(g, "path", c.path());
        stat(g, c.stat());
        g.writeEndObject();
    }

    /** The NON_NULL field {@code stat}. */
    private static void stat(JsonGenerator g, Manifest.StatRecord s) throws IOException {
        if (s == null) return;
        g.writeObjectFieldStart("stat");
        g.writeNumberField("dev", s.dev());
        g.writeNumberField("ino", s.ino());
        g.writeNumberField("size", s.size());
        g.writeNumberField("mtime_ns", s.mtimeNs());
        g.writeNumberField("ctime_ns", s.ctimeNs());
        g.writeEndObject();
    }

    private static void nullable(JsonGenerator g, String value) throws IOException {
        if (value == null) g.writeNull();
        else g.writeString(value);
    }
}
