package dev.ollamapatch.shim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/** Builds the C test programs into target/native-tests and runs them. */
final class Native {
    static final Path MODULE = Path.of("").toAbsolutePath();
    static final Path SRC = MODULE.resolve("src");
    static final Path TEST_C = SRC.resolve("test/c");
    static final Path OUT = MODULE.resolve("target/native-tests");
    static final Path SHIM_X86_64 = MODULE.resolve("target/classes/dev/ollamapatch/shim/x86_64/nvml.so");
    static final Path SHIM_AARCH64 = MODULE.resolve("target/classes/dev/ollamapatch/shim/aarch64/nvml.so");
    static final Path GEN = MODULE.resolve("target/native/gen");
    static final String CONFIG_ENV = "OLLAMA_PATCH_SHIM_CONFIG";
    static final String ROOT_ENV = "OLLAMA_PATCH_SHIM_ROOT";
    static final String[] ASAN = {"-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"};
    static final Map<String, String> ASAN_ENV = Map.of("ASAN_OPTIONS", "detect_leaks=1:halt_on_error=1",
            "UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1");

    private static final Map<String, Path> BUILT = new ConcurrentHashMap<>();

    private Native() {
    }

    record Result(int exitCode, String stdout, String stderr) {
        List<String> lines() {
            return stdout.lines().toList();
        }
    }

    /** Compiles (once per JVM) with the given compiler and arguments into target/native-tests/NAME. */
    static synchronized Path build(String name, String compiler, String... args) {
        return BUILT.computeIfAbsent(name, n -> {
            try {
                Files.createDirectories(OUT);
                Path out = OUT.resolve(n);
                List<String> cmd = new ArrayList<>(List.of(compiler, "-o", out.toString()));
                cmd.addAll(List.of(args));
                Result r = run(cmd, Map.of(), 300);
                if (r.exitCode() != 0) {
                    fail("compiling " + n + " failed: " + cmd + "\n" + r.stdout() + r.stderr());
                }
                return out;
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
    }

    static Path cli() {
        return build("nvml_cli", "gcc", "-O1", "-Wall", "-Wextra", "-Werror", TEST_C.resolve("nvml_cli.c").toString(), "-ldl");
    }

    /** nvml_cli built with AddressSanitizer and UndefinedBehaviorSanitizer (loads the sanitized shim). */
    static Path asanCli() {
        List<String> args = new ArrayList<>(List.of("-O1", "-g", "-Wall", "-Wextra", "-Werror"));
        args.addAll(List.of(ASAN));
        args.addAll(List.of(TEST_C.resolve("nvml_cli.c").toString(), "-ldl"));
        return build("nvml_cli-asan", "gcc", args.toArray(String[]::new));
    }

    /** The shim's sources built as one library with extra flags (sanitizers), like the Makefile does. */
    static Path shimBuiltWith(String name, String... flags) {
        List<String> args = new ArrayList<>(List.of("-std=c11", "-O1", "-g", "-fPIC", "-shared", "-pthread",
                "-fvisibility=hidden", "-Wall", "-Wextra", "-Werror", "-I" + GEN, "-Wl,-soname,libnvidia-ml.so.1",
                "-Wl,--version-script=" + GEN.resolve("exports.map")));
        args.addAll(List.of(flags));
        for (String c : List.of("nvml_shim.c", "shim_config.c", "shim_lookup.c")) {
            args.add(SRC.resolve(c).toString());
        }
        args.add("-l:libdl.so.2");
        return build(name, "gcc", args.toArray(String[]::new));
    }

    /** The shim built with AddressSanitizer and UndefinedBehaviorSanitizer. */
    static Path asanShim() {
        return shimBuiltWith("nvml-asan.so", ASAN);
    }

    /** The stand-in "real NVML" library for forward mode. */
    static Path fakeRealNvml() {
        return build("fake-real-nvml.so", "gcc", "-O0", "-fPIC", "-shared", "-Wl,-soname,libnvidia-ml.so.1",
                TEST_C.resolve("fake_real_nvml.c").toString());
    }

    static Result run(List<String> cmd, Map<String, String> env, int timeoutSeconds) {
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd);
            pb.environment().putAll(env);
            Path so = Files.createTempFile("native-out", ".txt");
            Path se = Files.createTempFile("native-err", ".txt");
            pb.redirectOutput(so.toFile());
            pb.redirectError(se.toFile());
            Process p = pb.start();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                fail("timed out after " + timeoutSeconds + " s (deadlock?): " + cmd);
            }
            Result r = new Result(p.exitValue(), Files.readString(so, StandardCharsets.UTF_8), Files.readString(se, StandardCharsets.UTF_8));
            Files.deleteIfExists(so);
            Files.deleteIfExists(se);
            return r;
        } catch (IOException e) {
            throw new RuntimeException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RuntimeException(e);
        }
    }

    /** Runs nvml_cli against a library with a config file; the process must exit 0. */
    static Result cli(Path lib, Path config, String... commands) {
        return cli(lib, config, Map.of(), commands);
    }

    static Result cli(Path lib, Path config, Map<String, String> extraEnv, String... commands) {
        List<String> cmd = new ArrayList<>(List.of(cli().toString(), lib.toString()));
        cmd.addAll(List.of(commands));
        Map<String, String> env = new HashMap<>(extraEnv);
        env.put(CONFIG_ENV, config.toString());
        Result r = run(cmd, env, 60);
        assertEquals(0, r.exitCode(), () -> "nvml_cli failed:\n" + r.stdout() + r.stderr());
        return r;
    }

    static Path write(Path file, String text) {
        try {
            Files.createDirectories(file.getParent());
            Files.writeString(file, text, StandardCharsets.UTF_8);
            return file;
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }
}
