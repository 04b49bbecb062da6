package dev.ollamapatch.doctor;

import dev.ollamapatch.elf.DynamicEntry;
import dev.ollamapatch.elf.ElfConstants;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfFormatException;
import dev.ollamapatch.elf.ElfNames;
import dev.ollamapatch.elf.GlibcVersion;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Facts about a file where a shim should be: present, ELF machine, type, SONAME, newest GLIBC_ version it needs. */
public record ShimFile(Path path, boolean exists, String problem, String machine, boolean sharedObject, String soname,
                       GlibcVersion newestGlibc) {

    static ShimFile read(Path path) {
        if (!Files.exists(path)) return new ShimFile(path, false, null, null, false, null, null);
        try (ElfFile elf = ElfFile.open(path)) {
            String soname = null;
            for (DynamicEntry d : elf.dynamic()) {
                if (d.tag() == ElfConstants.DT_SONAME) {
                    soname = d.string();
                }
            }
            return new ShimFile(path, true, null, ElfNames.machine(elf.header().machine()),
                    elf.header().type() == ElfConstants.ET_DYN, soname, GlibcVersion.highestNeeded(elf).orElse(null));
        } catch (ElfFormatException | IOException e) {
            return new ShimFile(path, true, "not a readable ELF file: " + e.getMessage(), null, false, null, null);
        }
    }
}
