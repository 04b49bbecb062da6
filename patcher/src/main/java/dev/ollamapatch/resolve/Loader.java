package dev.ollamapatch.resolve;

import static dev.ollamapatch.elf.ElfConstants.DT_NEEDED;
import static dev.ollamapatch.elf.ElfConstants.PT_INTERP;

import dev.ollamapatch.elf.DynamicEntry;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ProgramHeader;

import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * Which dynamic loader runs an object, which decides whether {@code $ORIGIN} means anything in a
 * {@code dlopen} argument or a {@code DT_NEEDED} entry. An executable names its loader in PT_INTERP; a
 * library says which C library it was linked against in DT_NEEDED.
 */
public enum Loader {
    /** glibc's ld.so: expands $ORIGIN in dlopen arguments and DT_NEEDED (elf/dl-load.c, _dl_dst_substitute). */
    GLIBC("glibc"),
    /** musl's ldso/dynlink.c: expands $ORIGIN only in DT_RPATH/DT_RUNPATH (fixup_rpath); a dlopen argument or DT_NEEDED path is opened literally. */
    MUSL("musl"),
    /** Neither PT_INTERP nor DT_NEEDED says. */
    UNKNOWN("unknown");

    private final String label;

    Loader(String label) { this.label = label; }

    public String label() { return label; }

    public boolean expandsOriginInDlopen() { return this == GLIBC; }

    /** The loader an object names: PT_INTERP for executables, the C library in DT_NEEDED for libraries. */
    public static Loader of(ElfFile elf) {
        Optional<String> interp = interpreter(elf);
        if (interp.isPresent()) return ofName(interp.get());
        for (DynamicEntry d : elf.dynamic()) {
            if (d.tag() == DT_NEEDED && d.string() != null) {
                Loader l = ofName(d.string());
                if (l != UNKNOWN) return l;
            }
        }
        return UNKNOWN;
    }

    /** The PT_INTERP path, up to its NUL. */
    public static Optional<String> interpreter(ElfFile elf) {
        for (ProgramHeader p : elf.programHeaders()) {
            if (p.type() != PT_INTERP) continue;
            long len = Math.min(p.filesz(), 4096);
            if (len <= 0 || p.offset() + len > elf.bytes().size()) return Optional.empty();
            byte[] b = new byte[(int) len];
            elf.bytes().read(p.offset(), b, 0, b.length);
            int end = 0;
            while (end < b.length && b[end] != 0) end++;
            return Optional.of(new String(b, 0, end, StandardCharsets.ISO_8859_1));
        }
        return Optional.empty();
    }

    static Loader ofName(String path) {
        String name = path.substring(path.lastIndexOf('/') + 1);
        if (name.startsWith("ld-musl-") || name.startsWith("libc.musl-")) return MUSL;
        if (name.startsWith("ld-linux") || name.startsWith("ld64.so") || name.equals("libc.so.6")
                || name.startsWith("ld.so")) return GLIBC;
        return UNKNOWN;
    }
}
