package dev.ollamapatch.shim;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every function in virtual mode, called through dlopen by nvml_cli, against its expected answer. */
class VirtualModeTest {
    static final String CONFIG = """
            # two virtual GPUs
            [shim]
            mode = virtual            # or: forward
            driver_version = 570.86.15
            cuda_driver_version = 12080

            [device.0]
            name = NVIDIA H100 PCIe
            uuid = GPU-3f1c2d4e-0000-4000-8000-000000000001
            pci_bus_id = 00000000:00:05.0
            pci_device_id = 0x233110de
            pci_subsystem_id = 0x16c110de
            memory_total = 85899345920
            memory_used = 1073741824
            compute_capability = 9.0
            serial = 1654922001234
            vbios_version = 96.00.74.00.01
            board_part_number = 900-21010-0000-000
            brand = nvidia

            [device.1]
            name = NVIDIA L4
            uuid = GPU-aaaaaaaa-1111-4000-8000-000000000002
            pci_bus_id = 0000:0A:1f.0
            memory_total = 24152899584
            compute_capability = 8.9
            """;

    @TempDir
    static Path dir;
    static Path config;

    @BeforeAll
    static void writeConfig() {
        config = Native.write(dir.resolve("shim.conf"), CONFIG);
    }

    static List<String> call(String... commands) {
        return Native.cli(Native.SHIM_X86_64, config, commands).lines();
    }

    @Test
    void everyCallBeforeInitIsUninitialized() {
        assertEquals(List.of("1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1"),
                call("count", "count1", "driver:80", "nvmlver:80", "cuda", "cuda2", "h:0", "h1:0",
                        "huuid:GPU-3f1c2d4e-0000-4000-8000-000000000001", "hbus:00000000:00:05.0", "hbus1:0000:00:05.0", "shutdown"));
    }

    @Test
    void systemQueries() {
        assertEquals(List.of("0", "0 \"570.86.15\"", "0 \"12.570.86.15\"", "0 12080", "0 12080", "0 2", "0 2", "0"),
                call("init", "driver:80", "nvmlver:80", "cuda", "cuda2", "count", "count1", "shutdown"));
    }

    @Test
    void deviceZeroInEveryDetail() {
        assertEquals(List.of(
                "0", "0",
                "0 \"NVIDIA H100 PCIe\"",
                "0 \"GPU-3f1c2d4e-0000-4000-8000-000000000001\"",
                "0 busId=\"00000000:00:05.0\" busIdLegacy=\"0000:00:05.0\" domain=0 bus=0 device=5 pciDeviceId=0x233110de pciSubSystemId=0x16c110de",
                "0 busId=\"0000:00:05.0\" domain=0 bus=0 device=5 pciDeviceId=0x233110de pciSubSystemId=0x16c110de reserved=0,0,0,0 tail=untouched",
                "0 busId=\"0000:00:05.0\" domain=0 bus=0 device=5 pciDeviceId=0x233110de pciSubSystemId=0x16c110de reserved=0,0,0,0 tail=untouched",
                "0 0",
                "0 total=85899345920 free=84825604096 used=1073741824",
                "0 version=0x02000028 total=85899345920 reserved=0 free=84825604096 used=1073741824",
                "0 9.0",
                "0 \"1654922001234\"",
                "0 \"96.00.74.00.01\"",
                "0 \"900-21010-0000-000\"",
                "0 14",
                "0"),
                call("init", "h:0", "name:96", "uuid:96", "pci3", "pci2", "pci1", "index", "mem", "mem2", "cc",
                        "serial:30", "vbios:32", "part:80", "brand", "shutdown"));
    }

    @Test
    void deviceOneUsesDefaultsAndNotSupportedForUnsetStrings() {
        assertEquals(List.of(
                "0", "0",
                "0 \"NVIDIA L4\"",
                "0 busId=\"00000000:0A:1F.0\" busIdLegacy=\"0000:0A:1F.0\" domain=0 bus=10 device=31 pciDeviceId=0x00000000 pciSubSystemId=0x00000000",
                "0 1",
                "0 total=24152899584 free=24152899584 used=0",
                "0 8.9",
                "3", "3", "3",
                "0 0"),
                call("init", "h1:1", "name:64", "pci3", "index", "mem", "cc", "serial:30", "vbios:32", "part:80", "brand"));
    }

    @Test
    void lookupsByUuidAndBothBusIdFormsAnyCase() {
        assertEquals(List.of("0",
                        "0", "0 1", "0", "0 1", "0", "0 1", "0", "0 0", "0", "0 0", "0", "0 0",
                        "6", "6", "6", "2", "2"),
                call("init",
                        "huuid:gpu-AAAAAAAA-1111-4000-8000-000000000002", "index",
                        "hbus:00000000:0a:1F.0", "index",
                        "hbus1:0000:0A:1f.0", "index",
                        "hbus:0000:00:05.0", "index",
                        "hbus1:00000000:00:05.0", "index",
                        "hbus:00:05.0", "index",
                        "huuid:GPU-nope", "hbus:00000000:00:06.0", "hbus1:0001:00:05.0",
                        "hbus:not-a-bus-id", "hbus:00000000:00:05.1"));
    }

