package dev.ollamapatch.ollama;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The parts of a shim configuration (DESIGN.md section 6) that decide whether generation C keeps the
 * GPUs: {@code driver_version} in {@code [shim]} and each device's {@code compute_capability}.
 *
 * @param driverVersion       the configured driver version, or the default when the file sets none
 * @param source              where it came from ("/etc/ollama-patch/shim.conf line 4", "the bundled shim's default")
 * @param computeCapabilities the configured devices' compute capabilities, e.g. 6.1
 */
public record ShimDriverConfig(String driverVersion, String source, List<Double> computeCapabilities) {
    /**
     * The driver version the bundled shim reports when its configuration sets none ({@code shim/src/shim_config.c};
     * a test checks the two agree). It is at or above 570, so no Ollama version filters it out.
     */
    public static final String BUNDLED_DEFAULT = "570.86.15";

    public ShimDriverConfig {
        computeCapabilities = List.copyOf(computeCapabilities);
    }

    public static ShimDriverConfig bundledDefault() {
        return new ShimDriverConfig(BUNDLED_DEFAULT, "the bundled shim's default (no configuration file)", List.of());
    }

    /** Reads the INI text of {@code file}; keys outside these two are not this reader's business. */
    public static ShimDriverConfig parse(String text, String file) {
        String section = "";
        String driver = null, where = null;
        List<Double> ccs = new ArrayList<>();
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i];
            int hash = line.indexOf('#');
            if (hash >= 0) line = line.substring(0, hash);
            line = line.strip();
            if (line.isEmpty()) continue;
            if (line.startsWith("[") && line.endsWith("]")) {
                section = line.substring(1, line.length() - 1).strip();
                continue;
            }
            int eq = line.indexOf('=');
            if (eq < 0) continue;
            String key = line.substring(0, eq).strip(), value = line.substring(eq + 1).strip();
            if (section.equals("shim") && key.equals("driver_version")) {
                driver = value;
                where = file + " line " + (i + 1);
            } else if (section.startsWith("device.") && key.equals("compute_capability")) {
                try {
                    ccs.add(Double.parseDouble(value));
                } catch (NumberFormatException e) {
                    // The shim itself reports a malformed value; here it only cannot count.
                }
            }
        }
        if (driver == null) {
            return new ShimDriverConfig(BUNDLED_DEFAULT, file + " sets no driver_version: the bundled shim's default", ccs);
        }
        return new ShimDriverConfig(driver, where, ccs);
    }

    /** The major number of the driver version ({@code 570} of {@code 570.86.15}). */
    public Optional<Integer> major() {
        int dot = driverVersion.indexOf('.');
        try {
            return Optional.of(Integer.parseInt(dot < 0 ? driverVersion : driverVersion.substring(0, dot)));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** Generation C drops every GPU whose driver major is below this (CUDA 12.4+ runtimes). */
    public static final int GEN_C_MIN_DRIVER = 550;
    /** ... and GPUs of compute capability under 7 below this (CUDA 12.8+ runtimes). */
    public static final int GEN_C_MIN_DRIVER_OLD_CC = 570;

    /** What generation C (0.30 and later) does with this driver version. */
    public enum GenerationC {
        /** At or above 570: every GPU is kept. */
        KEEPS,
        /** 550 - 569, and no configured device is under compute capability 7: kept; older GPUs would not be. */
        KEEPS_CC7_AND_NEWER,
        /** 550 - 569 and a configured device is under compute capability 7: dropped with CUDA 12.8+ runtimes. */
        DROPS_OLD_CC,
        /** Below 550: every GPU is dropped as "driver too old". */
        DROPS_ALL,
        /** Not a driver version: Ollama cannot read a major from it. */
        UNREADABLE
    }

    public GenerationC generationC() {
        Optional<Integer> major = major();
        if (major.isEmpty()) return GenerationC.UNREADABLE;
        if (major.get() < GEN_C_MIN_DRIVER) return GenerationC.DROPS_ALL;
        if (major.get() >= GEN_C_MIN_DRIVER_OLD_CC) return GenerationC.KEEPS;
        return computeCapabilities.stream().anyMatch(c -> c < 7.0) ? GenerationC.DROPS_OLD_CC : GenerationC.KEEPS_CC7_AND_NEWER;
    }

    /** What generation C makes of this driver version: warnings, empty when it keeps the GPUs. */
    public List<String> generationCWarnings() {
        return switch (generationC()) {
            case KEEPS -> List.of();
            case UNREADABLE -> List.of("shim driver_version \"" + driverVersion + "\" (" + source + ") is not a driver version; "
                    + "Ollama 0.30+ reads the driver major from it and may drop the GPUs");
            case DROPS_ALL -> List.of("shim driver_version " + driverVersion + " (" + source + ") is below " + GEN_C_MIN_DRIVER
                    + ": Ollama 0.30+ drops every GPU as \"driver too old\" for CUDA 12.4+ runtimes; set driver_version = "
                    + BUNDLED_DEFAULT + " or later");
            case DROPS_OLD_CC, KEEPS_CC7_AND_NEWER -> List.of("shim driver_version " + driverVersion + " (" + source + ") is below "
                    + GEN_C_MIN_DRIVER_OLD_CC + ": Ollama 0.30+ drops GPUs of compute capability under 7"
                    + (generationC() == GenerationC.DROPS_OLD_CC ? " (configured here)" : "") + " with CUDA 12.8+ runtimes; "
                    + "set driver_version = " + BUNDLED_DEFAULT + " or later");
        };
    }
}
