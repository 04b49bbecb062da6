package dev.ollamapatch.doctor;

import dev.ollamapatch.ollama.Generation;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The pure checks, from facts to one line each. */
class ChecksTest {
    private static ShimAnswer virtual(String driver, ShimAnswer.Device... devices) {
        return new ShimAnswer("/x/nvml.so", "/etc/ollama-patch/shim.conf", true, null, 0, "virtual", null, driver, 12080, List.of(devices), null);
    }

    private static ShimAnswer.Device device(int index, String bus, long pciDeviceId, String cc) {
        return new ShimAnswer.Device(index, "NVIDIA H100 PCIe", "GPU-3f1c2d4e-0000-4000-8000-00000000000" + (index + 1), bus, pciDeviceId,
                85899345920L, 85899345920L, cc);
    }

    private static final PciFunction H100_AT_5 = new PciFunction("0000:00:05.0", 0x10de, 0x2331, 0x030200, 0x10de, 0x1626);
    private static final PciFunction H100_AT_6 = new PciFunction("0000:00:06.0", 0x10de, 0x2331, 0x030200, 0x10de, 0x1626);

    @Test
    void nvmlBusIdNormalisesSysfsAndLegacySpellings() {
        assertEquals("00000000:00:05.0", PciFunction.nvmlBusId("0000:00:05.0"));
        assertEquals("00000000:3B:00.0", PciFunction.nvmlBusId("0000:3b:00.0"));
        assertEquals("00000000:3B:00.0", PciFunction.nvmlBusId("3b:00.0"));
        assertEquals("00000000:3B:00.0", PciFunction.nvmlBusId("00000000:3B:00.0"));
        assertEquals(null, PciFunction.nvmlBusId("not-a-bus-id"));
        assertEquals(0x233110deL, H100_AT_5.nvmlPciDeviceId());
    }

    @Test
    void shimDeviceAtTheSysfsAddressMatches() {
        Check c = Checks.pciMatch(virtual("570.86.15", device(0, "00000000:00:05.0", 0x233110deL, "9.0")), List.of(H100_AT_5), "/etc/x.conf");
        assertEquals(Status.OK, c.status(), c.toString());
    }

    @Test
    void shimDeviceAtAnotherBusIdFailsWithTheLineToWrite() {
        Check c = Checks.pciMatch(virtual("570.86.15", device(0, "00000000:00:05.0", 0x233110deL, "9.0")), List.of(H100_AT_6), "/etc/x.conf");
        assertEquals(Status.FAIL, c.status());
        assertTrue(c.summary().contains("00000000:00:05.0") && c.summary().contains("0000:00:06.0"), c.summary());
        assertEquals("set 'pci_bus_id = 00000000:00:06.0' in [device.0] of /etc/x.conf (sysfs writes it 0000:00:06.0).", c.fix());
    }

    @Test
    void wrongDeviceIdFails() {
        Check c = Checks.pciMatch(virtual("570.86.15", device(0, "00000000:00:05.0", 0x20b510deL, "8.0")), List.of(H100_AT_5), "/etc/x.conf");
        assertEquals(Status.FAIL, c.status());
        assertTrue(c.fix().contains("pci_device_id = 0x233110de"), c.fix());
    }

    @Test
    void twoGpusOneShimDeviceWarnsAboutTheSecond() {
        Check c = Checks.pciMatch(virtual("570.86.15", device(0, "00000000:00:05.0", 0x233110deL, "9.0")), List.of(H100_AT_5, H100_AT_6), "/etc/x.conf");
        assertEquals(Status.WARN, c.status());
        assertTrue(c.summary().contains("0000:00:06.0"), c.summary());
    }

    @Test
    void noNvidiaFunctionFails() {
        Check c = Checks.hostPci(List.of(), List.of(new PciFunction("0000:00:02.0", 0x1234, 0x1111, 0x030000, 0, 0)));
        assertEquals(List.of("0000:00:02.0 1234:1111 class 0x030000"), c.evidence());
        assertEquals(Status.FAIL, c.status());
        assertNotNull(c.fix());
    }

    @Test
    void generationCDropsGpusBelowDriver550() {
        Check c = Checks.ollamaRules(Generation.C, virtual("535.104.05", device(0, "00000000:00:05.0", 0, "9.0")), "/etc/x.conf");
        assertEquals(Status.FAIL, c.status());
        assertTrue(c.summary().contains("driver too old"), c.summary());
        assertEquals(Status.OK, Checks.ollamaRules(Generation.C, virtual("570.86.15", device(0, "x", 0, "9.0")), "c").status());
        assertEquals(Status.WARN, Checks.ollamaRules(Generation.C, virtual("555.42", device(0, "x", 0, "6.1")), "c").status());
        // Generation B does not look at the driver version.
        assertEquals(Status.OK, Checks.ollamaRules(Generation.B, virtual("535.104.05", device(0, "x", 0, "9.0")), "c").status());
    }

    /** Generation C's minimums are ShimDriverConfig's, the table scan and apply report from. */
    @Test
    void generationCMinimumsComeFromTheTableEveryReportUses() {
        Check unreadable = Checks.ollamaRules(Generation.C, virtual("n/a", device(0, "x", 0, "9.0")), "c");
        assertEquals(Status.WARN, unreadable.status(), unreadable.toString());
        assertTrue(unreadable.fix().contains("driver_version = " + dev.ollamapatch.ollama.ShimDriverConfig.BUNDLED_DEFAULT), unreadable.fix());
        // 550-569: kept when every device is compute capability 7 or newer.
        Check newGpu = Checks.ollamaRules(Generation.C, virtual("555.42", device(0, "x", 0, "9.0")), "c");
        assertEquals(Status.OK, newGpu.status(), newGpu.toString());
        assertTrue(newGpu.summary().startsWith("driver 555.42 >= " + dev.ollamapatch.ollama.ShimDriverConfig.GEN_C_MIN_DRIVER), newGpu.summary());
        Check old = Checks.ollamaRules(Generation.C, virtual("549.99", device(0, "x", 0, "9.0")), "c");
        assertEquals(Status.FAIL, old.status());
        assertTrue(old.evidence().get(0).contains("below 550"), old.evidence().toString());
        assertEquals(dev.ollamapatch.ollama.ShimDriverConfig.BUNDLED_DEFAULT, ShimConfigWriter.DRIVER_VERSION);
    }

