package dev.ollamapatch.resolve;

import java.nio.file.Path;
import java.util.List;

/**
 * Where the loader will look for a retargeted site: the directories whose {@code $ORIGIN} the loader
 * substitutes (so whose {@code nvml.so} it opens), which object's code calls {@code dlopen} with the
 * string and where, and how that was worked out.
 *
 * @param how         how the caller was found
 * @param directories the directories {@code $ORIGIN} stands for; empty when none can be named
 * @param caller      the object whose code calls dlopen (or holds the DT_NEEDED entry), or null
 * @param callAt      virtual address of that call in {@code caller}, or -1
 * @param detail      one sentence for people: the evidence
 * @param blocker     why {@code $ORIGIN} is not expanded at all here (musl, secure execution), or null
 */
public record Resolution(How how, List<Path> directories, Path caller, long callAt, String detail, String blocker) {

    public Resolution {
        directories = List.copyOf(directories);
    }

    /** How the object that calls dlopen was found. */
    public enum How {
        /** Code in the object that holds the string calls dlopen with it. */
        CALL("call"),
        /** The string's function ends in a jump to dlopen: the object that called that function decides. */
        TAIL_CALL("tail-call"),
        /** The string is handed to a function of another object, whose code calls dlopen. */
        HANDED("handed"),
        /** The object calls dlopen only with ordinary calls, and the string is not seen handed elsewhere. */
        SAME_OBJECT("same-object"),
        /** A DT_NEEDED entry: $ORIGIN is the directory of the object that has the entry. */
        NEEDED("needed"),
        /** No caller could be named. */
        UNKNOWN("unknown");

        private final String label;

        How(String label) { this.label = label; }

        public String label() { return label; }
    }

    public static Resolution unknown(String detail) {
        return new Resolution(How.UNKNOWN, List.of(), null, -1, detail, null);
    }

    /** Whether {@code $ORIGIN/<name>} is known to reach the shim: directories named, nothing blocking. */
    public boolean originWorks() {
        return how != How.UNKNOWN && blocker == null && !directories.isEmpty();
    }

    public Resolution blockedBy(String why) {
        return new Resolution(how, directories, caller, callAt, detail, why);
    }

    /**
     * For a site written with {@code path}: an absolute path is opened as it is, whatever the caller;
     * a {@code $ORIGIN} path as {@link #describe(String)} says.
     */
    public String describeWritten(String path) {
        if (path != null && path.startsWith("/")) {
            return "loader opens `" + path + "` (absolute path): " + (blocker != null
                    ? detail + "; $ORIGIN would not be expanded: " + blocker
                    : how == How.UNKNOWN ? "$ORIGIN's directory cannot be named: " + detail : detail);
        }
        String name = path == null ? "nvml.so" : path.substring(path.lastIndexOf('/') + 1);
        return describe(name);
    }

    /** "loader opens `/x/bin/nvml.so`: `/x/bin/app` calls dlopen at 0x1234" */
    public String describe(String shimName) {
        if (blocker != null) {
            return "loader does not expand $ORIGIN here (" + blocker + "): " + detail;
        }
        if (directories.isEmpty()) return "loader's directory unknown: " + detail;
        StringBuilder b = new StringBuilder("loader opens ");
        for (int i = 0; i < directories.size(); i++) {
            if (i > 0) b.append(i == directories.size() - 1 ? " or " : ", ");
            b.append('`').append(directories.get(i).resolve(shimName)).append('`');
        }
        return b.append(": ").append(detail).toString();
    }
}
