package dev.ollamapatch.shim;

import java.io.InputStream;
import java.util.Optional;
import java.util.Set;

/**
 * The NVML shims bundled in this jar, one per machine, as resources
 * {@code dev/ollamapatch/shim/<machine>/nvml.so}. The patcher installs one of them as {@code nvml.so}
 * next to each patched file.
 */
public final class BundledShims {
    /** Machines for which a shim is built and bundled (ELF e_machine names as the patcher prints them). */
    private static final Set<String> MACHINES = Set.of("x86_64", "aarch64");

    private BundledShims() {
    }

    /** Resource path of the shim for {@code machine}. */
    static String resourcePath(String machine) {
        return "/dev/ollamapatch/shim/" + machine + "/nvml.so";
    }

    /**
     * Opens the bundled shim for a machine ("x86_64" or "aarch64").
     *
     * @return the shim's bytes (the caller closes the stream), or empty if none is bundled for it
     */
    public static Optional<InputStream> open(String machine) {
        if (machine == null || !MACHINES.contains(machine)) {
            return Optional.empty();
        }
        return Optional.ofNullable(BundledShims.class.getResourceAsStream(resourcePath(machine)));
    }

    /** The machines a shim is bundled for. */
    public static Set<String> machines() {
        return MACHINES;
    }
}
