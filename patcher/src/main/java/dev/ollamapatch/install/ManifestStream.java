package dev.ollamapatch.install;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads a manifest as this tool writes it with jackson-core's streaming parser, without the object
 * mapper: the mapper's start (its introspection of the records, hundreds of classes) was most of what
 * an already patched {@code apply --quiet} cost. Anything this reader does not expect (a value of
 * another type than the tool writes, a malformed document) gives null, and {@link Manifest#read}
 * reads the file with the mapper as before, with its messages; so the two give the same manifest
 * for every file the tool wrote, and the mapper alone says what is wrong with any other. Fields it
 * does not know are skipped, as the mapper skips them.
 */
final class ManifestStream {
    private static final JsonFactory FACTORY = new JsonFactory();

    private ManifestStream() {}

    /** Thrown inside: the document is not one this reader takes; the caller falls back to the mapper. */
    private static final class Unexpected extends Exception {
        Unexpected() {
            super(null, null, false, false);
        }
    }

    /** The manifest in {@code json}, or null when it is left to the object mapper. */
    static Manifest read(byte[] json) {
        try (JsonParser p = FACTORY.createParser(json)) {
            if (p.nextToken() != JsonToken.START_OBJECT) return null;
            Manifest m = manifest(p);
            if (p.nextToken() != null) return null; // trailing content: the mapper decides
            return m;
        } catch (IOException | RuntimeException | Unexpected e) {
            return null;
        }
    }

    private static Manifest manifest(JsonParser p) throws IOException, Unexpected {
        Integer format = null;
        String tool = null, created = null, shimPath = null, requested = null;
        List<Manifest.FileEntry> files = null;
        List<Manifest.ShimEntry> shims = null;
        List<Manifest.LibraryEntry> libraries = null;
        List<Manifest.CleanEntry> clean = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.getCurrentName();
            JsonToken t = p.nextToken();
            switch (name) {
                case "format" -> format = t == JsonToken.VALUE_NULL ? null : integer(p, t);
                case "tool" -> tool = string(p, t);
                case "created" -> created = string(p, t);
                case "shim_path" -> shimPath = string(p, t);
                case "requested_shim_path" -> requested = string(p, t);
                case "files" -> files = list(p, t, ManifestStream::fileEntry);
                case "shims" -> shims = list(p, t, ManifestStream::shimEntry);
                case "libraries" -> libraries = list(p, t, ManifestStream::libraryEntry);
                case "clean_files" -> clean = list(p, t, ManifestStream::cleanEntry);
                default -> p.skipChildren();
            }
        }
        if (p.currentToken() != JsonToken.END_OBJECT) throw new Unexpected();
        return new Manifest(format, tool, created, shimPath, files, shims, requested, libraries, clean);
    }

    private interface Item<T> {
        T read(JsonParser p) throws IOException, Unexpected;
    }

    /** An array of objects (null for JSON null); a null element stays null, as the mapper leaves it. */
    private static <T> List<T> list(JsonParser p, JsonToken t, Item<T> item) throws IOException, Unexpected {
        if (t == JsonToken.VALUE_NULL) return null;
        if (t != JsonToken.START_ARRAY) throw new Unexpected();
        List<T> out = new ArrayList<>();
        for (JsonToken e = p.nextToken(); e != JsonToken.END_ARRAY; e = p.nextToken()) {
            if (e == JsonToken.VALUE_NULL) {
                out.add(null);
            } else if (e == JsonToken.START_OBJECT) {
                out.add(item.read(p));
            } else {
                throw new Unexpected();
            }
        }
        return out;
    }

    private static List<String> strings(JsonParser p, JsonToken t) throws IOException, Unexpected {
        if (t == JsonToken.VALUE_NULL) return null;
        if (t != JsonToken.START_ARRAY) throw new Unexpected();
        List<String> out = new ArrayList<>();
        for (JsonToken e = p.nextToken(); e != JsonToken.END_ARRAY; e = p.nextToken()) out.add(string(p, e));
        return out;
    }

    private static String string(JsonParser p, JsonToken t) throws IOException, Unexpected {
        if (t == JsonToken.VALUE_NULL) return null;
        if (t != JsonToken.VALUE_STRING) throw new Unexpected();
        return p.getText();
    }

    private static int integer(JsonParser p, JsonToken t) throws IOException, Unexpected {
        if (t != JsonToken.VALUE_NUMBER_INT || p.getNumberType() != JsonParser.NumberType.INT) throw new Unexpected();
        return p.getIntValue();
    }

    private static long longValue(JsonParser p, JsonToken t) throws IOException, Unexpected {
        if (t != JsonToken.VALUE_NUMBER_INT) throw new Unexpected();
        JsonParser.NumberType n = p.getNumberType();
        if (n != JsonParser.NumberType.INT && n != JsonParser.NumberType.LONG) throw new Unexpected();
        return p.getLongValue();
    }

    private static Manifest.FileEntry fileEntry(JsonParser p) throws IOException, Unexpected {
        String path = null, original = null, patched = null, backup = null;
        List<Manifest.SiteEntry> sites = null;
        Manifest.StatRecord stat = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.getCurrentName();
            JsonToken t = p.nextToken();
            switch (name) {
                case "path" -> path = string(p, t);
                case "original_sha256" -> original = string(p, t);
                case "patched_sha256" -> patched = string(p, t);
                case "backup" -> backup = string(p, t);
                case "sites" -> sites = list(p, t, ManifestStream::siteEntry);
                case "stat" -> stat = t == JsonToken.VALUE_NULL ? null : statRecord(p, t);
                default -> p.skipChildren();
            }
        }
        return new Manifest.FileEntry(path, original, patched, backup, sites, stat);
    }

    private static Manifest.SiteEntry siteEntry(JsonParser p) throws IOException, Unexpected {
        long offset = 0;
        int length = 0;
        String kind = null, original = null, replacement = null, resolution = null;
        List<String> resolvesTo = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.getCurrentName();
            JsonToken t = p.nextToken();
            switch (name) {
                case "offset" -> offset = longValue(p, t);
                case "length" -> length = integer(p, t);
                case "kind" -> kind = string(p, t);
                case "original" -> original = string(p, t);
                case "replacement" -> replacement = string(p, t);
                case "resolution" -> resolution = string(p, t);
                case "resolves_to" -> resolvesTo = strings(p, t);
                default -> p.skipChildren();
            }
        }
        return new Manifest.SiteEntry(offset, length, kind, original, replacement, resolution, resolvesTo);
    }

    private static Manifest.ShimEntry shimEntry(JsonParser p) throws IOException, Unexpected {
        String path = null, sha = null;
        boolean preexisting = false;
        List<String> directories = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.getCurrentName();
            JsonToken t = p.nextToken();
            switch (name) {
                case "path" -> path = string(p, t);
                case "sha256" -> sha = string(p, t);
                case "preexisting" -> {
                    if (t != JsonToken.VALUE_TRUE && t != JsonToken.VALUE_FALSE) throw new Unexpected();
                    preexisting = t == JsonToken.VALUE_TRUE;
                }
                case "directories" -> directories = strings(p, t);
                default -> p.skipChildren();
            }
        }
        return new Manifest.ShimEntry(path, sha, preexisting, directories);
    }

    private static Manifest.LibraryEntry libraryEntry(JsonParser p) throws IOException, Unexpected {
        String name0 = null, path = null, file = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.getCurrentName();
            JsonToken t = p.nextToken();
            switch (name) {
                case "name" -> name0 = string(p, t);
                case "path" -> path = string(p, t);
                case "file" -> file = string(p, t);
                default -> p.skipChildren();
            }
        }
        return new Manifest.LibraryEntry(name0, path, file);
    }

    private static Manifest.CleanEntry cleanEntry(JsonParser p) throws IOException, Unexpected {
        String path = null;
        Manifest.StatRecord stat = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.getCurrentName();
            JsonToken t = p.nextToken();
            switch (name) {
                case "path" -> path = string(p, t);
                case "stat" -> stat = t == JsonToken.VALUE_NULL ? null : statRecord(p, t);
                default -> p.skipChildren();
            }
        }
        return new Manifest.CleanEntry(path, stat);
    }

    private static Manifest.StatRecord statRecord(JsonParser p, JsonToken start) throws IOException, Unexpected {
        if (start != JsonToken.START_OBJECT) throw new Unexpected();
        long dev = 0, ino = 0, size = 0, mtime = 0, ctime = 0;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.getCurrentName();
            JsonToken t = p.nextToken();
            switch (name) {
                case "dev" -> dev = longValue(p, t);
                case "ino" -> ino = longValue(p, t);
                case "size" -> size = longValue(p, t);
                case "mtime_ns" -> mtime = longValue(p, t);
                case "ctime_ns" -> ctime = longValue(p, t);
                default -> p.skipChildren();
            }
        }
        return new Manifest.StatRecord(dev, ino, size, mtime, ctime);
    }
}
