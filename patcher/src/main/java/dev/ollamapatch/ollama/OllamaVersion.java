package dev.ollamapatch.ollama;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An Ollama release version as Ollama's build sets it ({@code 0.12.3}, {@code 0.33.0-rc2}; a leading
 * {@code v}, as in git tags and Go module versions, is accepted and dropped).
 */
public record OllamaVersion(int major, int minor, int patch, String suffix) implements Comparable<OllamaVersion> {
    /** MAJOR.MINOR.PATCH with an optional pre-release or build suffix; nothing else. */
    static final Pattern SHAPE = Pattern.compile("v?(\\d{1,4})\\.(\\d{1,4})\\.(\\d{1,6})([-+][0-9A-Za-z.+-]{1,40})?");

    public static Optional<OllamaVersion> parse(String text) {
        if (text == null) return Optional.empty();
        Matcher m = SHAPE.matcher(text);
        if (!m.matches()) return Optional.empty();
        return Optional.of(new OllamaVersion(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)),
                Integer.parseInt(m.group(3)), m.group(4) == null ? "" : m.group(4)));
    }

    public static boolean looksLikeVersion(String text) {
        return text != null && SHAPE.matcher(text).matches();
    }

    /** Orders by number only: 0.33.0-rc2 belongs to 0.33.0's generation. */
    @Override
    public int compareTo(OllamaVersion o) {
        if (major != o.major) return Integer.compare(major, o.major);
        if (minor != o.minor) return Integer.compare(minor, o.minor);
        return Integer.compare(patch, o.patch);
    }

    public boolean atLeast(int ma, int mi, int pa) {
        return compareTo(new OllamaVersion(ma, mi, pa, "")) >= 0;
    }

    /** The version Ollama's own build leaves when none is set ({@code var Version string = "0.0.0"}). */
    public boolean isUnset() {
        return major == 0 && minor == 0 && patch == 0;
    }

    @Override
    public String toString() {
        return major + "." + minor + "." + patch + suffix;
    }
}