    @Test
    void shortBuffersGiveInsufficientSize() {
        // "NVIDIA H100 PCIe" is 16 bytes + NUL; "570.86.15" is 9 + NUL
        assertEquals(List.of("0", "7", "0 \"570.86.15\"", "0", "7", "0 \"NVIDIA H100 PCIe\"", "7", "7", "7", "7", "7"),
                call("init", "driver:9", "driver:10", "h:0", "name:16", "name:17", "uuid:40", "serial:13", "vbios:14", "part:18", "nvmlver:0"));
    }

    @Test
    void nullPointersAndBadHandlesGiveInvalidArgument() {
        assertEquals(List.of("0",
                        "2", "2", "2", "2", "2", "2",
                        "0", "2", "2", "2", "2", "2", "2", "2",
                        "ok", "2", "2", "2", "2", "2", "2", "2", "2",
                        "ok", "2", "2",
                        "2", "2"),
                call("init",
                        "null:count", "null:driver", "null:cuda", "null:h", "null:huuid", "null:hbus",
                        "h:0", "null:name", "null:pci3", "null:index", "null:mem", "null:mem2", "null:cc", "null:brand",
                        "hnull", "name:96", "uuid:96", "pci3", "index", "mem", "mem2", "cc", "brand",
                        "hbogus", "name:96", "pci1",
                        "h:2", "h1:99"));
    }

    @Test
    void memoryV2ChecksTheStructVersion() {
        assertEquals(List.of("0", "0", "25", "25", "0 version=0x02000028 total=85899345920 reserved=0 free=84825604096 used=1073741824"),
                call("init", "h:0", "mem2:2", "mem2:01000028", "mem2:02000028"));
    }

    @Test
    void initIsReferenceCounted() {
        assertEquals(List.of("0", "0", "0", "0", "0 2", "0", "0 2", "0", "1", "1", "1"),
                call("init", "init1", "initflags:1", "shutdown", "count", "shutdown", "count", "shutdown", "count", "shutdown", "h:0"));
    }

    @Test
    void handlesAreStableAcrossCallsAndAcrossShutdownAndInit() {
        assertEquals(List.of("0", "0", "ok", "0", "same", "0", "same", "0", "same", "0", "0", "0", "same", "0 \"NVIDIA H100 PCIe\""),
                call("init", "h:0", "hsave", "h1:0", "hsame", "huuid:GPU-3f1c2d4e-0000-4000-8000-000000000001", "hsame",
                        "hbus:00000000:00:05.0", "hsame", "shutdown", "init", "h:0", "hsame", "name:96"));
    }

    @Test
    void errorStrings() {
        assertEquals(List.of("\"Success\"", "\"Uninitialized\"", "\"Invalid Argument\"", "\"Not Found\"",
                        "\"Insufficient Size\"", "\"NVML Shared Library Not Found\"", "\"Function Not Found\"",
                        "\"Argument version mismatch\"", "\"Unknown Error\"", "\"Unknown Error\""),
                call("errstr:0", "errstr:1", "errstr:2", "errstr:6", "errstr:7", "errstr:12", "errstr:13", "errstr:25", "errstr:999", "errstr:12345"));
    }

    @Test
    void configIsReadAgainAfterTheLastShutdown() {
        Path other = Native.write(dir.resolve("other.conf"), """
                [device.0]
                name = Other GPU
                uuid = GPU-other
                memory_total = 1000
                compute_capability = 7.5
                """);
        // a second init only counts; the file is read again on the first init after the last shutdown
        assertEquals(List.of("0", "0 2", "ok", "0", "0 2", "0", "0 2", "0", "0", "0 1", "0", "0 \"Other GPU\""),
                call("init", "count", "setenv:OLLAMA_PATCH_SHIM_CONFIG=" + other, "init", "count", "shutdown", "count",
                        "shutdown", "init", "count", "h:0", "name:96"));
    }

    @Test
    void theExampleConfigLoadsAndItsDriverPassesEveryOllamaCheck() {
        // shim.conf.example as shipped: one device, driver major >= 570 (generation C drops GPUs below 550,
        // or below 570 for compute capability < 7 with CUDA 12.8+ runtimes)
        List<String> out = Native.cli(Native.SHIM_X86_64, Native.MODULE.resolve("shim.conf.example"),
                "init", "driver:80", "cuda", "count", "h:0", "name:96", "mem", "cc", "shutdown").lines();
        assertEquals(List.of("0", "0 \"570.86.15\"", "0 12080", "0 1", "0", "0 \"NVIDIA H100 PCIe\"",
                "0 total=85899345920 free=85899345920 used=0", "0 9.0", "0"), out);
        int major = Integer.parseInt(out.get(1).substring(3, out.get(1).indexOf('.')));
        org.junit.jupiter.api.Assertions.assertTrue(major >= 570, out.get(1));
    }
}
