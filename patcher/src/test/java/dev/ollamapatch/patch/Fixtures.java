package dev.ollamapatch.patch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The Ollama-like binaries built by the fixtures module, with their known answers, and a way to run
 * them (aarch64 ones under qemu-user). A missing fixture is a test failure, never a skip.
 */
public final class Fixtures {
    public static final List<String> ARCHES = List.of("x86_64", "aarch64");
    public static final List<String> VARIANTS = List.of("release", "debug");
    public static final List<String> PROGRAMS = List.of("gen-a", "gen-b", "gen-c", "needed", "tailmerge", "hipconst");
    public static final String STUB_DRIVER = "999.1-fixture-stub";
    private static final ObjectMapper JSON = new ObjectMapper();

    private Fixtures() {}

    public static Path root() {
        String dir = System.getProperty("fixtures.dir");
        if (dir == null) throw new AssertionError("system property fixtures.dir is not set (run through Maven)");
        Path p = Path.of(dir);
        if (!Files.isDirectory(p)) throw new AssertionError("fixtures were not built: " + p + " is missing");
        return p;
    }

    /** The install directory of one program, laid out like Ollama's ({@code bin/...}, {@code lib/ollama/...}). */
    public static Path installDir(String arch, String variant, String program) {
        Path p = root().resolve(arch).resolve(variant).resolve(program);
        if (!Files.isDirectory(p)) throw new AssertionError("fixture not built: " + p);
        return p;
    }

    public static Path binary(String arch, String variant, String program) {
        return installDir(arch, variant, program).resolve("bin").resolve(program);
    }

    /**
     * Debian's musl for arm64 as {@code .ci/install-tools} unpacks it (dpkg's architectures stay as they are):
     * {@code musl-gcc.specs} for aarch64-linux-gnu-gcc, and {@code root/} holding {@code lib/ld-musl-aarch64.so.1}
     * for {@code qemu-aarch64 -L}. Where: {@code -Dmusl.arm64}, {@code $OLLAMA_PATCH_MUSL_ARM64}, or
     * {@code ~/.cache/ollama-patch/musl-arm64}.
     */
    public static Path muslArm64() {
        Path p = Path.of(System.getProperty("musl.arm64", System.getenv().getOrDefault("OLLAMA_PATCH_MUSL_ARM64",
                System.getProperty("user.home") + "/.cache/ollama-patch/musl-arm64")));
        if (!Files.isRegularFile(p.resolve("musl-gcc.specs")) || !Files.exists(p.resolve("root/lib/ld-musl-aarch64.so.1"))) {
            throw new AssertionError("no aarch64 musl at " + p + " (musl-gcc.specs, root/lib/ld-musl-aarch64.so.1): "
                    + "run .ci/install-tools");
        }
        return p;
    }

    /** The C compiler that builds for musl on {@code arch}: musl's gcc wrapper, or the aarch64 cross gcc with Debian's arm64 specs. */
    public static String muslCc(String arch) {
        return arch.equals("aarch64") ? "aarch64-linux-gnu-gcc -specs " + muslArm64().resolve("musl-gcc.specs") : "musl-gcc";
    }

    public static Path stub(String arch) {
        Path p = root().resolve(arch).resolve("stub-nvml").resolve("libnvidia-ml.so.1");
        if (!Files.isRegularFile(p)) throw new AssertionError("stub NVML not built: " + p);
        return p;
    }

    /** Every ELF file of a fixture install that has known answers. */
    public static List<Path> elfFiles(Path installDir) throws IOException {
        try (Stream<Path> s = Files.walk(installDir)) {
            return s.filter(p -> p.toString().endsWith(".sites.json"))
                    .map(p -> p.resolveSibling(p.getFileName().toString().replace(".sites.json", "")))
                    .sorted().toList();
        }
    }

    public static JsonNode knownAnswers(Path binary) throws IOException {
        Path json = binary.resolveSibling(binary.getFileName() + ".sites.json");
        if (!Files.isRegularFile(json)) throw new AssertionError("no known answers for " + binary);
        return JSON.readTree(json.toFile());
    }

    public record Run(int exit, String stdout, String stderr) {}

    /** Runs a fixture binary; aarch64 ones under qemu-aarch64 with the cross sysroot. */
    public static Run run(String arch, Path binary, Map<String, String> env, String... args) throws Exception {
        List<String> cmd = new ArrayList<>();
        if (arch.equals("aarch64")) {
            cmd.addAll(List.of("qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"));
        }
        cmd.add(binary.toString());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().remove("LD_LIBRARY_PATH");
        pb.environment().putAll(env);
        Path out = Files.createTempFile("fixture", ".out");
        Path err = Files.createTempFile("fixture", ".err");
        try {
            pb.redirectOutput(out.toFile()).redirectError(err.toFile());
            Process p = pb.start();
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("timed out: " + cmd);
            }
            return new Run(p.exitValue(), Files.readString(out, StandardCharsets.ISO_8859_1),
                    Files.readString(err, StandardCharsets.ISO_8859_1));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    /** Copies a fixture install so a test can patch it. */
    public static Path copyInstall(Path installDir, Path into) throws IOException {
        try (Stream<Path> s = Files.walk(installDir)) {
            for (Path src : s.toList()) {
                Path dst = into.resolve(installDir.relativize(src).toString());
                if (Files.isDirectory(src)) Files.createDirectories(dst);
                else Files.copy(src, dst, java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
            }
        }
        return into;
    }
}
