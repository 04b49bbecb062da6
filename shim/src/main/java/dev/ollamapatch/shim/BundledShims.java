package dev.ollamapatch.shim;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
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

    /** Resource path of the one NVML function list (shim/nvml-functions.txt). */
    static final String FUNCTIONS_RESOURCE = "/dev/ollamapatch/shim/nvml-functions.txt";

    private static volatile Set<String> functions;

    /**
     * The NVML functions every bundled shim exports, in the order of {@code shim/nvml-functions.txt}:
     * the one list the shim's version script and symbol table are generated from.
     */
    public static Set<String> nvmlFunctions() {
        Set<String> f = functions;
        if (f == null) {
            try (InputStream in = BundledShims.class.getResourceAsStream(FUNCTIONS_RESOURCE)) {
                if (in == null) {
                    throw new IllegalStateException("the jar lacks " + FUNCTIONS_RESOURCE + " (the shim module was not built with make)");
                }
                f = parseFunctionList(new String(in.readAllBytes(), StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            functions = f;
        }
        return f;
    }

    /** The names in a function list: one per line, '#' starts a comment, blank lines ignored. */
    static Set<String> parseFunctionList(String text) {
        List<String> names = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new java.io.StringReader(text))) {
            String line;
            int n = 0;
            while ((line = r.readLine()) != null) {
                n++;
                int hash = line.indexOf('#');
                String name = (hash >= 0 ? line.substring(0, hash) : line).strip();
                if (name.isEmpty()) {
                    continue;
                }
                if (!name.matches("nvml[A-Za-z0-9_]+")) {
                    throw new IllegalStateException("nvml-functions.txt line " + n + ": not an NVML function name: " + name);
                }
                names.add(name);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return Collections.unmodifiableSet(new LinkedHashSet<>(names));
    }
}
