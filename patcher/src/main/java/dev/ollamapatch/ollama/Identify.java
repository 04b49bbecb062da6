package dev.ollamapatch.ollama;

import dev.ollamapatch.elf.ElfFile;
import dev.ollamapatch.elf.ElfFormatException;
import dev.ollamapatch.elf.ElfNames;
import dev.ollamapatch.site.LibraryTarget;
import dev.ollamapatch.site.Role;
import dev.ollamapatch.site.ScanResult;
import dev.ollamapatch.site.Site;
import dev.ollamapatch.site.SiteKind;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/** From an ElfFile (and what was already found in it) to what this Ollama is. Pure: reads only the file. */
public final class Identify {
    public static final String OLLAMA_MODULE = "github.com/ollama/ollama";

    private Identify() {}

    /**
     * @param elf       the file
     * @param scan      its sites (for the generation when the version cannot be read)
     * @param sha256    its SHA-256 (matched against the manifest)
     * @param manifest  what a manifest records about it, or null
     * @param shimPaths the paths the tool would write (to recognise its own replacements in the bytes)
     * @param driver    the shim's driver configuration (for generation C's filter), or null when unknown
     */
    public static Identity of(ElfFile elf, ScanResult scan, String sha256, PatchedState.ManifestFacts manifest,
                              Set<String> shimPaths, ShimDriverConfig driver) {
        String machine = ElfNames.machine(elf.header().machine());
        CLibrary libc = CLibrary.of(elf);
        // What the file says about itself is read defensively: a malformed section makes a fact
        // unknown (said so), never a failed scan.
        Optional<GoBuildInfo> info;
        String unreadable = null;
        try {
            info = GoBuildInfo.read(elf);
        } catch (ElfFormatException | IndexOutOfBoundsException | java.nio.BufferUnderflowException e) {
            info = Optional.empty();
            unreadable = "the Go build information could not be read: " + e.getMessage();
        }
        final Optional<GoBuildInfo> go = info;
        boolean ollama = go.map(i -> OLLAMA_MODULE.equals(i.mainModule())).orElse(false);

        String version = null, versionSource;
        List<String> candidates = List.of();
        Optional<LinkedVersion.Reading> reading;
        try {
            reading = info.isPresent() || SiteFinderView.isGo(elf) ? LinkedVersion.read(elf, info) : Optional.empty();
        } catch (ElfFormatException | IndexOutOfBoundsException | java.nio.BufferUnderflowException e) {
            reading = Optional.empty();
            unreadable = "the version string could not be read: " + e.getMessage();
        }
        if (reading.isPresent() && reading.get().value() != null) {
            version = reading.get().value();
            versionSource = "version string set at link time: " + reading.get().source();
        } else if (ollama && OllamaVersion.parse(info.get().mainVersion()).isPresent()) {
            // Go 1.24+ stamps the main module's version from the checkout's tag.
            version = info.get().mainVersion().replaceFirst("^v", "");
            versionSource = "main module version in the Go build information (" + info.get().mainVersion() + ")";
        } else if (reading.isPresent()) {
            versionSource = reading.get().source();
            candidates = reading.get().candidates();
        } else if (unreadable != null) {
            versionSource = unreadable;
        } else {
            versionSource = info.isPresent() ? "no version string set at link time was found"
                    : "not a Go program with build information";
        }

        Generation generation;
        String generationSource;
        Optional<OllamaVersion> parsed = OllamaVersion.parse(version);
        if (parsed.isPresent() && !parsed.get().isUnset()) {
            generation = Generation.of(parsed.get());
            generationSource = "from version " + version;
        } else {
            generation = fromSites(scan);
            generationSource = generation == Generation.UNKNOWN
                    ? (parsed.isPresent() ? "version " + version + " is the unset default; " : "")
                            + "no version and no NVML site of a known form"
                    : "from the form of its NVML sites (no release version to read)";
        }

        PatchedState patched = PatchedState.of(elf, sha256, manifest, shimPaths);
        List<String> warnings = new ArrayList<>();
        if (generation == Generation.C && driver != null) warnings.addAll(driver.generationCWarnings());
        List<String> advice = new ArrayList<>();
        if (generation == Generation.NONE) {
            advice.add("no NVML to retarget in this version: --lib libcuda.so.1 --lib-file libcuda.so.1=FILE installs a "
                    + "CUDA driver replacement, or use an Ollama version that uses NVML (0.12.6 or later)");
        }
        return new Identity(machine, elf.is64() ? 64 : 32, libc, info.orElse(null), ollama, version, versionSource,
                candidates, generation, generationSource, patched, warnings, advice);
    }

    /**
     * The generation the NVML sites' form points to: glob patterns (A), the C literal pair with the WSL
     * path (B), the bare name as a Go string (C). A patched file has no such sites left.
     */
    static Generation fromSites(ScanResult scan) {
        String nvml = LibraryTarget.NVML.name();
        boolean glob = false, wsl = false, goBare = false;
        for (Site s : scan.sites()) {
            if (s.role() != Role.LOCATOR || !s.library().name().equals(nvml)) continue;
            if (s.isGlob()) glob = true;
            else if (s.kind() == SiteKind.C_STRING && s.original().equals("/usr/lib/wsl/lib/" + nvml)) wsl = true;
            else if (s.kind() == SiteKind.GO_STRING && s.original().equals(nvml)) goBare = true;
        }
        if (glob) return Generation.A;
        if (wsl) return Generation.B;
        if (goBare) return Generation.C;
        return Generation.UNKNOWN;
    }

    /** Whether the file is a Go program (its build ID note, build information or function table). */
    static final class SiteFinderView {
        static boolean isGo(ElfFile elf) {
            return elf.goBuildId().isPresent() || elf.section(".go.buildinfo").isPresent()
                    || elf.section(".gopclntab").isPresent();
        }
    }
}
