package dev.ollamapatch.shim;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The shim's C code under AddressSanitizer and UndefinedBehaviorSanitizer (leak checking on, any finding
 * fatal): the shim and nvml_cli built with -fsanitize=address,undefined run the sessions of the other
 * tests — every virtual-mode call, every bad config (FIFO, /dev/zero, NUL, escapes, over-long files),
 * forward mode, the lookup through a real ld.so.cache in both formats, trace reset — and must give
 * byte-for-byte the answers and the stderr of the plain build. Runs in every ./mvnw test / verify.
 */
class SanitizerIT {
    @TempDir
    Path dir;

    /** Runs the commands with the plain and the sanitized builds; both exit 0 with the same output. */
    static Native.Result both(Map<String, String> env, String... commands) {
        Native.Result plain = run(Native.cli(), Native.SHIM_X86_64, env, Map.of(), commands);
        Native.Result asan = run(Native.asanCli(), Native.asanShim(), env, Native.ASAN_ENV, commands);
        assertEquals(plain.stdout(), asan.stdout(), "answers");
        assertEquals(plain.stderr().replace(Native.SHIM_X86_64.toString(), "SHIM"),
                asan.stderr().replace(Native.asanShim().toString(), "SHIM"), "messages");
        return asan;
    }

    static Native.Result run(Path cli, Path shim, Map<String, String> env, Map<String, String> extra, String... commands) {
        List<String> cmd = new ArrayList<>(List.of(cli.toString(), shim.toString()));
        cmd.addAll(List.of(commands));
        Map<String, String> e = new HashMap<>(env);
        e.putAll(extra);
        Native.Result r = Native.run(cmd, e, 120);
        assertEquals(0, r.exitCode(), () -> cli + " failed (sanitizer finding?):\n" + r.stdout() + r.stderr());
        return r;
    }

    static Map<String, String> config(Path config) {
        return Map.of(Native.CONFIG_ENV, config.toString());
    }

    @Test
    void everyVirtualModeCall() {
        Path config = Native.write(dir.resolve("v.conf"), VirtualModeTest.CONFIG);
        both(config(config), "count", "init", "driver:80", "driver:9", "nvmlver:80", "nvmlver:0", "cuda", "cuda2", "count",
                "count1", "h:0", "name:96", "name:3", "uuid:96", "serial:30", "serial:13", "vbios:32", "part:80", "pci3",
                "pci2", "pci1", "index", "mem", "mem2", "mem2:2", "mem2:01000028", "cc", "brand", "hsave",
                "huuid:GPU-3f1c2d4e-0000-4000-8000-000000000001", "hsame", "huuid:gpu-3F1C2D4E-0000-4000-8000-000000000001",
                "hbus:00000000:00:05.0", "hbus1:0000:00:05.0", "hbus:00:05.0", "hbus:zz", "huuid:nope", "h1:1", "name:64",
                "serial:30", "h:9", "hnull", "name:96", "hbogus", "mem", "null:count", "null:driver", "null:cuda", "null:h",
                "null:huuid", "null:hbus", "null:name", "null:pci3", "null:index", "null:mem", "null:mem2", "null:cc",
                "null:brand", "errstr:0", "errstr:25", "errstr:999", "errstr:12345", "initflags:1", "shutdown", "shutdown",
                "count", "shutdown");
    }

