package dev.ollamapatch.image;

import dev.ollamapatch.report.PatchException;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Paths inside an image: layer entry names and tarball member names, compared in one form
 * ({@code usr/bin/ollama}: no leading {@code /} or {@code ./}, no empty or {@code .} components).
 */
final class Names {
    private Names() {}

    /** The comparison form, without resolving {@code ..}. */
    static String key(String name) {
        StringBuilder b = new StringBuilder();
        for (String c : name.split("/")) {
            if (c.isEmpty() || c.equals(".")) continue;
            if (b.length() > 0) b.append('/');
            b.append(c);
        }
        return b.toString();
    }

    /**
     * The comparison form with {@code ..} resolved; a name that climbs above the root is invalid
     * input (exit 4), named with {@code where}.
     */
    static String inside(String name, String where) {
        Deque<String> parts = new ArrayDeque<>();
        for (String c : name.split("/")) {
            if (c.isEmpty() || c.equals(".")) continue;
            if (c.equals("..")) {
                if (parts.isEmpty()) {
                    throw new PatchException(PatchException.Kind.INVALID_INPUT,
                            where + ": path " + name + " escapes the image's root");
                }
                parts.removeLast();
            } else {
                parts.addLast(c);
            }
        }
        return String.join("/", parts);
    }

    static String parent(String key) {
        int s = key.lastIndexOf('/');
        return s < 0 ? "" : key.substring(0, s);
    }

    static String base(String key) {
        return key.substring(key.lastIndexOf('/') + 1);
    }

    static String join(String dir, String name) {
        return dir.isEmpty() ? name : dir + "/" + name;
    }
}
