package dev.ollamapatch.patch;

import dev.ollamapatch.elf.ElfFile;

import java.nio.charset.StandardCharsets;
import java.util.List;

/** Recognises a file whose locators were already retargeted: it names the shim path instead. */
public final class AlreadyPatched {
    private AlreadyPatched() {}

    public static boolean holds(ElfFile elf, List<LibraryTarget> libraries) {
        for (LibraryTarget lib : libraries) {
            byte[] path = lib.defaultPath().getBytes(StandardCharsets.UTF_8);
            for (Region r : Region.of(elf)) {
                if (r.exec() && !r.segment()) continue;
                boolean[] found = {false};
                ReferenceCollector.forEachWindow(elf, r, (buf, base, from, to) -> ByteSearch.forEach(buf, path, from, to, i -> found[0] = true));
                if (found[0]) return true;
            }
        }
        return false;
    }
}
