package dev.ollamapatch.shim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * 8 threads call every function at once, many times (src/test/c/threads_test.c); each thread does its
 * own init/shutdown so the reference count keeps crossing zero. Also under ThreadSanitizer and under
 * AddressSanitizer+UndefinedBehaviorSanitizer, with the shim's sources built with those flags.
 */
class ConcurrencyIT {
    static final int THREADS = 8;

    @TempDir
    Path dir;

    static Path threadsTest(String name, String... sanitizer) {
        List<String> args = new java.util.ArrayList<>(List.of("-O1", "-g", "-pthread", "-I" + Native.SRC));
        args.addAll(List.of(sanitizer));
        args.addAll(List.of(Native.TEST_C.resolve("threads_test.c").toString(), "-ldl"));
        return Native.build(name, "gcc", args.toArray(String[]::new));
    }

    static Path sanitizedShim(String name, String... sanitizer) {
        return Native.shimBuiltWith(name, sanitizer);
    }

    Path virtualConfig(Path trace) {
        return Native.write(dir.resolve("virtual.conf"), VirtualModeTest.CONFIG.replace("[shim]\n", "[shim]\ntrace = " + trace + "\n"));
    }

    Path forwardConfig(Path trace) {
        return Native.write(dir.resolve("forward.conf"),
                "[shim]\nmode = forward\nreal = " + Native.fakeRealNvml() + "\ntrace = " + trace + "\n");
    }

    /** Runs the test, checks it passed, and checks the trace has exactly one well-formed line per call. */
    static void runAndCheck(Path program, Path shim, Path config, Path trace, int iterations, Map<String, String> env) {
        Map<String, String> e = new java.util.HashMap<>(env);
        e.put(Native.CONFIG_ENV, config.toString());
        Native.Result r = Native.run(List.of(program.toString(), shim.toString(), String.valueOf(iterations), String.valueOf(THREADS)), e, 400);
        assertEquals(0, r.exitCode(), () -> r.stdout() + r.stderr());
        assertEquals("", r.stderr());
        Matcher m = Pattern.compile("^OK calls=(\\d+) reference_calls=(\\d+)$", Pattern.MULTILINE).matcher(r.stdout());
        assertTrue(m.find(), r.stdout());
        long calls = Long.parseLong(m.group(1)) + Long.parseLong(m.group(2));
        assertEquals(51L * THREADS * iterations + 51, calls, "calls per pass x passes");  // 2 devices or stand-in: 51 calls a pass
        List<String> lines = TraceTest.read(trace);
        Pattern wellFormed = Pattern.compile("^\\d+\\.\\d{6} pid=\\d+ tid=\\d+ (#config\\(.*\\) mode=\\w+ devices=\\d+.*"
                + "|nvmlErrorString\\(result=-?\\d+\\) = \".*\"|nvml\\w+\\(.*\\) = \\d+ NVML_\\w+( -> .*)?)$");
        long callLines = 0;
        for (String l : lines) {
            assertTrue(wellFormed.matcher(l).matches(), "interleaved or malformed trace line: " + l);
            if (!l.contains(" #config(")) {
                callLines++;
            }
        }
        assertEquals(calls, callLines, "one trace line per call");
    }

    @Test
    void virtualMode() {
        Path trace = dir.resolve("v.log");
        runAndCheck(threadsTest("threads_test"), Native.SHIM_X86_64, virtualConfig(trace), trace, 300, Map.of());
    }

    @Test
    void forwardMode() {
        Path trace = dir.resolve("f.log");
        runAndCheck(threadsTest("threads_test"), Native.SHIM_X86_64, forwardConfig(trace), trace, 300, Map.of());
    }

    @Test
    void threadSanitizer() {
        Path program = threadsTest("threads_test-tsan", "-fsanitize=thread");
        Path shim = sanitizedShim("nvml-tsan.so", "-fsanitize=thread");
        Map<String, String> env = Map.of("TSAN_OPTIONS", "halt_on_error=1:exitcode=66:report_signal_unsafe=1");
        Path t1 = dir.resolve("tv.log");
        runAndCheck(program, shim, virtualConfig(t1), t1, 40, env);
        Path t2 = dir.resolve("tf.log");
        runAndCheck(program, shim, forwardConfig(t2), t2, 40, env);
    }

    @Test
    void addressAndUndefinedBehaviorSanitizers() {
        String[] flags = {"-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"};
        Path program = threadsTest("threads_test-asan", flags);
        Path shim = sanitizedShim("nvml-asan.so", flags);
        Map<String, String> env = Map.of("ASAN_OPTIONS", "detect_leaks=1:halt_on_error=1", "UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1");
        Path t1 = dir.resolve("av.log");
        runAndCheck(program, shim, virtualConfig(t1), t1, 40, env);
        Path t2 = dir.resolve("af.log");
        runAndCheck(program, shim, forwardConfig(t2), t2, 40, env);
    }

    @Test
    void sixteenThreadsRetryingAFailingInitPrintItsLineOnce() {
        // regression: 16 threads x 200 retries printed 3,200 identical lines
        Path config = Native.write(dir.resolve("broken.conf"), "[gpu]\n");
        Path program = Native.build("retry_test", "gcc", "-O1", "-pthread", Native.TEST_C.resolve("retry_test.c").toString(), "-ldl");
        Native.Result r = Native.run(List.of(program.toString(), Native.SHIM_X86_64.toString(), "16", "200"),
                Map.of(Native.CONFIG_ENV, config.toString()), 120);
        assertEquals(0, r.exitCode(), r.stderr());
        assertEquals("failures=3200\n", r.stdout());
        assertEquals("ollama-patch shim: " + config + ":1: unknown section [gpu] (expected [shim] or [device.N])\n", r.stderr());
    }
}
