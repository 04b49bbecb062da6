package dev.ollamapatch.site;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Objects;

/**
 * A shared library whose locators are retargeted, e.g. {@code libnvidia-ml.so.1}.
 *
 * <p>A locator (DESIGN.md section 4) is a string whose whole value names the library: equal to the
 * name, a path ending in {@code /} + name, or, for a Go string (which Go's {@code filepath.Glob}
 * expands, DESIGN.md section 2, generation A), a glob of such a path, i.e. a pattern whose last
 * component matches the name ({@code /usr/lib/wsl/lib/libnvidia-ml.so*}). A C string is handed to
 * {@code dlopen}, which never globs: its {@code *} is a literal character. It has no whitespace and
 * no {@code %}. Anything else that contains the stem ({@code libnvidia-ml}), including other forms
 * of the name such as the unversioned {@code libnvidia-ml.so}, stays as it is.
 */
public final class LibraryTarget {
    /**
     * The token glibc expands, in a {@code dlopen} argument and in {@code DT_NEEDED}, to the directory
     * of the calling object (DESIGN.md section 4a). The one place the tool spells it.
     */
    public static final String ORIGIN = "$ORIGIN";

    public static final LibraryTarget NVML = new LibraryTarget("libnvidia-ml.so.1", ORIGIN + "/nvml.so");

    private final String name;
    private final String stem;
    private final String defaultPath;
    private final java.nio.file.Path file;

    public LibraryTarget(String name, String defaultPath) {
        this(name, defaultPath, null);
    }

    /**
     * @param file the replacement library to install at the path ({@code --lib-file}), or null: the
     *             bundled shim for NVML; for another library, the user installs it
     */
    public LibraryTarget(String name, String defaultPath, java.nio.file.Path file) {
        this.name = Objects.requireNonNull(name);
        int so = name.indexOf(".so");
        if (!name.startsWith("lib") || so <= 3) {
            throw new IllegalArgumentException("library name must look like libNAME.so[.N]: " + name);
        }
        this.stem = name.substring(0, so);
        this.defaultPath = Objects.requireNonNull(defaultPath);
        this.file = file;
    }

    /**
     * {@code --lib NAME[=PATH]}. Without a path another library gets {@link #defaultPathFor}: a
     * {@code $ORIGIN} path no longer than NAME, so it fits every locator of NAME (the bare name is
     * the shortest one).
     */
    public static LibraryTarget parse(String spec) {
        int eq = spec.indexOf('=');
        String name = eq < 0 ? spec : spec.substring(0, eq);
        if (name.equals(NVML.name)) {
            return eq < 0 ? NVML : new LibraryTarget(name, spec.substring(eq + 1));
        }
        if (eq >= 0) return new LibraryTarget(name, spec.substring(eq + 1));
        return new LibraryTarget(name, defaultPathFor(name));
    }

    private static final String ORIGIN_DIR = ORIGIN + "/";

    /**
     * {@code $ORIGIN/} and a file name from NAME without {@code lib}, as long as NAME allows:
     * {@code <stem>.so} when it fits, else the stem cut to fit ({@code libcuda.so.1} (12 bytes) ->
     * {@code $ORIGIN/cuda}, {@code libcuda.so} (10) -> {@code $ORIGIN/cu}, {@code libcudart.so.12} (15)
     * -> {@code $ORIGIN/cudart}). dlopen opens a path by its name; no suffix is needed.
     */
    public static String defaultPathFor(String name) {
        int room = name.length() - ORIGIN_DIR.length();
        String bare = name.startsWith("lib") ? name.substring(3) : name;
        int so = bare.indexOf(".so");
        String stem = so > 0 ? bare.substring(0, so) : bare;
        String file = stem + ".so";
        if (file.length() > room) file = stem.substring(0, Math.max(0, Math.min(stem.length(), room)));
        if (file.isEmpty()) {
            throw new IllegalArgumentException("no $ORIGIN path fits in " + name.length() + " bytes; give one: "
                    + name + "=/ABSOLUTE/PATH");
        }
        return ORIGIN_DIR + file;
    }

    /** The replacement library's file ({@code --lib-file}), or null. */
    public java.nio.file.Path file() { return file; }

    public LibraryTarget withFile(java.nio.file.Path f) {
        return new LibraryTarget(name, defaultPath, f);
    }

    public String name() { return name; }

