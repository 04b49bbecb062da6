package dev.ollamapatch.shim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The trace log: one line per call with arguments, result code and name, and outputs. */
class TraceTest {
    /** "<seconds>.<micros> pid=<pid> tid=<tid> <call>" */
    static final Pattern PREFIX = Pattern.compile("^\\d+\\.\\d{6} pid=\\d+ tid=\\d+ ");

    static List<String> read(Path trace) {
        try {
            return Files.readAllLines(trace);
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    /** Drops the time/pid/tid prefix (which must be there) and replaces pointer values by PTR. */
    static String normalize(String line) {
        var m = PREFIX.matcher(line);
        assertTrue(m.find(), "no time/pid/tid prefix: " + line);
        return line.substring(m.end()).replaceAll("0x[0-9a-f]{9,}", "PTR");
    }

    @TempDir
    Path dir;

    @Test
    void everyCallIsOneLineWithArgumentsResultAndOutputs() {
        Path trace = dir.resolve("logs/trace.log");
        Path config = Native.write(dir.resolve("shim.conf"), """
                [shim]
                trace = %s
                [device.0]
                name = Traced "GPU"
                uuid = GPU-t
                pci_bus_id = 0000:00:05.0
                pci_device_id = 0x233110de
                memory_total = 2048
                memory_used = 48
                compute_capability = 8.6
                """.formatted(trace));
        Native.write(trace, "existing line\n");  // appended to, never truncated
        Native.cli(Native.SHIM_X86_64, config, "init", "driver:80", "count", "h:0", "name:96", "name:4", "uuid:96",
                "pci3", "mem", "mem2", "cc", "brand", "serial:30", "huuid:GPU-none", "hbus:00000000:00:05.0", "errstr:7",
                "hnull", "index", "shutdown", "count");
        List<String> lines = read(trace);
        assertEquals("existing line", lines.get(0));
        List<String> got = lines.subList(1, lines.size()).stream().map(TraceTest::normalize).toList();
        assertEquals(List.of(
                "#config(\"" + config + "\") mode=virtual devices=1",
                "nvmlInit_v2() = 0 NVML_SUCCESS",
                "nvmlSystemGetDriverVersion(version=PTR, length=80) = 0 NVML_SUCCESS -> version=\"570.86.15\"",
                "nvmlDeviceGetCount_v2(deviceCount=PTR) = 0 NVML_SUCCESS -> deviceCount=1",
                "nvmlDeviceGetHandleByIndex_v2(index=0, device=PTR) = 0 NVML_SUCCESS -> device=PTR",
                "nvmlDeviceGetName(device=PTR, name=PTR, length=96) = 0 NVML_SUCCESS -> name=\"Traced \\\"GPU\\\"\"",
                "nvmlDeviceGetName(device=PTR, name=PTR, length=4) = 7 NVML_ERROR_INSUFFICIENT_SIZE",
                "nvmlDeviceGetUUID(device=PTR, uuid=PTR, length=96) = 0 NVML_SUCCESS -> uuid=\"GPU-t\"",
                "nvmlDeviceGetPciInfo_v3(device=PTR, pci=PTR) = 0 NVML_SUCCESS -> busId=\"00000000:00:05.0\" busIdLegacy=\"0000:00:05.0\""
                        + " domain=0x0 bus=0x0 device=0x5 pciDeviceId=0x233110de pciSubSystemId=0x00000000",
                "nvmlDeviceGetMemoryInfo(device=PTR, memory=PTR) = 0 NVML_SUCCESS -> total=2048 free=2000 used=48",
                "nvmlDeviceGetMemoryInfo_v2(device=PTR, memory=PTR {version=0x02000028}) = 0 NVML_SUCCESS"
                        + " -> version=0x02000028 total=2048 reserved=0 free=2000 used=48",
                "nvmlDeviceGetCudaComputeCapability(device=PTR, major=PTR, minor=PTR) = 0 NVML_SUCCESS -> major=8 minor=6",
                "nvmlDeviceGetBrand(device=PTR, type=PTR) = 0 NVML_SUCCESS -> type=0",
                "nvmlDeviceGetSerial(device=PTR, serial=PTR, length=30) = 3 NVML_ERROR_NOT_SUPPORTED",
                "nvmlDeviceGetHandleByUUID(uuid=\"GPU-none\", device=PTR) = 6 NVML_ERROR_NOT_FOUND",
                "nvmlDeviceGetHandleByPciBusId_v2(pciBusId=\"00000000:00:05.0\", device=PTR) = 0 NVML_SUCCESS -> device=PTR",
                "nvmlErrorString(result=7) = \"Insufficient Size\"",
                "nvmlDeviceGetIndex(device=(nil), index=PTR) = 2 NVML_ERROR_INVALID_ARGUMENT",
                "nvmlShutdown() = 0 NVML_SUCCESS",
                "nvmlDeviceGetCount_v2(deviceCount=PTR) = 1 NVML_ERROR_UNINITIALIZED"), got);
    }

    @Test
    void aLaterConfigWithoutTraceEndsTheTrace() {
        // regression: the trace file stayed open and kept growing after a config without 'trace' was loaded
        Path trace = dir.resolve("reset.log");
        Path traced = Native.write(dir.resolve("traced.conf"), "[shim]\ntrace = " + trace + "\n" + BadConfigTest.DEVICE0);
        Path plain = Native.write(dir.resolve("plain.conf"), BadConfigTest.DEVICE0);
        Native.cli(Native.SHIM_X86_64, traced, "init", "count", "shutdown",
                "setenv:OLLAMA_PATCH_SHIM_CONFIG=" + plain, "init", "count", "driver:80", "shutdown", "count");
        List<String> got = read(trace).stream().map(TraceTest::normalize).toList();
        assertEquals(List.of(
                "#config(\"" + traced + "\") mode=virtual devices=1",
                "nvmlInit_v2() = 0 NVML_SUCCESS",
                "nvmlDeviceGetCount_v2(deviceCount=PTR) = 0 NVML_SUCCESS -> deviceCount=1",
                "nvmlShutdown() = 0 NVML_SUCCESS"), got);
    }
}
