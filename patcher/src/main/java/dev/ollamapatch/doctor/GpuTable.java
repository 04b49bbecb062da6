package dev.ollamapatch.doctor;

import java.util.Map;
import java.util.Optional;

/**
 * A small table of NVIDIA datacenter GPUs by PCI device id (vendor 0x10de), names as the public PCI
 * ID repository (pci.ids) lists them, memory and compute capability from NVIDIA's published
 * specifications. A GPU not listed still gets a config entry, with its name and memory to fill in.
 */
final class GpuTable {
    record Gpu(String name, long memoryGiB, String computeCapability) {}

    private static final Map<Integer, Gpu> GPUS = Map.ofEntries(
            Map.entry(0x1db4, new Gpu("Tesla V100-PCIE-16GB", 16, "7.0")),
            Map.entry(0x1db6, new Gpu("Tesla V100-PCIE-32GB", 32, "7.0")),
            Map.entry(0x1eb8, new Gpu("Tesla T4", 16, "7.5")),
            Map.entry(0x20b0, new Gpu("NVIDIA A100-SXM4-40GB", 40, "8.0")),
            Map.entry(0x20b2, new Gpu("NVIDIA A100-SXM4-80GB", 80, "8.0")),
            Map.entry(0x20b5, new Gpu("NVIDIA A100 80GB PCIe", 80, "8.0")),
            Map.entry(0x20f1, new Gpu("NVIDIA A100-PCIE-40GB", 40, "8.0")),
            Map.entry(0x20b7, new Gpu("NVIDIA A30", 24, "8.0")),
            Map.entry(0x2235, new Gpu("NVIDIA A40", 48, "8.6")),
            Map.entry(0x2236, new Gpu("NVIDIA A10", 24, "8.6")),
            Map.entry(0x25b6, new Gpu("NVIDIA A2 / A16", 16, "8.6")),
            Map.entry(0x27b8, new Gpu("NVIDIA L4", 24, "8.9")),
            Map.entry(0x26b5, new Gpu("NVIDIA L40", 48, "8.9")),
            Map.entry(0x26b9, new Gpu("NVIDIA L40S", 48, "8.9")),
            Map.entry(0x2330, new Gpu("NVIDIA H100 80GB HBM3", 80, "9.0")),
            Map.entry(0x2331, new Gpu("NVIDIA H100 PCIe", 80, "9.0")),
            Map.entry(0x2335, new Gpu("NVIDIA H200", 141, "9.0")));

    private GpuTable() {}

    static Optional<Gpu> of(int deviceId) {
        return Optional.ofNullable(GPUS.get(deviceId));
    }
}
