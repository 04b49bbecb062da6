package dev.ollamapatch.elf;

import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A glibc symbol version, {@code GLIBC_2.17} or {@code GLIBC_2.2.5}, ordered numerically. A file that
 * needs {@code GLIBC_x.y} loads only on glibc x.y or later.
 */
public record GlibcVersion(int major, int minor, int patch) implements Comparable<GlibcVersion> {
    private static final Pattern NAME = Pattern.compile("GLIBC_(\\d{1,4})\\.(\\d{1,4})(?:\\.(\\d{1,4}))?");
    private static final Comparator<GlibcVersion> ORDER =
            Comparator.comparingInt(GlibcVersion::major).thenComparingInt(GlibcVersion::minor).thenComparingInt(GlibcVersion::patch);

    /** The version a name such as {@code GLIBC_2.34} stands for; empty for other names (GLIBC_PRIVATE, GCC_3.0). */
    public static Optional<GlibcVersion> parse(String name) {
        Matcher m = NAME.matcher(name);
        if (!m.matches()) {
            return Optional.empty();
        }
        return Optional.of(new GlibcVersion(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)),
                m.group(3) == null ? 0 : Integer.parseInt(m.group(3))));
    }

    /** The newest {@code GLIBC_x.y} any of the file's version needs names (from any file), if any. */
    public static Optional<GlibcVersion> highestNeeded(ElfFile elf) {
        return elf.versionNeeds().stream().flatMap(n -> n.aux().stream()).map(a -> parse(a.name()))
                .flatMap(Optional::stream).max(ORDER);
    }

    /** Each imported symbol whose version is a {@code GLIBC_} name newer than {@code limit}, or not a numbered one. */
    public static List<SymbolVersionNeed> newerThan(ElfFile elf, GlibcVersion limit) {
        return elf.symbolVersionNeeds().stream()
                .filter(n -> n.version().startsWith("GLIBC_"))
                .filter(n -> parse(n.version()).map(v -> v.compareTo(limit) > 0).orElse(true))
                .toList();
    }

    @Override
    public int compareTo(GlibcVersion o) {
        return ORDER.compare(this, o);
    }

    @Override
    public String toString() {
        return "GLIBC_" + major + "." + minor + (patch == 0 ? "" : "." + patch);
    }
}
