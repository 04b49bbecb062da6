package dev.ollamapatch.ollama;

/**
 * How an Ollama version uses NVML on Linux (DESIGN.md section 2): where the library is named and
 * what NVML decides.
 */
public enum Generation {
    A("0.1.18 - 0.1.32", "everything: GPU discovery is NVML (device count, memory, compute capability, driver version)"),
    NONE("0.1.33 - 0.12.5", "nothing: this version does not use NVML on Linux; it finds NVIDIA GPUs through "
            + "libcudart/libcuda"),
    B("0.12.6 - 0.24.x", "free and total VRAM of each device, matched by UUID; the devices come from the CUDA backend"),
    C("0.30 and later", "only the NVIDIA driver version, read after cuInit succeeded through libcuda: a driver below "
            + "550 (below 570 for compute capability under 7 with CUDA 12.8+ runtimes) makes Ollama drop the GPUs "
            + "as \"driver too old\""),
    /** A version outside the table (before 0.1.18, or 0.25 - 0.29.x). */
    UNKNOWN("not in the table", "not known for this version");

    private final String versions;
    private final String nvmlDecides;

    Generation(String versions, String nvmlDecides) {
        this.versions = versions;
        this.nvmlDecides = nvmlDecides;
    }

    /** The versions it covers, as the table says them. */
    public String versions() { return versions; }

    /** What NVML decides in this generation. */
    public String nvmlDecides() { return nvmlDecides; }

    public String label() { return this == NONE ? "none" : this == UNKNOWN ? "unknown" : name(); }

    public static Generation of(OllamaVersion v) {
        if (v.compareTo(new OllamaVersion(0, 1, 18, "")) < 0) return UNKNOWN;
        if (!v.atLeast(0, 1, 33)) return A;
        if (!v.atLeast(0, 12, 6)) return NONE;
        if (!v.atLeast(0, 25, 0)) return B;
        if (!v.atLeast(0, 30, 0)) return UNKNOWN;
        return C;
    }
}
