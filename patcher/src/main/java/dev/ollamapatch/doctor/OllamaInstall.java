package dev.ollamapatch.doctor;

import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfFormatException;
import dev.ollamapatch.elf.ElfNames;
import dev.ollamapatch.install.Identities;
import dev.ollamapatch.install.InstallLayout;
import dev.ollamapatch.install.Manifest;
import dev.ollamapatch.install.ManifestPaths;
import dev.ollamapatch.install.Targets;
import dev.ollamapatch.io.Sha256;
import dev.ollamapatch.ollama.Generation;
import dev.ollamapatch.ollama.Identity;
import dev.ollamapatch.ollama.PatchedState;
import dev.ollamapatch.report.PatchException;
import dev.ollamapatch.resolve.Loader;
import dev.ollamapatch.site.LibraryTarget;
import dev.ollamapatch.site.SiteFinder;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What the doctor needs to know about an Ollama install: the main binary and what it is (its
 * {@link Identity}, read by the {@code ollama} package as every report reads it), the ELF files beside it
 * ({@code lib/ollama/**}), the manifests of in-place applies, and for each patched file the sites it
 * holds. The generation comes from the version; a patched binary without one is judged by the NVML sites
 * of its backup (the patched file has none left).
 *
 * @param identity         what the main binary is (version, generation, C library, patched state)
 * @param generation       the generation: the identity's, or the backup's for a patched binary without a version
 * @param generationSource how the generation was decided
 * @param interpreter      the main binary's PT_INTERP, or null (static)
 */
public record OllamaInstall(Path binary, Path installDir, List<Path> files, Identity identity, Generation generation,
                            String generationSource, String interpreter, List<Path> manifests, List<PatchedFile> patched) {

    /**
     * A patched ELF file and the sites it holds; {@code how} says what told (its manifest, or its bytes).
     * {@code manifest} is null when the bytes told.
     */
    public record PatchedFile(Path file, String machine, List<WrittenSite> sites, String how, Path manifest) {
        /** The distinct paths its sites hold, padding removed ({@code $ORIGIN/nvml.so}). */
        public List<String> sitePaths() {
            return List.copyOf(new LinkedHashSet<>(sites.stream().map(WrittenSite::path).toList()));
        }
    }

    /** One written site: its bytes in the file ({@code offset}, {@code length}), whether it is a DT_NEEDED entry, the path it holds. */
    public record WrittenSite(long offset, int length, boolean dynstr, String path) {}

    public String machine() {
        return identity == null ? null : identity.machine();
    }

    public String version() {
        return identity == null ? null : identity.version();
    }

    private static final List<LibraryTarget> NVML = List.of(LibraryTarget.NVML);

    /** Reads the install at {@code target} (a binary or a directory holding bin/ and lib/ollama). */
    public static OllamaInstall read(Path target) throws IOException {
        Path real = target.toRealPath();
        Path binary = real;
        Path installDir;
        if (Files.isDirectory(real)) {
            installDir = real;
            binary = mainBinary(real);
        } else {
            Path parent = real.getParent();
            installDir = parent.getFileName() != null && parent.getFileName().toString().equals("bin") ? parent.getParent() : parent;
        }
        List<Path> files = new ArrayList<>();
        if (binary != null) files.add(binary);
        Path libs = installDir.resolve("lib/ollama");
        if (Files.isDirectory(libs)) {
            for (Path f : Targets.elfFilesOf(libs)) if (!files.contains(f)) files.add(f);
        }
        // Manifests of in-place applies: the directory's, and each file's own (a file patched by itself).
        Map<Path, Recorded> entries = new LinkedHashMap<>();
        Set<Path> manifests = new LinkedHashSet<>();
        List<Path> layouts = new ArrayList<>();
        layouts.add(installDir);
        layouts.addAll(files);
        for (Path t : layouts) {
            InstallLayout layout = InstallLayout.of(t);
            if (!Files.isRegularFile(layout.manifest()) || manifests.contains(layout.manifest())) continue;
            manifests.add(layout.manifest());
            try {
                for (ManifestPaths.File f : ManifestPaths.resolve(layout, Manifest.read(layout.manifest())).files()) {
                    entries.putIfAbsent(f.path().toAbsolutePath().normalize(), new Recorded(f, layout.manifest()));
                }
            } catch (PatchException | IOException | UncheckedIOException e) {
                // A manifest this tool refuses to follow: verify says why; its files are judged by their bytes.
            }
        }
        Identity identity = null;
        String interp = null;
        List<PatchedFile> patched = new ArrayList<>();
        boolean binaryPatched = false;
        for (Path f : files) {
            try (ElfFile elf = ElfFile.open(f)) {
                if (f.equals(binary)) {
                    identity = Identities.of(elf, f, SiteFinder.scan(elf, NVML), () -> sha256(elf), NVML, null);
                    interp = Loader.interpreter(elf).orElse(null);
                }
                PatchedFile pf = patchedFile(elf, f, entries.get(f.toAbsolutePath().normalize()));
                if (pf != null) patched.add(pf);
                if (pf != null && f.equals(binary)) binaryPatched = true;
            } catch (ElfFormatException e) {
                // not an ELF file we can read: listed, not judged
            }
        }
        Generation generation = identity == null ? Generation.UNKNOWN : identity.generation();
        String generationSource = identity == null ? "no binary" : identity.generationSource();
        if (generation == Generation.UNKNOWN && identity != null && identity.version() == null
                && binaryPatched) {
            Path backup = InstallLayout.backupOf(binary);
            Identity original = identityOf(backup);
            if (original != null && original.generation() != Generation.UNKNOWN) {
                generation = original.generation();
                generationSource = "from the form of the NVML sites in its backup " + backup;
            }
        }
        return new OllamaInstall(binary, installDir, files, identity, generation, generationSource, interp,
                List.copyOf(manifests), patched);
    }

    /** The file's written sites, as its manifest entry records them or, without one, as its bytes show them; null when not patched. */
    private static PatchedFile patchedFile(ElfFile elf, Path f, Recorded recorded) {
        String machine = ElfNames.machine(elf.header().machine());
        List<Manifest.SiteEntry> recordedSites = recorded == null ? null : recorded.file().entry().sites();
        if (recordedSites != null && !recordedSites.isEmpty()) {
            List<WrittenSite> sites = new ArrayList<>();
            for (Manifest.SiteEntry s : recordedSites) {
                sites.add(new WrittenSite(s.offset(), s.length(), "dynstr".equals(s.kind()), unpad(s.replacement())));
            }
            return new PatchedFile(f, machine, sites, "per manifest " + recorded.manifest(), recorded.manifest());
        }
        PatchedState bytes = PatchedState.fromBytes(elf, Set.of(LibraryTarget.NVML.defaultPath()));
        if (!bytes.patched()) return null;
        // A DT_NEEDED entry is resolved against the object that has it: tell it by where the string lies.
        java.util.Optional<dev.ollamapatch.elf.SectionHeader> dynstr = elf.section(".dynstr");
        List<WrittenSite> sites = bytes.written().stream()
                .map(w -> new WrittenSite(w.offset(), w.length(), dynstr.isPresent() && w.offset() >= dynstr.get().offset()
                        && w.offset() - dynstr.get().offset() < dynstr.get().size(), w.path())).toList();
        return new PatchedFile(f, machine, sites, "per bytes (no manifest)", null);
    }

    /** A manifest's entry for a file, and which manifest it is. */
    private record Recorded(ManifestPaths.File file, Path manifest) {}

    private static Identity identityOf(Path file) {
        if (!Files.isRegularFile(file)) return null;
        try (ElfFile elf = ElfFile.open(file)) {
            return Identities.of(elf, null, SiteFinder.scan(elf, NVML), () -> "", NVML, null);
        } catch (IOException | RuntimeException e) {
            return null; // an unreadable backup tells nothing
        }
    }

    private static String sha256(ElfFile elf) {
        return Sha256.of(elf.bytes()).hex();
    }

    /** {@code //$ORIGIN/nvml.so} -> {@code $ORIGIN/nvml.so}, {@code ///opt/x/nvml.so} -> {@code /opt/x/nvml.so}. */
    static String unpad(String replacement) {
        if (replacement == null) return "";
        int i = 0;
        while (i < replacement.length() && replacement.charAt(i) == '/') i++;
        String rest = replacement.substring(i);
        return rest.startsWith("$ORIGIN") ? rest : "/" + rest;
    }

    private static Path mainBinary(Path dir) throws IOException {
        Path ollama = dir.resolve("bin/ollama");
        if (Files.isRegularFile(ollama)) return ollama.toRealPath();
        Path bin = dir.resolve("bin");
        if (Files.isDirectory(bin)) {
            for (Path f : Targets.elfFilesOf(bin)) {
                if (Files.isExecutable(f) && !f.getFileName().toString().equals(Targets.SHIM_FILE)) return f;
            }
        }
        return null;
    }
}
