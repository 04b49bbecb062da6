package dev.ollamapatch.doctor;

/** Ollama's generations on Linux (DESIGN.md section 2): where NVML is named and what it decides. */
public enum Generation {
    A("A (0.1.18-0.1.32)", "NVML is the whole GPU discovery: devices, memory, compute capability, driver"),
    NONE("0.1.33-0.12.5", "NVML is not used on Linux; GPUs are found through libcudart/libcuda"),
    B("B (0.12.6-0.24)", "NVML gives free/total VRAM per device, matched by UUID; devices come from CUDA"),
    C("C (0.30 and later)", "NVML gives only the driver version; devices come from CUDA (cuInit must succeed)"),
    UNKNOWN("unknown", "unknown: no version and no NVML site that tells the generation");

    public final String label;
    public final String nvmlRole;

    Generation(String label, String nvmlRole) {
        this.label = label;
        this.nvmlRole = nvmlRole;
    }

    /** From an Ollama version "0.30.1", "0.1.32", "0.33.0-rc2"; UNKNOWN between known ranges. */
    public static Generation ofVersion(String version) {
        if (version == null) return UNKNOWN;
        String[] p = version.replaceFirst("^v", "").split("[.-]");
        try {
            int major = Integer.parseInt(p[0]);
            int minor = Integer.parseInt(p[1]);
            int patch = p.length > 2 ? Integer.parseInt(p[2]) : 0;
            if (major > 0 || minor >= 30) return C;
            if (minor == 1) return patch >= 33 ? NONE : patch >= 18 ? A : UNKNOWN;
            if (minor < 12 || (minor == 12 && patch <= 5)) return NONE;
            if (minor <= 24) return B;
            return UNKNOWN;
        } catch (RuntimeException e) {
            return UNKNOWN;
        }
    }
}
