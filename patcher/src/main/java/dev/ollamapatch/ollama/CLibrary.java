package dev.ollamapatch.ollama;

import dev.ollamapatch.elf.DynamicEntry;
import dev.ollamapatch.elf.ElfConstants;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ProgramHeader;

import java.nio.charset.StandardCharsets;

/**
 * Which C library (and so which dynamic loader) runs a file: from its interpreter ({@code PT_INTERP},
 * e.g. {@code /lib64/ld-linux-x86-64.so.2} or {@code /lib/ld-musl-x86_64.so.1}), else from the C
 * library it needs ({@code DT_NEEDED libc.so.6} is glibc; musl's is {@code libc.so} or
 * {@code libc.musl-<arch>.so.1}).
 *
 * @param name     glibc, musl, none (static, no loader), or unknown
 * @param evidence what it was read from
 */
public record CLibrary(String name, String evidence) {

    public static CLibrary of(ElfFile elf) {
        String interp = interpreter(elf);
        if (interp != null) {
            String base = interp.substring(interp.lastIndexOf('/') + 1);
            if (base.startsWith("ld-musl-")) return new CLibrary("musl", "PT_INTERP " + interp);
            if (base.startsWith("ld-linux") || base.equals("ld.so.1") || base.startsWith("ld64.so")) {
                return new CLibrary("glibc", "PT_INTERP " + interp);
            }
        }
        for (DynamicEntry d : elf.dynamic()) {
            if (d.tag() != ElfConstants.DT_NEEDED || d.string() == null) continue;
            if (d.string().equals("libc.so.6")) return new CLibrary("glibc", "DT_NEEDED libc.so.6");
            if (d.string().equals("libc.so") || d.string().startsWith("libc.musl-")) {
                return new CLibrary("musl", "DT_NEEDED " + d.string());
            }
        }
        if (interp != null) return new CLibrary("unknown", "PT_INTERP " + interp + " (not a loader this tool knows)");
        boolean dynamic = elf.programHeaders().stream().anyMatch(p -> p.type() == ElfConstants.PT_DYNAMIC);
        return dynamic ? new CLibrary("unknown", "no PT_INTERP and no DT_NEEDED C library")
                : new CLibrary("none", "statically linked: no PT_INTERP, no PT_DYNAMIC");
    }

    /** The path PT_INTERP names, without its NUL; null when there is none. */
    static String interpreter(ElfFile elf) {
        for (ProgramHeader p : elf.programHeaders()) {
            if (p.type() != ElfConstants.PT_INTERP || p.filesz() <= 1 || p.filesz() > 4096) continue;
            if (p.offset() + p.filesz() > elf.bytes().size()) return null;
            byte[] b = new byte[(int) p.filesz()];
            elf.bytes().read(p.offset(), b, 0, b.length);
            int n = 0;
            while (n < b.length && b[n] != 0) n++;
            return new String(b, 0, n, StandardCharsets.ISO_8859_1);
        }
        return null;
    }

}
