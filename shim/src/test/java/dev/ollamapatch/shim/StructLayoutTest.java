package dev.ollamapatch.shim;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Struct layouts byte by byte: src/test/c/layout_test.c checks sizeof/offsetof of the shim's
 * declarations against NVML's published layout and compares the raw bytes the shim writes with
 * bytes written out by hand for this config. Run natively and, for the aarch64 build, under qemu.
 */
class StructLayoutTest {
    static final String CONFIG = """
            [device.0]
            name = Layout GPU
            uuid = GPU-layout
            pci_bus_id = 0000ABCD:8a:1f.0
            pci_device_id = 0x233110de
            pci_subsystem_id = 0x16c110de
            memory_total = 0x0000001400000000
            memory_used = 0x0000000012345678
            compute_capability = 9.0
            """;

    @TempDir
    Path dir;

    @Test
    void x86_64() {
        Path config = Native.write(dir.resolve("layout.conf"), CONFIG);
        Path test = Native.build("layout_test", "gcc", "-Wall", "-Wextra", "-Werror", "-I" + Native.SRC,
                Native.TEST_C.resolve("layout_test.c").toString(), "-ldl");
        Native.Result r = Native.run(List.of(test.toString(), Native.SHIM_X86_64.toString()), Map.of(Native.CONFIG_ENV, config.toString()), 60);
        assertEquals("OK: 38 checks, 0 failures\n", r.stdout(), r.stderr());
        assertEquals(0, r.exitCode());
    }

    @Test
    void aarch64UnderQemu() {
        Path config = Native.write(dir.resolve("layout.conf"), CONFIG);
        Path test = Native.build("layout_test.aarch64", "aarch64-linux-gnu-gcc", "-Wall", "-Wextra", "-Werror", "-I" + Native.SRC,
                Native.TEST_C.resolve("layout_test.c").toString(), "-ldl");
        Native.Result r = Native.run(List.of("qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", test.toString(), Native.SHIM_AARCH64.toString()),
                Map.of(Native.CONFIG_ENV, config.toString()), 120);
        assertEquals("OK: 38 checks, 0 failures\n", r.stdout(), r.stderr());
        assertEquals(0, r.exitCode());
    }
}
