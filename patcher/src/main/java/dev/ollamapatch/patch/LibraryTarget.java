package dev.ollamapatch.patch;

import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A shared library whose locators are retargeted, e.g. {@code libnvidia-ml.so.1}.
 *
 * <p>A locator (DESIGN.md section 4) is a string whose whole value names the library: equal to the
 * name, a path ending in {@code /} + name, or a glob of such a path, i.e. a pattern whose last
 * component matches the name ({@code /usr/lib/wsl/lib/libnvidia-ml.so*}). It has no whitespace and
 * no {@code %}. Anything else that contains the stem ({@code libnvidia-ml}), including other forms
 * of the name such as the unversioned {@code libnvidia-ml.so}, stays as it is.
 */
public final class LibraryTarget {
    public static final LibraryTarget NVML = new LibraryTarget("libnvidia-ml.so.1", "$ORIGIN/nvml.so", "nvml.so");

    private final String name;
    private final String stem;
    private final String defaultPath;
    private final String installedFileName;

    public LibraryTarget(String name, String defaultPath, String installedFileName) {
        this.name = Objects.requireNonNull(name);
        int so = name.indexOf(".so");
        if (!name.startsWith("lib") || so <= 3) {
            throw new IllegalArgumentException("library name must look like libNAME.so[.N]: " + name);
        }
        this.stem = name.substring(0, so);
        this.defaultPath = Objects.requireNonNull(defaultPath);
        this.installedFileName = installedFileName;
    }

    /** {@code --lib NAME[=PATH]}: other libraries get {@code $ORIGIN/<name without lib and version>.so}. */
    public static LibraryTarget parse(String spec) {
        int eq = spec.indexOf('=');
        String name = eq < 0 ? spec : spec.substring(0, eq);
        String bare = name.startsWith("lib") ? name.substring(3) : name;
        int so = bare.indexOf(".so");
        String file = (so > 0 ? bare.substring(0, so) : bare) + ".so";
        if (name.equals(NVML.name)) {
            return eq < 0 ? NVML : new LibraryTarget(name, spec.substring(eq + 1), NVML.installedFileName);
        }
        return new LibraryTarget(name, eq < 0 ? "$ORIGIN/" + file : spec.substring(eq + 1), null);
    }

    public String name() { return name; }

    /** The part every locator and mention contains, e.g. {@code libnvidia-ml}. */
    public String stem() { return stem; }

    public byte[] stemBytes() { return stem.getBytes(StandardCharsets.ISO_8859_1); }

    /** The path written into locators unless {@code --shim-path} says otherwise. */
    public String defaultPath() { return defaultPath; }

    /** File name the tool installs beside each patched file, or null when the user provides it. */
    public String installedFileName() { return installedFileName; }

    public LibraryTarget withPath(String path) {
        return new LibraryTarget(name, path, installedFileName);
    }

    public boolean isLocator(String value) {
        if (value.isEmpty() || !value.contains(stem)) return false;
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c <= ' ' || c == '%' || c >= 0x7F) return false;
        }
        String last = value.substring(value.lastIndexOf('/') + 1);
        if (!last.contains(stem)) return false;
        return isGlob(last) ? globMatches(last, name) : last.equals(name);
    }

    /** Shell-style match of one path component: {@code *}, {@code ?} and {@code [...]} classes. */
    static boolean globMatches(String pattern, String text) {
        StringBuilder re = new StringBuilder();
        for (int i = 0; i < pattern.length(); i++) {
            char c = pattern.charAt(i);
            switch (c) {
                case '*' -> re.append("[^/]*");
                case '?' -> re.append("[^/]");
                case '[' -> {
                    int close = pattern.indexOf(']', i + 2);
                    if (close < 0) {
                        re.append("\\[");
                    } else {
                        String body = pattern.substring(i + 1, close);
                        if (body.startsWith("!")) body = "^" + body.substring(1);
                        re.append('[').append(body.replace("\\", "\\\\")).append(']');
                        i = close;
                    }
                }
                default -> re.append(Pattern.quote(String.valueOf(c)));
            }
        }
        try {
            return Pattern.matches(re.toString(), text);
        } catch (java.util.regex.PatternSyntaxException e) {
            return false;
        }
    }

    /** Glob locators are expanded by Go's filepath.Glob, which does not know {@code $ORIGIN}. */
    public static boolean isGlob(String value) {
        return value.indexOf('*') >= 0 || value.indexOf('?') >= 0 || value.indexOf('[') >= 0;
    }

    @Override public String toString() { return name; }
    @Override public boolean equals(Object o) {
        return o instanceof LibraryTarget t && t.name.equals(name) && t.defaultPath.equals(defaultPath);
    }
    @Override public int hashCode() { return name.hashCode() * 31 + defaultPath.hashCode(); }
}
