package dev.ollamapatch.archive;

import dev.ollamapatch.report.PatchException;

import java.nio.file.Path;

/** Pure rules for entry names: how they compare, where an entry is installed, which entry a shim becomes. */
public final class EntryNames {
    private EntryNames() {}

    /** The name as a path for comparison: {@code ./bin/ollama}, {@code bin/ollama} and {@code bin//ollama} are one. */
    public static String key(String entryName) {
        String n = entryName;
        while (n.startsWith("./")) n = n.substring(2);
        n = n.replaceAll("/{2,}", "/");
        while (n.endsWith("/")) n = n.substring(0, n.length() - 1);
        return n;
    }

    /**
     * An entry must stay inside the directory the archive is extracted into: not absolute, no
     * {@code ..}, and not below a symbolic link entry (extracting it would write wherever the link
     * points). Anything else is refused (exit 5) before a byte is written: the tool would otherwise
     * add its shim there too.
     */
    static void checkInside(Path archive, String entryName, String key, java.util.Set<String> symlinks) {
        if (entryName.startsWith("/")) {
            throw new PatchException(PatchException.Kind.REFUSED, archive + ": entry " + entryName
                    + ": an absolute path, which extracts outside the target directory; refusing the archive; nothing written");
        }
        for (String part : key.split("/")) {
            if (part.equals("..")) {
                throw new PatchException(PatchException.Kind.REFUSED, archive + ": entry " + entryName
                        + ": climbs out with '..'; refusing the archive; nothing written");
            }
        }
        for (int i = key.indexOf('/'); i > 0; i = key.indexOf('/', i + 1)) {
            if (symlinks.contains(key.substring(0, i))) {
                throw new PatchException(PatchException.Kind.REFUSED, archive + ": entry " + entryName
                        + ": lies below the symbolic link entry " + key.substring(0, i)
                        + ", so extracting it writes wherever that link points; refusing the archive; nothing written");
            }
        }
    }

    /**
     * The absolute directory the entry will live in once the archive is extracted under {@code prefix}
     * (Ollama's install script extracts releases into /usr/local): glob sites need it.
     */
    static String installDir(String prefix, String entryName) {
        Path p = installedAt(prefix, entryName).getParent();
        return p == null ? prefix : p.toString();
    }

    /** Where the entry will be once the archive is extracted under {@code prefix}: its name in the install. */
    static Path installedAt(String prefix, String entryName) {
        return Path.of(prefix).resolve(key(entryName)).normalize();
    }

    /**
     * The entry name of a shim the loader will open at {@code shim} (an absolute path once the archive is
     * extracted under {@code prefix}), in the {@code ./} style of the patched entry {@code entryName}. A
     * path outside the prefix cannot be an entry: a usage error naming the path that put it there.
     */
    public static String shimEntryAt(String entryName, String prefix, Path shim, String shimPath) {
        Path rel = Path.of(prefix).normalize().relativize(shim.normalize());
        String normal = rel.toString();
        if (rel.isAbsolute() || normal.isEmpty() || normal.equals("..") || normal.startsWith("../")) {
            throw new PatchException(PatchException.Kind.USAGE, "--shim-path " + shimPath
                    + ": places the shim outside the archive for entry " + entryName + " (at " + shim
                    + ", not under --prefix " + prefix + ")");
        }
        return entryName.startsWith("./") ? "./" + normal : normal;
    }
}