    /** The part every locator and mention contains, e.g. {@code libnvidia-ml}. */
    public String stem() { return stem; }

    public byte[] stemBytes() { return stem.getBytes(StandardCharsets.ISO_8859_1); }

    /** The path written into locators unless {@code --shim-path} says otherwise. */
    public String defaultPath() { return defaultPath; }

    public LibraryTarget withPath(String path) {
        return new LibraryTarget(name, path, file);
    }

    /** Whether {@code value}, as a Go string (a glob pattern counts), names the library. */
    public boolean isLocator(String value) {
        return isLocator(value, true);
    }

    /**
     * Whether {@code value} names the library; {@code globbed}: its consumer expands glob patterns (a Go
     * string given to {@code filepath.Glob}), else it is opened as it is (a C string given to {@code dlopen},
     * a {@code DT_NEEDED} entry), where {@code libnvidia-ml.so*} names a file of that literal name.
     */
    public boolean isLocator(String value, boolean globbed) {
        if (value.isEmpty() || !value.contains(stem)) return false;
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c <= ' ' || c == '%' || c >= 0x7F) return false;
        }
        String last = value.substring(value.lastIndexOf('/') + 1);
        if (!last.contains(stem)) return false;
        return globbed && isGlob(last) ? globMatches(last, name) : last.equals(name);
    }

    /**
     * Shell-style match of one path component: {@code *}, {@code ?} and {@code [...]} classes (with
     * ranges and {@code !}/{@code ^} negation). Matched directly, never through a regular expression:
     * the pattern comes from the file, and no input may steer a regex engine. Linear backtracking on
     * the last {@code *} only, so any pattern costs O(pattern x text).
     */
    static boolean globMatches(String pattern, String text) {
        int pi = 0, ti = 0, starP = -1, starT = -1;
        while (ti < text.length()) {
            if (pi < pattern.length()) {
                if (pattern.charAt(pi) == '*') {
                    starP = pi++;
                    starT = ti;
                    continue;
                }
                int next = matchOne(pattern, pi, text.charAt(ti));
                if (next >= 0) {
                    pi = next;
                    ti++;
                    continue;
                }
            }
            if (starP < 0) return false;
            pi = starP + 1;
            ti = ++starT;
        }
        while (pi < pattern.length() && pattern.charAt(pi) == '*') pi++;
        return pi == pattern.length();
    }

    /** The index after the pattern element at {@code i} if it matches {@code c}, else -1. */
    private static int matchOne(String p, int i, char c) {
        char e = p.charAt(i);
        if (e == '?') return c == '/' ? -1 : i + 1;
        if (e != '[') return e == c ? i + 1 : -1;
        int close = p.indexOf(']', i + 2);
        if (close < 0) return c == '[' ? i + 1 : -1; // an unclosed '[' is itself
        int k = i + 1;
        boolean negate = p.charAt(k) == '!' || p.charAt(k) == '^';
        if (negate) k++;
        boolean hit = false;
        while (k < close) {
            char lo = p.charAt(k), hi = lo;
            if (k + 2 < close && p.charAt(k + 1) == '-') {
                hi = p.charAt(k + 2);
                k += 3;
            } else {
                k++;
            }
            if (c >= lo && c <= hi) hit = true;
        }
        return hit != negate && c != '/' ? close + 1 : -1;
    }

    /** Whether a string holds glob characters; only a Go string's are expanded (by filepath.Glob, which does not know {@code $ORIGIN}). */
    public static boolean isGlob(String value) {
        return value.indexOf('*') >= 0 || value.indexOf('?') >= 0 || value.indexOf('[') >= 0;
    }

    @Override public String toString() { return name; }
    @Override public boolean equals(Object o) {
        return o instanceof LibraryTarget t && t.name.equals(name) && t.defaultPath.equals(defaultPath);
    }
    @Override public int hashCode() { return name.hashCode() * 31 + defaultPath.hashCode(); }

    /** NVML first (with the user's path for it, if given), then the other libraries. */
    public static List<LibraryTarget> nvmlPlus(List<LibraryTarget> extra) {
        List<LibraryTarget> all = new java.util.ArrayList<>();
        all.add(NVML);
        for (LibraryTarget t : extra) {
            if (t.name().equals(NVML.name())) all.set(0, t); else all.add(t);
        }
        return all;
    }
}
