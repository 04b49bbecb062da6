package dev.ollamapatch.install;

import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.ollama.Identify;
import dev.ollamapatch.ollama.Identity;
import dev.ollamapatch.ollama.PatchedState;
import dev.ollamapatch.ollama.ShimDriverConfig;
import dev.ollamapatch.site.LibraryTarget;
import dev.ollamapatch.site.ScanResult;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * The I/O around {@link Identify}: the manifest that may record the file, and the shim configuration
 * whose driver version generation C checks.
 */
public final class Identities {
    /** The shim's configuration file when OLLAMA_PATCH_SHIM_CONFIG names none (DESIGN.md section 6). */
    public static final Path DEFAULT_SHIM_CONFIG = Path.of("/etc/ollama-patch/shim.conf");

    private Identities() {}

    /** What {@code elf} (the file at {@code file}, or an archive entry when {@code file} is null) is. */
    public static Identity of(ElfFile elf, Path file, ScanResult scan, String sha256, List<LibraryTarget> libraries) {
        return of(elf, file, scan, () -> sha256, libraries);
    }

    /** As above; the SHA-256 is computed only when a manifest records the file. */
    public static Identity of(ElfFile elf, Path file, ScanResult scan, java.util.function.Supplier<String> sha256,
                              List<LibraryTarget> libraries) {
        return of(elf, file, scan, sha256, libraries, shimConfig());
    }

    /**
     * As above, with the shim's driver configuration given ({@code null}: not judged) instead of read from
     * this machine's config: the doctor asks the installed shim itself, and under {@code --root} this
     * machine's /etc is not the one that counts.
     */
    public static Identity of(ElfFile elf, Path file, ScanResult scan, java.util.function.Supplier<String> sha256,
                              List<LibraryTarget> libraries, ShimDriverConfig driver) {
        Set<String> paths = new LinkedHashSet<>();
        libraries.forEach(l -> paths.add(l.defaultPath()));
        PatchedState.ManifestFacts facts = file == null ? null : manifestFacts(file).orElse(null);
        return Identify.of(elf, scan, facts == null ? "" : sha256.get(), facts, paths, driver);
    }

    /** A manifest that records {@code file}: its own ({@code <file>.ollama-patch.json}) or an install's above it. */
    public static Optional<PatchedState.ManifestFacts> manifestFacts(Path file) {
        Path real;
        try {
            real = file.toRealPath();
        } catch (IOException e) {
            return Optional.empty();
        }
        Path dir = real.getParent();
        java.util.ArrayList<Path> candidates = new java.util.ArrayList<>();
        candidates.add(dir.resolve(real.getFileName() + ".ollama-patch.json"));
        for (Path d = dir; d != null && candidates.size() < 5; d = d.getParent()) {
            candidates.add(d.resolve(".ollama-patch.json"));
        }
        for (Path m : candidates) {
            if (!Files.isRegularFile(m, LinkOption.NOFOLLOW_LINKS)) continue;
            try {
                Manifest manifest = Manifest.read(m);
                if (manifest.files() == null) continue;
                for (Manifest.FileEntry f : manifest.files()) {
                    if (f.path() == null) continue;
                    Path at = Path.of(f.path());
                    // Format 2: relative to the manifest's directory; format 1: absolute.
                    if (!(at.isAbsolute() ? at : m.getParent().resolve(at)).normalize().equals(real)) continue;
                    Set<String> written = new LinkedHashSet<>();
                    if (f.sites() != null) {
                        f.sites().forEach(s -> written.add(s.replacement().replaceFirst("^/+(?=\\$ORIGIN)", "")
                                .replaceFirst("^/+", "/")));
                    }
                    return Optional.of(new PatchedState.ManifestFacts(m.toString(), manifest.tool(),
                            f.originalSha256(), f.patchedSha256(), List.copyOf(written)));
                }
            } catch (IOException e) {
                // Not a manifest this tool can read: it says nothing about the file.
            }
        }
        return Optional.empty();
    }

    /** The shim's configured driver version: OLLAMA_PATCH_SHIM_CONFIG, else /etc/ollama-patch/shim.conf, else the default. */
    public static ShimDriverConfig shimConfig() {
        String env = System.getenv("OLLAMA_PATCH_SHIM_CONFIG");
        Path file = env != null && !env.isEmpty() ? Path.of(env) : DEFAULT_SHIM_CONFIG;
        if (!Files.isRegularFile(file)) return ShimDriverConfig.bundledDefault();
        try {
            if (Files.size(file) > 1 << 20) return ShimDriverConfig.bundledDefault();
            return ShimDriverConfig.parse(Files.readString(file, StandardCharsets.ISO_8859_1), file.toString());
        } catch (IOException e) {
            return ShimDriverConfig.bundledDefault();
        }
    }
}
