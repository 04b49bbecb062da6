package dev.ollamapatch.shim;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A missing or malformed config makes every nvmlInit* fail with an NVML error and exactly one
 * line on stderr naming the file and line; the process carries on.
 * Codes: 12 NVML_ERROR_LIBRARY_NOT_FOUND (no config file, no real library), 999 NVML_ERROR_UNKNOWN (malformed).
 */
class BadConfigTest {
    static final String DEVICE0 = """
            [device.0]
            name = GPU zero
            uuid = GPU-0
            memory_total = 1000
            compute_capability = 8.0
            """;

    @TempDir
    Path dir;

    static Stream<Arguments> badConfigs() {
        return Stream.of(
                Arguments.of("unknown key", DEVICE0.replace("memory_total", "memroy_total"), 999,
                        "%s:4: unknown key 'memroy_total' in [device.0]"),
                Arguments.of("bad number", DEVICE0.replace("= 1000", "= 12GB"), 999,
                        "%s:4: bad number '12GB' for 'memory_total' in [device.0]"),
                Arguments.of("negative number", DEVICE0.replace("= 1000", "= -1"), 999,
                        "%s:4: bad number '-1' for 'memory_total' in [device.0]"),
                Arguments.of("no devices", "[shim]\nmode = virtual\n", 999,
                        "%s:2: virtual mode needs at least one [device.0] section"),
                Arguments.of("empty file", "# nothing\n", 999,
                        "%s:1: virtual mode needs at least one [device.0] section"),
                Arguments.of("duplicate device", DEVICE0 + "\n" + DEVICE0, 999,
                        "%s:7: duplicate section [device.0] (first at line 1)"),
                Arguments.of("duplicate key", DEVICE0 + "name = again\n", 999,
                        "%s:6: duplicate key 'name' in [device.0] (first at line 2)"),
                Arguments.of("gap in device indices", DEVICE0 + DEVICE0.replace("device.0", "device.2"), 999,
                        "%s:6: device sections must be numbered 0..1 without gaps, but [device.1] is missing"),
                Arguments.of("unknown section", "[gpu]\nname = x\n", 999,
                        "%s:1: unknown section [gpu] (expected [shim] or [device.N])"),
                Arguments.of("unknown shim key", "[shim]\nmdoe = virtual\n" + DEVICE0, 999,
                        "%s:2: unknown key 'mdoe' in [shim]"),
                Arguments.of("bad mode", "[shim]\nmode = fake\n" + DEVICE0, 999,
                        "%s:2: bad mode 'fake' in [shim] (expected virtual or forward)"),
                Arguments.of("forward with missing real library", "[shim]\nmode = forward\nreal = /nonexistent/libnvidia-ml.so.1\n", 12,
                        "%s:3: cannot load the real NVML '/nonexistent/libnvidia-ml.so.1': /nonexistent/libnvidia-ml.so.1: cannot open shared object file: No such file or directory"),
                Arguments.of("missing required key", DEVICE0.replace("uuid = GPU-0\n", ""), 999,
                        "%s:1: [device.0] lacks required key 'uuid'"),
                Arguments.of("key outside a section", "name = x\n" + DEVICE0, 999,
                        "%s:1: key 'name' outside of any section (start with [shim] or [device.0])"),
                Arguments.of("not key = value", DEVICE0 + "just words\n", 999,
                        "%s:6: expected 'key = value', got 'just words'"),
                Arguments.of("used above total", DEVICE0 + "memory_used = 1001\n", 999,
                        "%s:6: memory_used 1001 exceeds memory_total 1000 in [device.0]"),
                Arguments.of("bad compute capability", DEVICE0.replace("8.0", "eight"), 999,
                        "%s:5: bad compute capability 'eight' in [device.0] (expected MAJOR.MINOR, e.g. 9.0)"),
                Arguments.of("bad bus id", DEVICE0 + "pci_bus_id = 0000:00:05\n", 999,
                        "%s:6: bad PCI bus id '0000:00:05' for 'pci_bus_id' in [device.0] (expected e.g. 00000000:00:05.0)"),
                Arguments.of("name too long", DEVICE0.replace("GPU zero", "x".repeat(96)), 999,
                        "%s:2: value of 'name' in [device.0] is longer than 95 bytes"),
                Arguments.of("duplicate uuid", DEVICE0 + DEVICE0.replace("device.0", "device.1"), 999,
                        "%s:8: uuid 'GPU-0' of [device.1] is already used by [device.0]"),
                Arguments.of("empty value", DEVICE0 + "serial =\n", 999,
                        "%s:6: empty value for 'serial' in [device.0]"),
                Arguments.of("NUL byte in a value", DEVICE0.replace("GPU zero", "GPU\0zero"), 999,
                        "%s:2: NUL byte at column 11; a config is text"),
                Arguments.of("escape sequences are escaped on stderr", "[gpu\u001b[2J\u0007]\n", 999,
                        "%s:1: unknown section [gpu\\x1b[2J\\x07] (expected [shim] or [device.N])"),
                Arguments.of("carriage return inside a line", DEVICE0 + "brand = ge\rforce\n", 999,
                        "%s:6: unknown brand 'ge\\x0dforce' in [device.0] (use a number 0..16 or a name such as tesla, geforce, nvidia)"),
                Arguments.of("octal-looking hex is not a prefix", DEVICE0.replace("= 1000", "= 0o10"), 999,
                        "%s:4: bad number '0o10' for 'memory_total' in [device.0]"),
                Arguments.of("0x without digits", DEVICE0.replace("= 1000", "= 0x"), 999,
                        "%s:4: bad number '0x' for 'memory_total' in [device.0]"),
                Arguments.of("number above 2^64-1", DEVICE0.replace("= 1000", "= 18446744073709551616"), 999,
                        "%s:4: bad number '18446744073709551616' for 'memory_total' in [device.0]"),
                Arguments.of("blank inside a number", DEVICE0.replace("= 1000", "= 10 00"), 999,
                        "%s:4: bad number '10 00' for 'memory_total' in [device.0]"),
                Arguments.of("trace file cannot be opened", "[shim]\ntrace = /nonexistent/dir/t.log\n" + DEVICE0, 17,
                        "%s:2: cannot open trace file '/nonexistent/dir/t.log': No such file or directory"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badConfigs")
    void initFailsWithOneLineNamingFileAndLine(String what, String text, int code, String message) {
        Path config = Native.write(dir.resolve("shim.conf"), text);
        Native.Result r = Native.cli(Native.SHIM_X86_64, config, "init", "init1", "initflags:0", "count", "shutdown");
        String c = String.valueOf(code);
        assertEquals(List.of(c, c, c, "1", "1"), r.lines(), what);
        String line = "ollama-patch shim: " + message.formatted(config) + "\n";
        assertEquals(line, r.stderr(), what + ": printed once, not once per failing call");
    }

    @Test
    void missingFileIsLibraryNotFound() {
        Path config = dir.resolve("absent.conf");
        Native.Result r = Native.cli(Native.SHIM_X86_64, config, "init", "count");
        assertEquals(List.of("12", "1"), r.lines());
        assertEquals("ollama-patch shim: " + config + ": cannot read config file: No such file or directory"
                + " (set OLLAMA_PATCH_SHIM_CONFIG to choose another file)\n", r.stderr());
    }

    @Test
    void defaultPathIsUsedWhenTheVariableIsEmpty() {
        // an empty root: no default config there, no NVML there either (LookupTest covers the rest)
        Native.Result r = Native.run(List.of(Native.cli().toString(), Native.SHIM_X86_64.toString(), "init"),
                java.util.Map.of(Native.CONFIG_ENV, "", Native.ROOT_ENV, dir.toString()), 60);
        assertEquals(0, r.exitCode());
        assertEquals(List.of("12"), r.lines());
        assertEquals(true, r.stderr().startsWith("ollama-patch shim: no config file " + dir + "/etc/ollama-patch/shim.conf and no NVIDIA NVML"), r.stderr());
    }

    @Test
    void aConfigThatIsAFifoDoesNotBlock() throws Exception {
        Path fifo = dir.resolve("fifo.conf");
        assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
        Native.Result r = Native.cli(Native.SHIM_X86_64, fifo, "init", "init");  // Native.run times out if it blocks
        assertEquals(List.of("999", "999"), r.lines());
        assertEquals("ollama-patch shim: " + fifo + ": the config file is a FIFO; it must be a regular file\n", r.stderr());
    }

    @Test
    void devZeroAndADirectoryAreRefused() {
        Native.Result r = Native.cli(Native.SHIM_X86_64, Path.of("/dev/zero"), "init");
        assertEquals(List.of("999"), r.lines());
        assertEquals("ollama-patch shim: /dev/zero: the config file is a character device; it must be a regular file\n", r.stderr());
        r = Native.cli(Native.SHIM_X86_64, dir, "init");
        assertEquals("ollama-patch shim: " + dir + ": the config file is a directory; it must be a regular file\n", r.stderr());
    }

    @Test
    void aConfigLargerThanOneMebibyteIsRefused() {
        Path big = Native.write(dir.resolve("big.conf"), DEVICE0 + "#".repeat(1024 * 1024));
        Native.Result r = Native.cli(Native.SHIM_X86_64, big, "init");
        assertEquals(List.of("999"), r.lines());
        assertEquals("ollama-patch shim: " + big + ": the config file is larger than 1048576 bytes; this is not a shim config\n", r.stderr());
        // exactly at the limit is fine
        StringBuilder text = new StringBuilder(DEVICE0);
        while (1024 * 1024 - text.length() >= 64) {
            text.append("#".repeat(63)).append('\n');
        }
        text.append("#".repeat(1024 * 1024 - text.length() - 1)).append('\n');
        Path edge = Native.write(dir.resolve("edge.conf"), text.toString());
        assertEquals(1024 * 1024, text.length());
        assertEquals(List.of("0", "0 1"), Native.cli(Native.SHIM_X86_64, edge, "init", "count").lines());
    }

    @Test
    void leadingZerosAreDecimalNotOctal() {
        Path config = Native.write(dir.resolve("zeros.conf"), DEVICE0.replace("= 1000", "= 010") + "memory_used = 0x0A\n");
        assertEquals(List.of("0", "0", "0 total=10 free=0 used=10"), Native.cli(Native.SHIM_X86_64, config, "init", "h:0", "mem").lines());
    }

    @Test
    void eachDistinctFailureIsPrintedOnceAndASuccessForgetsIt() {
        Path bad1 = Native.write(dir.resolve("bad1.conf"), "[gpu]\n");
        Path bad2 = Native.write(dir.resolve("bad2.conf"), "[cpu]\n");
        Path good = Native.write(dir.resolve("good.conf"), DEVICE0);
        Native.Result r = Native.cli(Native.SHIM_X86_64, bad1, "init", "init1", "initflags:0",
                "setenv:OLLAMA_PATCH_SHIM_CONFIG=" + bad2, "init", "init",
                "setenv:OLLAMA_PATCH_SHIM_CONFIG=" + good, "init", "shutdown",
                "setenv:OLLAMA_PATCH_SHIM_CONFIG=" + bad2, "init", "init");
        assertEquals(List.of("999", "999", "999", "ok", "999", "999", "ok", "0", "0", "ok", "999", "999"), r.lines());
        String l1 = "ollama-patch shim: " + bad1 + ":1: unknown section [gpu] (expected [shim] or [device.N])\n";
        String l2 = "ollama-patch shim: " + bad2 + ":1: unknown section [cpu] (expected [shim] or [device.N])\n";
        assertEquals(l1 + l2 + l2, r.stderr());
    }

    @Test
    void aGoodConfigAfterABadOneWorks() {
        Path bad = Native.write(dir.resolve("bad.conf"), "[gpu]\n");
        Path good = Native.write(dir.resolve("good.conf"), DEVICE0);
        Native.Result r = Native.cli(Native.SHIM_X86_64, bad, "init", "setenv:OLLAMA_PATCH_SHIM_CONFIG=" + good, "init", "count");
        assertEquals(List.of("999", "ok", "0", "0 1"), r.lines());
    }
}
