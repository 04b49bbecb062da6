package dev.ollamapatch.doctor;

import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.SectionHeader;
import dev.ollamapatch.elf.VersionNeed;
import dev.ollamapatch.elf.VersionNeedAux;

import java.nio.ByteBuffer;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** glibc symbol versions ({@code GLIBC_2.17}) as numbers that compare: what a file needs, what a libc provides. */
final class Glibc {
    private static final Pattern VERSION = Pattern.compile("GLIBC_(\\d+)\\.(\\d+)(?:\\.(\\d+))?");

    private Glibc() {}

    /** A version like 2.17 as a comparable record. */
    record Version(int major, int minor, int patch) implements Comparable<Version> {
        static Optional<Version> parse(String name) {
            Matcher m = VERSION.matcher(name);
            if (!m.matches()) return Optional.empty();
            return Optional.of(new Version(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)),
                    m.group(3) == null ? 0 : Integer.parseInt(m.group(3))));
        }

        @Override
        public int compareTo(Version o) {
            int c = Integer.compare(major, o.major);
            if (c == 0) c = Integer.compare(minor, o.minor);
            return c != 0 ? c : Integer.compare(patch, o.patch);
        }

        @Override
        public String toString() {
            return major + "." + minor + (patch != 0 ? "." + patch : "");
        }
    }

    /** The newest GLIBC_ version a file needs (its {@code .gnu.version_r} entries), if any. */
    static Optional<Version> newestNeeded(ElfFile elf) {
        Version max = null;
        for (VersionNeed n : elf.versionNeeds()) {
            for (VersionNeedAux a : n.aux()) {
                Version v = Version.parse(a.name()).orElse(null);
                if (v != null && (max == null || v.compareTo(max) > 0)) max = v;
            }
        }
        return Optional.ofNullable(max);
    }

    /**
     * The newest GLIBC_ version a C library defines: libc.so.6 names every version it defines
     * ({@code .gnu.version_d}) in its dynamic string table, so the largest such string is its version.
     */
    static Optional<Version> provided(ElfFile libc) {
        Optional<SectionHeader> dynstr = libc.section(".dynstr");
        if (dynstr.isEmpty()) return Optional.empty();
        ByteBuffer b = libc.sectionData(dynstr.get());
        Version max = null;
        StringBuilder cur = new StringBuilder();
        while (b.hasRemaining()) {
            byte c = b.get();
            if (c == 0) {
                Version v = Version.parse(cur.toString()).orElse(null);
                if (v != null && (max == null || v.compareTo(max) > 0)) max = v;
                cur.setLength(0);
            } else if (cur.length() < 64) {
                cur.append((char) (c & 0xff));
            }
        }
        return Optional.ofNullable(max);
    }
}
