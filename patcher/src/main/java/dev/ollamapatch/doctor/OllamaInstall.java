package dev.ollamapatch.doctor;

import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfNames;
import dev.ollamapatch.install.InstallLayout;
import dev.ollamapatch.install.Manifest;
import dev.ollamapatch.ollama.PatchedState;
import dev.ollamapatch.plan.Planner;
import dev.ollamapatch.site.LibraryTarget;
import dev.ollamapatch.plan.Plan;
import dev.ollamapatch.plan.PlanOptions;
import dev.ollamapatch.plan.PlannedSite;
import dev.ollamapatch.install.Targets;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What the doctor needs to know about an Ollama install: the main binary, the ELF files beside it
 * ({@code lib/ollama/**}), the manifest of an in-place apply, the version and generation, and for
 * each patched file the paths its sites name. A deliberately small reader (issue 16's {@code ollama}
 * package will answer these questions for every report).
 */
public record OllamaInstall(Path binary, Path installDir, List<Path> files, String machine, String interpreter,
                            String version, Generation generation, List<Path> manifests, List<PatchedFile> patched) {

    /** A patched ELF file and the library paths its retargeted sites name (padding removed). */
    /**
     * A patched ELF file and the library paths its retargeted sites name (padding removed);
     * {@code resolvesTo}: per path, the files the loader opens for it as the apply recorded them
     * (manifest field {@code resolves_to}; absent in manifests written before resolutions were recorded).
     */
    public record PatchedFile(Path file, String machine, String interpreter, List<String> sitePaths, String how, Path manifest,
                              Map<String, List<String>> resolvesTo) {}

    private static final byte[] VERSION_MARK = "github.com/ollama/ollama/version.Version=".getBytes(StandardCharsets.ISO_8859_1);

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
        Map<Path, Manifest> manifests = new LinkedHashMap<>();
        List<Path> candidates = new ArrayList<>();
        candidates.add(InstallLayout.of(installDir).manifest());
        for (Path f : files) candidates.add(InstallLayout.of(f).manifest());
        for (Path m : candidates) {
            if (Files.isRegularFile(m) && !manifests.containsKey(m)) manifests.put(m, Manifest.read(m));
        }
        String machine = null;
        String interp = null;
        String version = null;
        Generation fromSites = Generation.UNKNOWN;
        List<PatchedFile> patched = new ArrayList<>();
        for (Path f : files) {
            try (ElfFile elf = ElfFile.open(f)) {
                String m = ElfNames.machine(elf.header().machine());
                String in = interpreter(elf);
                if (f.equals(binary)) {
                    machine = m;
                    interp = in;
                    version = version(f);
                }
                List<String> originals = new ArrayList<>();
                List<String> paths = new ArrayList<>();
                String how = null;
                Manifest.FileEntry entry = null;
                Path from = null;
                for (Map.Entry<Path, Manifest> me : manifests.entrySet()) {
                    entry = entryFor(me.getValue(), f).orElse(null);
                    if (entry != null) {
                        from = me.getKey();
                        break;
                    }
                }
                if (entry != null && entry.sites() != null) {
                    for (Manifest.SiteEntry s : entry.sites()) {
                        originals.add(s.original());
                        paths.add(unpad(s.replacement()));
                    }
                    how = "per manifest " + from;
                } else if (PatchedState.fromBytes(elf, java.util.Set.of(LibraryTarget.NVML.defaultPath())).patched()) {
                    paths.add(LibraryTarget.NVML.defaultPath());
                    how = "per bytes (no manifest)";
                    originals.addAll(originalsOf(InstallLayout.backupOf(f)));
                } else {
                    Plan plan = Planner.plan(elf, new PlanOptions(List.of(LibraryTarget.NVML), f.getParent().toString()));
                    for (PlannedSite s : plan.sites()) originals.add(s.site().original());
                }
                Generation g = generationOf(originals, elf.section(".go.buildinfo").isPresent() || elf.goBuildId().isPresent());
                if (fromSites == Generation.UNKNOWN || (f.equals(binary) && g != Generation.UNKNOWN)) fromSites = g == Generation.UNKNOWN ? fromSites : g;
                if (how != null) {
                    patched.add(new PatchedFile(f, m, in, List.copyOf(new java.util.LinkedHashSet<>(paths)), how, from,
                            from == null ? Map.of() : recordedResolutions(from, f)));
                }
            } catch (dev.ollamapatch.elf.ElfFormatException e) {
                // not an ELF file we can read: listed, not judged
            }
        }
        Generation gen = Generation.ofVersion(version);
        if (gen == Generation.UNKNOWN) gen = fromSites;
        return new OllamaInstall(binary, installDir, files, machine, interp, version, gen, List.copyOf(manifests.keySet()), patched);
    }

    private static Optional<Manifest.FileEntry> entryFor(Manifest m, Path file) {
        if (m.files() == null) return Optional.empty();
        for (Manifest.FileEntry e : m.files()) {
            if (e.path() == null) continue;
            Path p = Path.of(e.path());
            if (p.equals(file) || (!p.isAbsolute() && file.endsWith(p))) return Optional.of(e);
            try {
                if (p.isAbsolute() && Files.isSameFile(p, file)) return Optional.of(e);
            } catch (IOException ignored) {
                // a recorded path that no longer exists
            }
        }
        return Optional.empty();
    }

    /** Per site path, the {@code resolves_to} files the manifest records for {@code file}'s sites (read as JSON: the field is optional). */
    static Map<String, List<String>> recordedResolutions(Path manifest, Path file) {
        Map<String, List<String>> out = new LinkedHashMap<>();
        try {
            com.fasterxml.jackson.databind.JsonNode root = dev.ollamapatch.report.Json.MAPPER.readTree(manifest.toFile());
            for (com.fasterxml.jackson.databind.JsonNode e : root.path("files")) {
                Path p = Path.of(e.path("path").asText(""));
                if (!(p.equals(file) || (!p.isAbsolute() && file.endsWith(p)))) continue;
                for (com.fasterxml.jackson.databind.JsonNode site : e.path("sites")) {
                    if (!site.has("resolves_to")) continue;
                    List<String> to = out.computeIfAbsent(unpad(site.path("replacement").asText()), k -> new ArrayList<>());
                    for (com.fasterxml.jackson.databind.JsonNode r : site.get("resolves_to")) {
                        // Format 2 records them relative to the manifest's directory, as every path it holds.
                        Path at = Path.of(r.asText());
                        String abs = (at.isAbsolute() ? at : manifest.toAbsolutePath().getParent().resolve(at)).normalize().toString();
                        if (!to.contains(abs)) to.add(abs);
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            return Map.of();
        }
        return out;
    }

    /** The locators in the original kept beside a patched file (its backup), for the generation. */
    private static List<String> originalsOf(Path backup) {
        List<String> out = new ArrayList<>();
        if (!Files.isRegularFile(backup)) return out;
        try (ElfFile elf = ElfFile.open(backup)) {
            for (PlannedSite s : Planner.plan(elf, new PlanOptions(List.of(LibraryTarget.NVML), backup.getParent().toString())).sites()) out.add(s.site().original());
        } catch (IOException | RuntimeException e) {
            // an unreadable backup tells nothing
        }
        return out;
    }

    /** {@code //$ORIGIN/nvml.so} -> {@code $ORIGIN/nvml.so}, {@code ///opt/x/nvml.so} -> {@code /opt/x/nvml.so}. */
    static String unpad(String replacement) {
        if (replacement == null) return "";
        String s = replacement;
        int i = 0;
        while (i < s.length() && s.charAt(i) == '/') i++;
        String rest = s.substring(i);
        return rest.startsWith("$ORIGIN") ? rest : "/" + rest;
    }

    static Generation generationOf(List<String> originals, boolean go) {
        boolean glob = false, wsl = false, bare = false;
        for (String o : originals) {
            if (o == null) continue;
            if (o.contains("*")) glob = true;
            else if (o.equals("/usr/lib/wsl/lib/libnvidia-ml.so.1")) wsl = true;
            else if (o.equals("libnvidia-ml.so.1")) bare = true;
        }
        if (glob) return Generation.A;
        if (wsl) return Generation.B;
        if (bare && go) return Generation.C;
        return Generation.UNKNOWN;
    }

    static String interpreter(ElfFile elf) {
        return elf.section(".interp").map(s -> {
            ByteBuffer b = elf.sectionData(s);
            byte[] bytes = new byte[Math.min(b.remaining(), 4096)];
            b.get(bytes);
            String t = new String(bytes, StandardCharsets.ISO_8859_1);
            int nul = t.indexOf('\0');
            return nul >= 0 ? t.substring(0, nul) : t;
        }).orElse(null);
    }

    /** The version set at link time ({@code -X github.com/ollama/ollama/version.Version=…}), found in Go's build settings. */
    static String version(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            long window = 64L << 20;
            for (long pos = 0; pos < size; pos += window - VERSION_MARK.length - 64) {
                long len = Math.min(window, size - pos);
                ByteBuffer b = ch.map(FileChannel.MapMode.READ_ONLY, pos, len);
                int at = indexOf(b, VERSION_MARK);
                if (at >= 0) {
                    StringBuilder v = new StringBuilder();
                    for (int i = at + VERSION_MARK.length; i < b.limit() && v.length() < 40; i++) {
                        char c = (char) (b.get(i) & 0xff);
                        if (Character.isLetterOrDigit(c) || c == '.' || c == '-' || c == '+') v.append(c);
                        else break;
                    }
                    if (v.length() > 0) return v.toString();
                }
                if (pos + len >= size) break;
            }
        }
        return null;
    }

    private static int indexOf(ByteBuffer b, byte[] needle) {
        int last = b.limit() - needle.length;
        byte first = needle[0];
        outer:
        for (int i = 0; i <= last; i++) {
            if (b.get(i) != first) continue;
            for (int j = 1; j < needle.length; j++) if (b.get(i + j) != needle[j]) continue outer;
            return i;
        }
        return -1;
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
