package dev.ollamapatch.install;

import dev.ollamapatch.elf.ByteSource;
import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfFormatException;
import dev.ollamapatch.ollama.LibraryCheck;
import dev.ollamapatch.site.LibraryTarget;
import dev.ollamapatch.report.PatchException;
import dev.ollamapatch.plan.Plan;
import dev.ollamapatch.decide.ShimSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The replacement libraries of {@code --lib-file}: checked against the binary, then installed like the shim. */
public final class Libraries {
    private Libraries() {}

    /**
     * For every library besides NVML that {@code plan} retargets: with a file, that file checked
     * against {@code elf} (refused, exit 5, when it cannot serve it) and where it goes for a patched
     * file at {@code destination}; without one, a line telling the user nothing was installed there.
     */
    public static Map<Path, ShimSource> check(ElfFile elf, Path target, Plan plan, List<LibraryTarget> libraries,
                                              Path destination, List<String> messages) throws IOException {
        Map<Path, ShimSource> out = new LinkedHashMap<>();
        for (LibraryTarget lib : libraries) {
            if (lib.name().equals(LibraryTarget.NVML.name()) || !plan.retargets(lib)) continue;
            Path at = ShimInstall.installTarget(destination, lib.defaultPath());
            if (lib.file() == null) {
                messages.add(lib.name() + " now loads " + at + ": nothing was installed there; put a replacement "
                        + lib.name() + " there, or give it with --lib-file " + lib.name() + "=FILE");
                continue;
            }
            ShimSource src = ShimSource.choose(lib.file(), elf);
            LibraryCheck.Result r;
            try (ElfFile file = ElfFile.parse(ByteSource.of(src.bytes()))) {
                r = LibraryCheck.check(elf, file, lib.name(), lib.file().toString());
            } catch (ElfFormatException e) {
                throw new PatchException(PatchException.Kind.REFUSED, "--lib-file " + lib.name() + "=" + lib.file()
                        + ": not a valid ELF file: " + e.getMessage() + "; nothing written");
            }
            if (!r.ok()) {
                throw new PatchException(PatchException.Kind.REFUSED, target + ": --lib-file " + lib.file()
                        + " cannot serve " + lib.name() + ": " + String.join("; ", r.problems()) + "; nothing written");
            }
            messages.add(lib.name() + ": " + lib.file() + " installed as " + at + (r.functions().isEmpty()
                    ? " (the binary names none of the library's functions this tool knows)"
                    : " (exports " + String.join(", ", r.functions().keySet()) + ", which the binary looks up)"));
            out.put(at, src);
        }
        return out;
    }
}