    static Stream<Arguments> badConfigs() {
        return BadConfigTest.badConfigs();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badConfigs")
    void everyBadConfig(String what, String text, int code, String message) {
        Path config = Native.write(dir.resolve("bad.conf"), text);
        both(config(config), "init", "init1", "initflags:0", "count", "shutdown");
    }

    @Test
    void hostileFilesAndNumbers() throws Exception {
        Path fifo = dir.resolve("fifo.conf");
        assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
        both(config(fifo), "init", "init");
        both(config(Path.of("/dev/zero")), "init");
        both(config(dir), "init");
        both(config(Native.write(dir.resolve("big.conf"), "#".repeat(2 * 1024 * 1024))), "init");
        both(config(Native.write(dir.resolve("long.conf"), "#".repeat(5000) + "\n")), "init");
        both(config(Native.write(dir.resolve("nul.conf"), BadConfigTest.DEVICE0 + "serial = 12\0" + "34\n")), "init");
        both(config(Native.write(dir.resolve("esc.conf"), "[shim]\nmode = \u001b]0;pwned\u0007\n")), "init");
        both(config(Native.write(dir.resolve("zeros.conf"), BadConfigTest.DEVICE0.replace("= 1000", "= 010"))),
                "init", "h:0", "mem", "mem2", "shutdown");
        both(config(dir.resolve("absent.conf")), "init");
    }

    @Test
    void forwardModeAndItsRefcount() {
        Path config = Native.write(dir.resolve("f.conf"), "[shim]\nmode = forward\nreal = " + Native.fakeRealNvml() + "\n");
        both(config(config), ForwardModeTest.SESSION);
        Map<String, String> env = new HashMap<>(config(config));
        env.put("STANDIN_FAIL_SHUTDOWNS", "1");
        both(env, "init", "shutdown", "count", "shutdown", "count", "shutdown");
        Path self = Native.write(dir.resolve("self.conf"), "[shim]\nmode = forward\nreal = /nonexistent/libnvidia-ml.so.1\n");
        both(config(self), "init", "init");
    }

    @Test
    void lookupThroughTheLoadersCacheInBothFormats() throws Exception {
        for (String format : List.of("new", "compat")) {
            Path root = Files.createDirectories(dir.resolve("root-" + format));
            Path lib = Files.createDirectories(root.resolve("opt/nvidia/lib"));
            Files.copy(Native.fakeRealNvml(), lib.resolve("libnvidia-ml.so.570.86.15"), StandardCopyOption.REPLACE_EXISTING);
            Path x86 = Files.createDirectories(root.resolve("usr/lib/x86_64-linux-gnu"));
            Files.copy(Native.SHIM_X86_64, x86.resolve("libnvidia-ml.so.1"), StandardCopyOption.REPLACE_EXISTING);
            Files.writeString(Files.createDirectories(root.resolve("etc")).resolve("ld.so.conf"), "/opt/nvidia/lib\n");
            Process p = new ProcessBuilder("ldconfig", "-c", format, "-r", root.toString()).inheritIO().start();
            assertEquals(0, p.waitFor(), "ldconfig -r");
            both(Map.of(Native.CONFIG_ENV, "", Native.ROOT_ENV, root.toString()), "init", "driver:80", "count", "shutdown");
        }
        Path empty = Files.createDirectories(dir.resolve("empty-root"));
        both(Map.of(Native.CONFIG_ENV, "", Native.ROOT_ENV, empty.toString()), "init", "init", "count");
    }

    @Test
    void traceAndItsReset() {
        Path trace = dir.resolve("t.log");
        Path traced = Native.write(dir.resolve("traced.conf"), "[shim]\ntrace = " + trace + "\n" + BadConfigTest.DEVICE0);
        Path plain = Native.write(dir.resolve("plain.conf"), BadConfigTest.DEVICE0);
        Native.Result r = run(Native.asanCli(), Native.asanShim(), config(traced), Native.ASAN_ENV, "init", "h:0", "name:96",
                "pci3", "mem2", "errstr:7", "shutdown", "setenv:OLLAMA_PATCH_SHIM_CONFIG=" + plain, "init", "count", "shutdown");
        assertEquals(List.of("0", "0", "0 \"GPU zero\""), r.lines().subList(0, 3));
        List<String> lines = TraceTest.read(trace);
        assertEquals(8, lines.size(), "config line and seven calls, nothing after the reset: " + lines);
        assertEquals("nvmlShutdown() = 0 NVML_SUCCESS", TraceTest.normalize(lines.get(7)));
    }
}
