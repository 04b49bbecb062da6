package dev.ollamapatch.doctor;

import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfFormatException;
import dev.ollamapatch.elf.ElfNames;
import dev.ollamapatch.elf.GlibcVersion;
import dev.ollamapatch.plan.ShimCheck;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Facts about a file where the loader will look for the shim: present, readable as ELF, its machine, the
 * newest GLIBC_ version it needs, and whether it can serve the patched file by the rule apply uses for
 * every shim it installs ({@link ShimCheck}: machine and class, SONAME, every NVML function the file
 * names, no newer glibc than the file needs).
 *
 * @param problem  why the file is not a readable ELF file, or null
 * @param serves   {@link ShimCheck}'s problems, empty when it can serve the patched file
 */
public record ShimFile(Path path, boolean exists, String problem, String machine, GlibcVersion newestGlibc,
                       List<String> serves) {
    public ShimFile {
        serves = List.copyOf(serves);
    }

    /** Reads {@code path} as the shim for {@code target} (the patched file, open). */
    static ShimFile read(Path path, ElfFile target) {
        if (!Files.exists(path)) return new ShimFile(path, false, null, null, null, List.of());
        try (ElfFile elf = ElfFile.open(path)) {
            return new ShimFile(path, true, null, ElfNames.machine(elf.header().machine()),
                    GlibcVersion.highestNeeded(elf).orElse(null), ShimCheck.check(target, elf, path.toString()).problems());
        } catch (ElfFormatException | IOException e) {
            return new ShimFile(path, true, "not a readable ELF file: " + e.getMessage(), null, null, List.of());
        }
    }
}
