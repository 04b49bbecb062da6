package dev.ollamapatch.doctor;

import dev.ollamapatch.ollama.ShimDriverConfig;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;
import java.util.Locale;

/**
 * {@code shim-config}: a shim config for the NVIDIA GPUs this machine's sysfs shows, so that a user
 * starts from their own bus ids and device ids instead of the example's. Each device gets NVML's bus
 * id spelling, the device id, a name and memory from {@link GpuTable} where it is known, and a UUID
 * derived from the bus id (stable across runs; replace it by CUDA's real UUID for Ollama 0.12.6-0.24).
 */
public final class ShimConfigWriter {
    /** The bundled shim's default: a driver version no Ollama version filters out (the table every report uses). */
    static final String DRIVER_VERSION = ShimDriverConfig.BUNDLED_DEFAULT;
    static final int CUDA_DRIVER_VERSION = 12080;

    public record Result(String text, int devices) {}

    private ShimConfigWriter() {}

    public static Result write(Host host) {
        List<PciFunction> gpus = host.nvidiaGpus();
        StringBuilder b = new StringBuilder();
        b.append("# ollama-patch shim config for this machine, from ").append(host.path("/sys/bus/pci/devices")).append('\n');
        b.append("# Install it as /etc/ollama-patch/shim.conf (or name it in OLLAMA_PATCH_SHIM_CONFIG),\n");
        b.append("# then run 'ollama-patch doctor' to see what the shim and Ollama make of it.\n\n");
        b.append("[shim]\n");
        b.append("mode = virtual\n");
        b.append("# trace = /var/log/ollama-patch/nvml-trace.log   # one line per NVML call while you debug\n");
        b.append("# Ollama 0.30+ drops every GPU whose driver is below ").append(ShimDriverConfig.GEN_C_MIN_DRIVER)
                .append(" (").append(ShimDriverConfig.GEN_C_MIN_DRIVER_OLD_CC).append(" for compute capability < 7);\n");
        b.append("# use the host's real driver version if you know it, never a lower one.\n");
        b.append("driver_version = ").append(DRIVER_VERSION).append('\n');
        b.append("cuda_driver_version = ").append(CUDA_DRIVER_VERSION).append('\n');
        if (gpus.isEmpty()) {
            b.append("\n# No NVIDIA display/3D controller (vendor 0x10de, class 0x03xx) was found in sysfs:\n");
            b.append("# attach the GPU or vGPU to this VM, then run 'ollama-patch shim-config' again.\n");
            return new Result(b.toString(), 0);
        }
        int i = 0;
        for (PciFunction g : gpus) {
            var known = GpuTable.of(g.device());
            b.append('\n').append("[device.").append(i).append("]\n");
            b.append(String.format(Locale.ROOT, "# sysfs %s: PCI id %s, class 0x%06x%s%n", g.address(), g.ids(), g.pciClass(),
                    g.subsystemDevice() >= 0 ? String.format(Locale.ROOT, ", subsystem %04x:%04x", g.subsystemVendor(), g.subsystemDevice()) : ""));
            if (known.isPresent()) {
                b.append("name = ").append(known.get().name()).append('\n');
            } else {
                b.append("# device id 0x").append(String.format(Locale.ROOT, "%04x", g.device()))
                        .append(" is not in ollama-patch's table: put the GPU's marketing name here (nvidia-smi -L on the host).\n");
                b.append("name = NVIDIA GPU ").append(String.format(Locale.ROOT, "%04x", g.device())).append('\n');
            }
            b.append("# Ollama 0.12.6-0.24 matches NVML's memory to CUDA's devices by UUID: if you know the UUID CUDA\n");
            b.append("# reports for this GPU (nvidia-smi -L), use it; this one is derived from the bus id and stable.\n");
            b.append("uuid = ").append(uuidFor(g.nvmlBusId())).append('\n');
            b.append("pci_bus_id = ").append(g.nvmlBusId()).append('\n');
            b.append(String.format(Locale.ROOT, "pci_device_id = 0x%08x%n", g.nvmlPciDeviceId()));
            if (known.isPresent()) {
                b.append("# the full board's memory; for a vGPU profile use the profile's frame buffer (e.g. 24Q: 24 GiB)\n");
                b.append("memory_total = ").append(known.get().memoryGiB() << 30).append('\n');
                b.append("memory_used = 0\n");
                b.append("compute_capability = ").append(known.get().computeCapability()).append('\n');
            } else {
                // The shim requires both keys; placeholders keep the file loadable, and the doctor fails
                // where this Ollama's generation reads them from NVML until they are replaced.
                b.append("# PLACEHOLDERS, not in the table: replace both before use ('ollama-patch doctor' says which\n");
                b.append("# Ollama versions read them from NVML). memory_total: bytes of the GPU's or vGPU profile's\n");
                b.append("# frame buffer; compute_capability: MAJOR.MINOR from developer.nvidia.com/cuda-gpus.\n");
                b.append("memory_total = 0\n");
                b.append("memory_used = 0\n");
                b.append("compute_capability = 0.0\n");
            }
            i++;
        }
        return new Result(b.toString(), gpus.size());
    }

    /** {@code GPU-xxxxxxxx-xxxx-8xxx-yxxx-xxxxxxxxxxxx}: SHA-256 of the bus id, shaped as an RFC 9562 version-8 UUID. */
    static String uuidFor(String nvmlBusId) {
        byte[] h;
        try {
            h = MessageDigest.getInstance("SHA-256").digest(("ollama-patch shim uuid " + nvmlBusId).getBytes(StandardCharsets.US_ASCII));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        h[6] = (byte) ((h[6] & 0x0f) | 0x80);  // version 8 (custom)
        h[8] = (byte) ((h[8] & 0x3f) | 0x80);  // variant 10
        StringBuilder s = new StringBuilder("GPU-");
        for (int i = 0; i < 16; i++) {
            if (i == 4 || i == 6 || i == 8 || i == 10) s.append('-');
            s.append(String.format(Locale.ROOT, "%02x", h[i]));
        }
        return s.toString();
    }
}
