package dev.ollamapatch.shim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Forward mode against a stand-in "real NVML" (src/test/c/fake_real_nvml.c, SONAME libnvidia-ml.so.1,
 * no nvmlDeviceGetBoardPartNumber): every answer must be exactly what the stand-in gives when called
 * directly, except that the missing function gives NVML_ERROR_FUNCTION_NOT_FOUND.
 */
class ForwardModeTest {
    static final String[] SESSION = {
        "init1", "init", "initflags:0", "driver:80", "driver:5", "nvmlver:80", "cuda", "cuda2", "count", "count1",
        "h:0", "name:96", "name:10", "uuid:96", "serial:30", "vbios:32", "pci3", "pci2", "pci1", "index", "mem", "mem2",
        "mem2:02000028", "mem2:12345678", "cc", "brand", "null:name", "null:mem2",
        "h:1", "hsave", "huuid:GPU-standin-1", "hsame", "hbus:00000000:82:00.0", "hsame", "hbus1:00000000:81:00.0",
        "index", "huuid:GPU-unknown", "h:7", "h1:1", "errstr:0", "errstr:2", "errstr:6",
        "initflags:99", "shutdown", "shutdown", "shutdown", "count",
    };

    @TempDir
    Path dir;

    Path forwardConfig(String extra) {
        return Native.write(dir.resolve("forward.conf"), """
                [shim]
                mode = forward
                real = %s
                %s
                """.formatted(Native.fakeRealNvml(), extra));
    }

    @Test
    void answersPassThroughUnchanged() {
        Path config = forwardConfig("");
        List<String> direct = Native.cli(Native.fakeRealNvml(), config, SESSION).lines();
        List<String> viaShim = Native.cli(Native.SHIM_X86_64, config, SESSION).lines();
        assertEquals(direct, viaShim);
        // spot checks that the session really exercised the stand-in
        assertTrue(viaShim.contains("0 \"Stand-in GPU 0 (asked for 96 bytes)\""), viaShim.toString());
        assertTrue(viaShim.contains("0 version=0x12345678 total=2000 reserved=305419896 free=1500 used=500"), viaShim.toString());
        assertEquals("999", viaShim.get(List.of(SESSION).indexOf("initflags:99")));
        assertEquals("\"stand-in: invalid argument\"", viaShim.get(List.of(SESSION).indexOf("errstr:2")));
    }

    @Test
    void functionMissingInTheRealLibraryIsFunctionNotFound() {
        Path config = forwardConfig("");
        assertEquals(List.of("0", "0", "13", "13", "0"),
                Native.cli(Native.SHIM_X86_64, config, "init", "h:0", "part:80", "part:0", "shutdown").lines());
        // the stand-in itself does not export it
        Native.Result direct = Native.run(List.of(Native.cli().toString(), Native.fakeRealNvml().toString(), "init", "h:0", "part:80"),
                Map.of(Native.CONFIG_ENV, config.toString()), 60);
        assertTrue(direct.stdout().contains("MISSING-SYMBOL nvmlDeviceGetBoardPartNumber"), direct.stdout());
    }

    @Test
    void beforeInitNothingIsForwarded() {
        Path config = forwardConfig("");
        assertEquals(List.of("1", "1", "\"Uninitialized\""),
                Native.cli(Native.SHIM_X86_64, config, "count", "driver:80", "errstr:1").lines());
    }

    @Test
    void realLibraryCallingItsOwnExportsThroughTheGlobalScopeDoesNotDeadlock() {
        // with the shim loaded RTLD_GLOBAL, the stand-in's nvmlInit -> nvmlInit_v2 call binds to the shim
        Path trace = dir.resolve("trace.log");
        Path config = forwardConfig("trace = " + trace);
        assertEquals(List.of("0", "0 2", "0"),
                Native.cli(Native.SHIM_X86_64, config, Map.of("CLI_GLOBAL", "1"), "init1", "count", "shutdown").lines());
        List<String> calls = new ArrayList<>();
        for (String l : TraceTest.read(trace)) {
            calls.add(TraceTest.normalize(l));
        }
        // the inner nvmlInit_v2 went straight to the real library and is not traced as a call of its own
        assertEquals(List.of(
                "#config(\"" + config + "\") mode=forward devices=0 real=\"" + Native.fakeRealNvml() + "\"",
                "nvmlInit() = 0 NVML_SUCCESS",
                "nvmlDeviceGetCount_v2(deviceCount=PTR) = 0 NVML_SUCCESS -> deviceCount=2",
                "nvmlShutdown() = 0 NVML_SUCCESS"), calls);
    }

    @Test
    void aShutdownTheRealLibraryRefusesLeavesTheShimInitializedToo() {
        // regression: the shim counted the failed shutdown and stopped forwarding while the real library
        // was still initialized; now its count follows the real library's successful calls only
        Path config = forwardConfig("");
        List<String> out = Native.cli(Native.SHIM_X86_64, config, Map.of("STANDIN_FAIL_SHUTDOWNS", "1"),
                "init", "shutdown", "count", "init", "shutdown", "count", "shutdown", "count", "shutdown").lines();
        assertEquals(List.of("0", "999", "0 2", "0", "0", "0 2", "0", "1", "1"), out);
    }

    @Test
    void theShimItselfIsRefusedAsTheRealLibrary() {
        Path config = Native.write(dir.resolve("self.conf"), "[shim]\nmode = forward\nreal = " + Native.SHIM_X86_64 + "\n");
        Native.Result r = Native.cli(Native.SHIM_X86_64, config, "init");
        assertEquals(List.of("12"), r.lines());
        assertEquals("ollama-patch shim: " + config + ":3: the real NVML '" + Native.SHIM_X86_64
                + "' is this shim itself; name the vendor library by its full path\n", r.stderr());
    }
}
