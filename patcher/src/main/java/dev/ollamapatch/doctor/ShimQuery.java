package dev.ollamapatch.doctor;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ollamapatch.report.Json;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Asks an installed shim what it will tell Ollama, by running the {@code nvml-shim-query} helper that
 * is bundled with the shims (one per machine, resource {@code dev/ollamapatch/shim/<machine>/nvml-shim-query})
 * with the shim's path and the config the service would use. The answer is the shim's own: its
 * config lookup, its parser, its forward mode.
 */
public final class ShimQuery {
    static final String HELPER = "nvml-shim-query";
    private static final long TIMEOUT_S = 20;

    private ShimQuery() {}

    /** The machine this JVM runs on, in ELF's words. */
    public static String hostMachine() {
        String a = System.getProperty("os.arch", "");
        return switch (a) {
            case "amd64", "x86_64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            default -> a;
        };
    }

    /** Copies the bundled helper for this machine into {@code dir}; empty when none is bundled. */
    static Optional<Path> extractHelper(Path dir) throws IOException {
        try (InputStream in = ShimQuery.class.getResourceAsStream("/dev/ollamapatch/shim/" + hostMachine() + "/" + HELPER)) {
            if (in == null) return Optional.empty();
            Path p = dir.resolve(HELPER);
            Files.copy(in, p);
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwx------"));
            return Optional.of(p);
        }
    }

    static final String ROOT_ENV = "OLLAMA_PATCH_SHIM_ROOT";

    /**
     * Asks {@code shim} as the service would run it: {@code namedConfig} is the config the service
     * names in {@code OLLAMA_PATCH_SHIM_CONFIG} (already under the root), or null, and then the shim
     * does its own default lookup. For a root other than "/", {@code OLLAMA_PATCH_SHIM_ROOT} makes the
     * shim look up its default config and the real NVML under the root; a shim that predates that
     * variable is given the default config's path under the root instead.
     */
    public static ShimAnswer ask(Path shim, String namedConfig, Host host) throws IOException {
        Map<String, String> env = new java.util.HashMap<>();
        String config = namedConfig;
        if (!host.isLiveSystem()) {
            env.put(ROOT_ENV, host.root().toString());
            if (config == null && !knowsRoot(shim)) config = host.path(Doctor.DEFAULT_CONFIG).toString();
        }
        return ask(shim, config, env);
    }

    /** Whether the shim reads {@code OLLAMA_PATCH_SHIM_ROOT} (its name is among the shim's strings; the file is mapped, not read into the heap). */
    static boolean knowsRoot(Path shim) {
        try (dev.ollamapatch.elf.ElfFile elf = dev.ollamapatch.elf.ElfFile.open(shim)) {
            return dev.ollamapatch.site.DataScan.contains(elf, ROOT_ENV.getBytes(StandardCharsets.ISO_8859_1));
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /**
     * Runs the helper on {@code shim} with {@code OLLAMA_PATCH_SHIM_CONFIG=configPath} (null: the
     * variable is removed, and the shim uses its default). Throws IOException when the helper
     * cannot be run or prints no answer.
     */
    public static ShimAnswer ask(Path shim, String configPath, Map<String, String> extraEnv) throws IOException {
        Path dir = Files.createTempDirectory("ollama-patch-doctor");
        try {
            Path helper = extractHelper(dir).orElseThrow(() ->
                    new IOException("no " + HELPER + " is bundled for " + hostMachine()));
            List<String> cmd = new ArrayList<>(List.of(helper.toString(), shim.toAbsolutePath().toString()));
            ProcessBuilder pb = new ProcessBuilder(cmd);
            pb.environment().remove("LD_PRELOAD");
            pb.environment().remove(ROOT_ENV);
            if (configPath == null) pb.environment().remove("OLLAMA_PATCH_SHIM_CONFIG");
            else pb.environment().put("OLLAMA_PATCH_SHIM_CONFIG", configPath);
            pb.environment().putAll(extraEnv);
            Path out = dir.resolve("out");
            Path err = dir.resolve("err");
            pb.redirectOutput(out.toFile()).redirectError(err.toFile()).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            Process p = pb.start();
            try {
                if (!p.waitFor(TIMEOUT_S, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    throw new IOException(HELPER + " did not answer within " + TIMEOUT_S + " s (does nvmlInit block? a FIFO as config?)");
                }
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while asking the shim");
            }
            String stdout = Files.readString(out, StandardCharsets.UTF_8).strip();
            String stderr = Files.readString(err, StandardCharsets.UTF_8);
            if (stdout.isEmpty()) {
                throw new IOException(HELPER + " exited " + p.exitValue() + " without an answer"
                        + (stderr.isBlank() ? "" : ": " + stderr.strip().lines().findFirst().orElse("")));
            }
            JsonNode n = Json.MAPPER.readTree(stdout);
            return ShimAnswer.parse(n, configPath, stderr);
        } finally {
            try (var s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }
}