    /** musl never expands $ORIGIN in a dlopen argument: a failure for everyone; secure execution only for normal users. */
    @Test
    void originNotExpandedFailsUnderMuslAndWarnsUnderSecureExecution() {
        OllamaInstall.PatchedFile file = new OllamaInstall.PatchedFile(Path.of("/opt/ollama/bin/ollama"), "x86_64",
                List.of(new OllamaInstall.WrittenSite(0x1234, 17, false, "$ORIGIN/nvml.so")), "per manifest", null);
        dev.ollamapatch.resolve.Resolution r = new dev.ollamapatch.resolve.Resolution(dev.ollamapatch.resolve.Resolution.How.CALL,
                List.of(Path.of("/opt/ollama/bin")), Path.of("/opt/ollama/bin/ollama"), 0x4000, "`/opt/ollama/bin/ollama` calls dlopen at 0x4000", null);
        Check musl = Checks.siteNotExpanded(file, "$ORIGIN/nvml.so", List.of("0x1234"),
                r.blockedBy("musl (/lib/ld-musl-x86_64.so.1) opens a dlopen argument literally"), true);
        assertEquals(Status.FAIL, musl.status());
        assertTrue(musl.summary().contains("loader does not expand $ORIGIN here (musl"), musl.summary());
        assertTrue(musl.fix().contains("--shim-path /ABSOLUTE/nvml.so /opt/ollama/bin/ollama"), musl.fix());
        Check secure = Checks.siteNotExpanded(file, "$ORIGIN/nvml.so", List.of("0x1234"),
                r.blockedBy("`/opt/ollama/bin/ollama` runs in secure-execution mode for a normal user (set-user-ID)"), false);
        assertEquals(Status.WARN, secure.status());
        assertTrue(secure.fix().contains("chmod u-s,g-s"), secure.fix());
    }

    @Test
    void deviceNodesWithoutUvmFail() {
        Check c = Checks.deviceNodes(Set.of("nvidiactl", "nvidia0"), Set.of("nvidia"));
        assertEquals(Status.FAIL, c.status());
        assertTrue(c.fix().contains("modprobe nvidia-uvm"), c.fix());
        assertEquals(Status.OK, Checks.deviceNodes(Set.of("nvidiactl", "nvidia0", "nvidia-uvm"), Set.of()).status());
        assertTrue(Checks.deviceNodes(Set.of(), Set.of()).summary().contains("not loaded"));
    }

    @Test
    void noAvxFailsOnlyWhereOllamaDisablesTheGpu() {
        assertEquals(Status.FAIL, Checks.cpuFlags(Optional.of(Set.of("sse4_2")), "x86_64", Generation.A).status());
        assertEquals(Status.WARN, Checks.cpuFlags(Optional.of(Set.of("sse4_2")), "x86_64", Generation.C).status());
        assertEquals(Status.OK, Checks.cpuFlags(Optional.of(Set.of("avx", "avx2")), "x86_64", Generation.C).status());
    }

    @Test
    void hamiInterposerInTheUnitFails() {
        OllamaInstall install = new OllamaInstall(Path.of("/usr/local/bin/ollama"), Path.of("/usr/local"), List.of(Path.of("/usr/local/bin/ollama")),
                null, Generation.C, "from version 0.30.0", null, List.of(), List.of());
        Checks.Unit unit = new Checks.Unit("ollama.service", List.of(), "/usr/local/bin/ollama serve",
                Map.of("LD_PRELOAD", "/usr/local/vgpu/libvgpu.so"));
        Check c = Checks.serviceUnit(unit, install, true, List.of(), Map.of());
        assertEquals(Status.FAIL, c.status());
        assertTrue(c.summary().contains("HAMi"), c.summary());
        Checks.Unit other = new Checks.Unit("ollama.service", List.of(), "/usr/bin/ollama serve", Map.of());
        assertEquals(Status.WARN, Checks.serviceUnit(other, install, false, List.of(), Map.of()).status());
        assertEquals("/usr/bin/ollama", Checks.execProgram("-/usr/bin/ollama serve"));
    }

    @Test
    void systemdEnvironmentWordsKeepQuotedSpaces() {
        assertEquals(List.of("A=1", "B=two words", "C=3"), SystemdUnit.words("A=1 \"B=two words\" C=3"));
    }

    @Test
    void tracedConfigPutsTheTraceIntoTheShimSection() {
        String t = DiscoveryRun.tracedConfig("[shim]\nmode = virtual\ntrace = /old\n\n[device.0]\nname = x\n", Path.of("/tmp/t.log"));
        assertEquals("[shim]\nmode = virtual\n\ntrace = /tmp/t.log\n[device.0]\nname = x\n\n", t);
    }

    @Test
    void uuidFromBusIdIsStableAndShapedLikeNvmls() {
        String u = ShimConfigWriter.uuidFor("00000000:00:05.0");
        assertEquals(u, ShimConfigWriter.uuidFor("00000000:00:05.0"));
        assertTrue(u.matches("GPU-[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"), u);
        assertTrue(!u.equals(ShimConfigWriter.uuidFor("00000000:00:06.0")));
    }
}
