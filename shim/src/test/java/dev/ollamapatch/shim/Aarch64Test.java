package dev.ollamapatch.shim;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The aarch64 shim, loaded by an aarch64 build of nvml_cli under qemu-aarch64: virtual mode smoke test. */
class Aarch64Test {
    @TempDir
    Path dir;

    static Path cli() {
        return Native.build("nvml_cli.aarch64", "aarch64-linux-gnu-gcc", "-O1", "-Wall", "-Wextra", "-Werror",
                Native.TEST_C.resolve("nvml_cli.c").toString(), "-ldl");
    }

    @Test
    void virtualModeAnswersLikeTheX86Build() {
        Path config = Native.write(dir.resolve("shim.conf"), VirtualModeTest.CONFIG);
        Path cli = cli();
        String[] session = {"count", "init", "driver:80", "cuda", "count", "h:0", "name:96", "uuid:96", "pci3", "pci2",
            "mem", "mem2", "cc", "brand", "hbus:0000:0a:1f.0", "index", "huuid:GPU-nope", "name:3", "null:mem",
            "hsave", "shutdown", "init", "h:1", "hsame", "shutdown", "shutdown"};
        List<String> cmd = new java.util.ArrayList<>(List.of("qemu-aarch64", "-L", "/usr/aarch64-linux-gnu",
                cli.toString(), Native.SHIM_AARCH64.toString()));
        cmd.addAll(List.of(session));
        Native.Result r = Native.run(cmd, Map.of(Native.CONFIG_ENV, config.toString()), 120);
        assertEquals(0, r.exitCode(), r.stdout() + r.stderr());
        assertEquals(List.of("1", "0", "0 \"570.86.15\"", "0 12080", "0 2", "0", "0 \"NVIDIA H100 PCIe\"",
                "0 \"GPU-3f1c2d4e-0000-4000-8000-000000000001\"",
                "0 busId=\"00000000:00:05.0\" busIdLegacy=\"0000:00:05.0\" domain=0 bus=0 device=5 pciDeviceId=0x233110de pciSubSystemId=0x16c110de",
                "0 busId=\"0000:00:05.0\" domain=0 bus=0 device=5 pciDeviceId=0x233110de pciSubSystemId=0x16c110de reserved=0,0,0,0 tail=untouched",
                "0 total=85899345920 free=84825604096 used=1073741824",
                "0 version=0x02000028 total=85899345920 reserved=0 free=84825604096 used=1073741824",
                "0 9.0", "0 14", "0", "0 1", "6", "7", "2", "ok", "0", "0", "0", "same", "0", "1"), r.lines());
        assertEquals(Native.cli(Native.SHIM_X86_64, config, session).lines(), r.lines(), "same answers as x86_64");
    }
}
