package dev.ollamapatch.ollama;

import java.util.List;

/**
 * What a file is, for every report: which Ollama (version, generation and what NVML decides there),
 * for which machine, run by which C library, and whether this tool already patched it.
 *
 * @param machine            ELF machine ("x86_64", "aarch64")
 * @param elfClass           32 or 64
 * @param libc               the C library that runs it
 * @param go                 the Go build information, or null (not a Go program, or none)
 * @param ollama             whether the Go main module is github.com/ollama/ollama
 * @param version            the Ollama version, or null when it cannot be read
 * @param versionSource      how the version was found, or why it is unknown
 * @param versionCandidates  version-shaped strings found when none could be chosen
 * @param generation         the generation (DESIGN.md section 2)
 * @param generationSource   how the generation was decided ("from version 0.30.0", "from the form of the sites")
 * @param patched            whether it is already patched, and the evidence
 * @param warnings           things that will go wrong (a driver version generation C filters out)
 * @param advice             what would help (for a version without NVML)
 */
public record Identity(String machine, int elfClass, CLibrary libc, GoBuildInfo go, boolean ollama, String version,
                       String versionSource, List<String> versionCandidates, Generation generation,
                       String generationSource, PatchedState patched, List<String> warnings, List<String> advice) {
    public Identity {
        versionCandidates = List.copyOf(versionCandidates);
        warnings = List.copyOf(warnings);
        advice = List.copyOf(advice);
    }

    /** One line naming the file: "Ollama 0.30.0, generation C (0.30 and later), x86_64, glibc, not patched". */
    public String summary() {
        StringBuilder b = new StringBuilder();
        if (version != null) b.append(ollama ? "Ollama " : "version ").append(version);
        else b.append(ollama ? "Ollama, version unknown" : go != null ? "Go program, version unknown" : "version unknown");
        b.append(", generation ").append(generation.label());
        if (generation != Generation.UNKNOWN) b.append(" (").append(generation.versions()).append(')');
        b.append(", ").append(machine).append(' ').append(elfClass).append("-bit, ").append(libc.name());
        b.append(", ").append(patched.patched() ? "already patched" + (patched.tool() != null ? " by "
                + patched.tool() : "") + " (per " + patched.by() + ")" : "not patched");
        return b.toString();
    }

    /** Whether this version has no NVML on Linux (0.1.33 - 0.12.5). */
    public boolean withoutNvml() {
        return generation == Generation.NONE;
    }

    /** The one-line explanation for a version without NVML: why nothing is patched and what helps. */
    public String withoutNvmlLine() {
        return (version != null ? "Ollama " + version : "this Ollama") + " does not use NVML on Linux (generation none, "
                + Generation.NONE.versions() + "): it finds NVIDIA GPUs through libcudart/libcuda, so no NVML shim can "
                + "help; what can: --lib libcuda.so.1 --lib-file libcuda.so.1=FILE with a CUDA driver replacement, or an "
                + "Ollama version that uses NVML (0.12.6 or later)";
    }
}
