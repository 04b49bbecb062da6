package dev.ollamapatch.plan;

import dev.ollamapatch.site.DataScan;
import dev.ollamapatch.site.LibraryTarget;
import dev.ollamapatch.elf.ElfFile;

import java.nio.charset.StandardCharsets;
import java.util.List;

/** Recognises a file whose locators were already retargeted: it names the shim path instead. */
public final class AlreadyPatched {
    private AlreadyPatched() {}

    public static boolean holds(ElfFile elf, List<LibraryTarget> libraries) {
        for (LibraryTarget lib : libraries) {
            byte[] path = lib.defaultPath().getBytes(StandardCharsets.UTF_8);
            if (DataScan.contains(elf, path)) return true;
        }
        return false;
    }
}
