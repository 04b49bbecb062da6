package dev.ollamapatch.doctor;

import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.GlibcVersion;
import dev.ollamapatch.elf.SectionHeader;

import java.nio.ByteBuffer;
import java.util.Optional;

/** The glibc a host provides, in the symbol versions ({@link GlibcVersion}) that files need. */
final class Glibc {
    private Glibc() {}

    /**
     * The newest GLIBC_ version a C library defines: libc.so.6 names every version it defines
     * ({@code .gnu.version_d}) in its dynamic string table, so the largest such string is its version.
     */
    static Optional<GlibcVersion> provided(ElfFile libc) {
        Optional<SectionHeader> dynstr = libc.section(".dynstr");
        if (dynstr.isEmpty()) return Optional.empty();
        ByteBuffer b = libc.sectionData(dynstr.get());
        GlibcVersion max = null;
        StringBuilder cur = new StringBuilder();
        while (b.hasRemaining()) {
            byte c = b.get();
            if (c == 0) {
                GlibcVersion v = GlibcVersion.parse(cur.toString()).orElse(null);
                if (v != null && (max == null || v.compareTo(max) > 0)) max = v;
                cur.setLength(0);
            } else if (cur.length() < 64) {
                cur.append((char) (c & 0xff));
            }
        }
        return Optional.ofNullable(max);
    }

    /** {@code 2.36} for {@code GLIBC_2.36}: glibc's own release number, as {@code getconf GNU_LIBC_VERSION} says it. */
    static String release(GlibcVersion v) {
        return v.major() + "." + v.minor() + (v.patch() == 0 ? "" : "." + v.patch());
    }
}
